"""Dropout layers: zero activations at random in training, the identity in evaluation."""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1-p)
    (inverted dropout, Srivastava et al., 2014); in ``eval()`` mode, the identity.

    The mask is drawn with ``ember.rand``, so ``ember.manual_seed`` makes it reproducible.

    Args:
        p: the probability of zeroing an element. Default: 0.5.
        inplace: accepted for PyTorch compatibility (a new tensor is returned).

    >>> import ember
    >>> drop = Dropout(0.5).eval()
    >>> drop(ember.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    _fn = staticmethod(F.dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Zeroes whole channels of (N, C, L) input (each with probability p)."""

    _fn = staticmethod(F.dropout1d)


class Dropout2d(Dropout):
    """Zeroes whole channels of (N, C, H, W) input (each with probability p)."""

    _fn = staticmethod(F.dropout2d)


class Dropout3d(Dropout):
    """Zeroes whole channels of (N, C, D, H, W) input (each with probability p)."""

    _fn = staticmethod(F.dropout3d)
