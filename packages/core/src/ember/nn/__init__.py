"""Neural-network building blocks: Module, Parameter, containers, layers, init and functional (F)."""

from . import functional, init  # noqa: F401
from . import functional as F  # noqa: F401
from .containers import ModuleDict, ModuleList, ParameterList, Sequential  # noqa: F401
from .layers import *  # noqa: F401,F403
from .attention import KVCache  # noqa: F401
from .module import Module  # noqa: F401
from .parameter import Buffer, Parameter  # noqa: F401
from . import utils  # noqa: F401


def layer_registry() -> dict:
    """Every layer class registered through the ``ember_register_layers`` hook, by name."""
    from .. import plugins

    return {name: entry.obj for name, entry in plugins.registry("layers").items()}
