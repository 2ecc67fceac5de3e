"""The op spec table, one module per op family. Importing this package fills ``SPECS``."""

from . import arithmetic  # noqa: F401
from . import unary  # noqa: F401
from . import activation  # noqa: F401
from . import compare  # noqa: F401
from . import softmax  # noqa: F401
