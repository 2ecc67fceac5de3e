"""The op spec table, one module per op family. Importing this package fills ``SPECS``."""

from . import arithmetic  # noqa: F401
