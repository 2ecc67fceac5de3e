"""Every tensor operation, written once as a function over the backend's array namespace.

Primitives are :class:`~ember.autograd.Function` subclasses in these modules; everything
else is composed from them. Most functions are also Tensor methods (``x.sum(1)``); the
names in ``METHODS`` are attached to :class:`~ember.Tensor` at import time.
"""

from . import indexing
from .activation import *  # noqa: F401,F403
from .arithmetic import *  # noqa: F401,F403
from .compare import *  # noqa: F401,F403
from .conversion import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .join import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .softmax import *  # noqa: F401,F403
from .unary import *  # noqa: F401,F403

METHODS = [
    # arithmetic and elementwise math
    "add", "sub", "mul", "div", "pow", "neg", "square", "abs", "exp", "log", "log1p", "expm1", "sqrt",
    "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "silu", "softplus", "clamp", "clip",
    "maximum", "minimum", "sign", "floor", "ceil", "round", "reciprocal", "erf", "relu6", "leaky_relu", "elu",
    "hardtanh",
    # reductions
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "prod", "logsumexp",
    "cumsum", "norm", "all", "any",
    # linear algebra
    "matmul",
    # shape
    "reshape", "view", "view_as", "reshape_as", "transpose", "permute", "flatten", "unflatten", "unsqueeze",
    "squeeze", "expand", "expand_as", "broadcast_to", "flip", "roll", "tril", "triu", "repeat", "narrow",
    "movedim", "swapaxes", "swapdims", "unbind", "scatter",
    # indexing and joining
    "gather", "scatter_add", "index_select", "masked_fill", "take_along_dim", "split", "chunk",
    # softmax
    "softmax", "log_softmax",
    # comparison and logic
    "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and", "logical_or", "logical_xor", "isnan",
    "isinf", "isfinite", "isclose", "allclose", "equal", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not",
]
