"""Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p).

The mask comes from ``ember.rand`` (so ``ember.manual_seed`` makes it reproducible);
evaluation (``training=False``) is the identity.
"""

from __future__ import annotations

from ...autograd.function import Function
from ...tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "dropout_mask"]


class MaskedScale(Function):
    """y = x * mask, mask already holding 0 or 1/(1-p)."""

    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, grad):
        return grad * self.mask


def dropout_mask(shape, p: float, dtype, device):
    """A backend array of ``shape``: 0 with probability p, else 1/(1-p)."""
    from ...random import rand

    u = rand(*shape, dtype=dtype, device=device)._data
    keep = u >= p
    return keep.astype(u.dtype) * (1.0 / (1.0 - p)) if p < 1 else keep.astype(u.dtype)


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, got {p}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the others by 1/(1-p), so the
    expected value is unchanged; the identity when ``training`` is False or p is 0.

    Args:
        input: any shape, floating.
        p: the probability of dropping an element.
        training: apply dropout (False gives the input back).
        inplace: accepted for PyTorch compatibility; a new tensor is returned.

    >>> import ember
    >>> _ = ember.manual_seed(0)
    >>> y = dropout(ember.ones(1000), 0.5)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    """
    _check_p(p)
    if not training or p == 0.0:
        return input
    mask = dropout_mask(input.shape, p, input.dtype, input.device)
    return MaskedScale.apply(input, mask=mask)


def _feature_dropout(input: Tensor, p: float, training: bool, spatial: int, name: str) -> Tensor:
    _check_p(p)
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(f"{name}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D input, "
                         f"got shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape[: input.ndim - spatial]) + (1,) * spatial
    return MaskedScale.apply(input, mask=dropout_mask(shape, p, input.dtype, input.device))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Drop whole channels of (N, C, L) or (C, L) input."""
    return _feature_dropout(input, p, training, 1, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Drop whole channels of (N, C, H, W) or (C, H, W) input."""
    return _feature_dropout(input, p, training, 2, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Drop whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    return _feature_dropout(input, p, training, 3, "dropout3d")
