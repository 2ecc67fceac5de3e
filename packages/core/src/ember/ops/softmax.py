"""softmax and log_softmax as fused primitives, and one_hot.

Both subtract the maximum along ``dim`` before exponentiating, so they are finite for any
finite input (a row of 1e4s in float32 included), and both save only their output: the
backward of softmax is ``y * (g - sum(g * y))`` and that of log_softmax ``g - e^y * sum(g)``.
float16 and bfloat16 inputs are computed in float32 and rounded once.

A backend may replace either direction with a fused kernel, looked up by name in
``backend.kernels``: ``"softmax"(x, axis) -> y``, ``"softmax_backward"(grad, y, axis) -> dx``,
``"log_softmax"(x, axis) -> y`` and ``"log_softmax_backward"(grad, y, axis) -> dx``.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from ._operands import floating

__all__ = ["softmax", "log_softmax", "one_hot"]


def _upcast(a):
    return a.astype(np.float32) if a.dtype.itemsize < 4 else a


class Softmax(Function):
    def forward(self, a, axis):
        self.axis = axis
        kernel = self.backend.kernels.get("softmax")
        if kernel is not None:
            out = kernel(a, axis)
        else:
            x = _upcast(a)
            out = x - x.max(axis=axis, keepdims=True)
            if not out.ndim:
                out = self.xp.asarray(out)
            self.xp.exp(out, out=out)
            out /= out.sum(axis=axis, keepdims=True)
            if out.dtype != a.dtype:
                out = out.astype(a.dtype)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (y,) = self.saved
        kernel = self.backend.kernels.get("softmax_backward")
        if kernel is not None:
            return kernel(grad, y, self.axis)
        g, yf = _upcast(grad), _upcast(y)
        t = g * yf
        if not t.ndim:
            t = self.xp.asarray(t)
        s = t.sum(axis=self.axis, keepdims=True)
        self.xp.subtract(g, s, out=t)
        t *= yf
        return t


class LogSoftmax(Function):
    def forward(self, a, axis):
        self.axis = axis
        kernel = self.backend.kernels.get("log_softmax")
        if kernel is not None:
            out = kernel(a, axis)
        else:
            xp = self.xp
            x = _upcast(a)
            out = x - x.max(axis=axis, keepdims=True)
            out -= xp.log(xp.exp(out).sum(axis=axis, keepdims=True))
            if out.dtype != a.dtype:
                out = out.astype(a.dtype)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (y,) = self.saved
        kernel = self.backend.kernels.get("log_softmax_backward")
        if kernel is not None:
            return kernel(grad, y, self.axis)
        xp = self.xp
        g = _upcast(grad)
        t = xp.exp(_upcast(y))
        if not t.ndim:
            t = xp.asarray(t)
        t *= g.sum(axis=self.axis, keepdims=True)
        return xp.subtract(g, t, out=t)


class OneHot(Function):
    differentiable = False

    def forward(self, a, num_classes):
        xp = self.xp
        out = xp.zeros((a.size, num_classes), dtype=np.int64)
        out[xp.arange(a.size), a.reshape(-1)] = 1
        return out.reshape(*a.shape, num_classes)


def _axis(input: Tensor, dim, name: str):
    """``dim`` checked against ``input``'s rank; None for a 0-d tensor (its one element)."""
    if dim is None:
        raise TypeError(f"{name}: dim is required (the dimension whose entries sum to one), "
                        f"e.g. {name}(x, dim=-1)")
    ndim = input._data.ndim
    bound = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or not -bound <= dim < bound:
        raise IndexError(f"{name}: dim {dim!r} is out of range for a tensor of {ndim} dimensions "
                         f"(expected an int in [{-bound}, {bound - 1}])")
    return int(dim) % ndim if ndim else None


def softmax(input, dim, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``: each slice along ``dim`` becomes a distribution.

    Computed as ``exp(x - max x) / sum(exp(x - max x))``, so it is finite for any finite input.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).
        dim: the dimension to normalize over.
        dtype: cast the input to this dtype first (e.g. float32 for a float16 input).

    >>> import ember
    >>> ember.softmax(ember.tensor([[1.0, 1.0], [0.0, 1e4]]), dim=1).tolist()
    [[0.5, 0.5], [0.0, 1.0]]
    """
    if dtype is not None:
        input = input.to(dtype)
    return Softmax.apply(floating(input), axis=_axis(input, dim, "softmax"))


def log_softmax(input, dim, dtype=None):
    """``x - log(sum(exp(x)))`` along ``dim``: log-probabilities, computed stably.

    Computed as ``(x - max x) - log(sum(exp(x - max x)))``: finite for any finite input, and more
    accurate than ``log(softmax(x))`` where probabilities are tiny.

    Args:
        input: a tensor (integer tensors are cast to the default float dtype).
        dim: the dimension to normalize over.
        dtype: cast the input to this dtype first.

    >>> import ember
    >>> ember.log_softmax(ember.tensor([0.0, 1e4]), dim=0).tolist()
    [-10000.0, 0.0]
    """
    if dtype is not None:
        input = input.to(dtype)
    return LogSoftmax.apply(floating(input), axis=_axis(input, dim, "log_softmax"))


def one_hot(tensor, num_classes: int = -1):
    """An int64 tensor of shape ``(*tensor.shape, num_classes)`` with a 1 at each index.

    Args:
        tensor: an integer tensor of class indices in ``[0, num_classes)``.
        num_classes: the number of classes; -1 takes ``tensor.max() + 1``.

    >>> import ember
    >>> ember.one_hot(ember.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    if not isinstance(tensor, Tensor) or tensor._data.dtype.kind not in "iu":
        what = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got {what}")
    data = tensor._data
    num_classes = int(num_classes)
    if data.size:
        low, high = int(data.min()), int(data.max())
        if low < 0:
            raise ValueError(f"one_hot: class indices must be non-negative, got {low}")
        if num_classes == -1:
            num_classes = high + 1
        elif high >= num_classes:
            raise ValueError(f"one_hot: class index {high} is out of range for num_classes={num_classes}")
    elif num_classes == -1:
        raise ValueError("one_hot: can't infer num_classes from an empty tensor; pass num_classes")
    if num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    return OneHot.apply(tensor, num_classes=num_classes)
