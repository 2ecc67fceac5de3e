"""Linear maps and shape plumbing: Identity, Linear, Flatten, Unflatten."""

from __future__ import annotations

import math

from .. import creation as _creation
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear", "Flatten", "Unflatten"]


class Identity(Module):
    """Returns its input unchanged (accepts and ignores any constructor arguments).

    >>> import ember
    >>> Identity(54, unused="x")(ember.ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """y = x W^T + b.

    W is (out_features, in_features) and starts as U(-1/sqrt(in_features), 1/sqrt(in_features))
    (PyTorch's ``kaiming_uniform_(a=sqrt(5))``); so does b.

    Args:
        in_features: the size of each input's last dimension.
        out_features: the size of each output's last dimension.
        bias: learn an additive bias. Default: True.
        device, dtype: where and how the parameters are created.

    Shape:
        input (*, in_features) -> output (*, out_features).

    >>> import ember
    >>> layer = Linear(3, 2)
    >>> layer(ember.ones(4, 3)).shape
    (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_creation.empty(out_features, in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(_creation.empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flattens dimensions ``start_dim`` .. ``end_dim`` into one.

    Args:
        start_dim: the first dimension to flatten. Default: 1 (keeps the batch).
        end_dim: the last dimension to flatten. Default: -1.

    >>> import ember
    >>> Flatten()(ember.ones(2, 3, 4)).shape
    (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dimension ``dim`` into ``unflattened_size``.

    Args:
        dim: the dimension to expand.
        unflattened_size: the new sizes (their product is the old size; one may be -1).

    >>> import ember
    >>> Unflatten(1, (3, 4))(ember.ones(2, 12)).shape
    (2, 3, 4)
    """

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
