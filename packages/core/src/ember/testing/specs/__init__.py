"""The op spec table, one module per op family. Importing this package fills ``SPECS``."""

from . import arithmetic  # noqa: F401
from . import reduction  # noqa: F401
from . import shape  # noqa: F401
from . import indexing  # noqa: F401
from . import join  # noqa: F401
from . import linalg  # noqa: F401
from . import unary  # noqa: F401
from . import activation  # noqa: F401
from . import compare  # noqa: F401
from . import softmax  # noqa: F401
