"""Reductions: sum, mean, var, std, max, min, amax, amin, argmax, argmin, prod, logsumexp,
cumsum, norm, all, any.

``dim`` is an int, a tuple of ints, or None (every dimension); ``keepdim=True`` keeps the
reduced dimensions with size 1. Each backward expands the incoming gradient back over the
reduced dimensions.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..autograd.function import Function
from ..tensor import Tensor
from ._operands import floating
from .shape import normalize_dim, normalize_dims

__all__ = ["sum", "mean", "var", "std", "var_mean", "std_mean", "max", "min", "amax", "amin", "argmax",
           "argmin", "prod", "logsumexp", "cumsum", "norm", "all", "any"]


#: What ``max(x, dim)`` / ``min(x, dim)`` return, like ``torch.return_types.max``.
max_return = namedtuple("max", ["values", "indices"])
min_return = namedtuple("min", ["values", "indices"])


def _count(shape, axes) -> int:
    if axes is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in axes)


def _kshape(shape, axes):
    """``shape`` with the reduced ``axes`` set to 1 (all of them when ``axes`` is None)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _keepdim_grad(grad, shape, axes, keepdims):
    """The gradient (or output) with the reduced dimensions of an input of ``shape`` put back as size 1."""
    if keepdims:
        return grad
    return grad.reshape(_kshape(shape, axes))


def _expanded(xp, grad, axes, keepdims, shape):
    """The gradient of a reduction expanded (materialised, writable) to the input ``shape``."""
    out = xp.empty(shape, grad.dtype)
    out[...] = _keepdim_grad(grad, shape, axes, keepdims)
    return out


def _array(xp, value):
    # NumPy returns scalars (not 0-d arrays) from full reductions; tensors hold arrays.
    return value if isinstance(value, xp.ndarray) else xp.asarray(value)


# -- primitives -----------------------------------------------------------------------------

class Sum(Function):
    def forward(self, a, axes, keepdims, dtype):
        self.axes, self.keepdims = axes, keepdims
        return _array(self.xp, a.sum(axis=axes, keepdims=keepdims, dtype=dtype))

    def backward(self, grad):
        return _expanded(self.xp, grad, self.axes, self.keepdims, self.in_meta[0][0])


class Mean(Function):
    def forward(self, a, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims
        n = _count(a.shape, axes)
        if a.dtype.itemsize < 4:  # accumulate half precision in float32, as NumPy's mean does
            total = a.sum(axis=axes, keepdims=keepdims, dtype=np.float32)
            return _array(self.xp, (total / n if n else total * np.nan).astype(a.dtype))
        total = a.sum(axis=axes, keepdims=keepdims)
        with np.errstate(invalid="ignore", divide="ignore"):
            return _array(self.xp, total / n if n else total * np.nan)

    def backward(self, grad):
        shape = self.in_meta[0][0]
        n = _count(shape, self.axes)
        return _expanded(self.xp, grad * (1.0 / n) if n else grad, self.axes, self.keepdims, shape)


class Var(Function):
    """var = sum((x - mean)^2) / (N - correction);  d var/dx = 2 (x - mean) / (N - correction).
    std = sqrt(var);  d std/dx = (x - mean) / ((N - correction) std)."""

    def forward(self, a, axes, keepdims, correction, take_sqrt):
        xp = self.xp
        self.axes, self.keepdims, self.take_sqrt = axes, keepdims, take_sqrt
        n = _count(a.shape, axes)
        dof = n - correction
        self.scale = 1.0 / dof if dof > 0 else math.inf
        centered = a - a.mean(axis=axes, keepdims=True)
        self.centered = centered
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (centered * centered).sum(axis=axes, keepdims=keepdims) * self.scale
            if take_sqrt:
                out = xp.sqrt(out)
        out = _array(xp, out.astype(a.dtype, copy=False))
        self.out = out
        return out

    def backward(self, grad):
        shape = self.in_meta[0][0]
        g = _keepdim_grad(grad, shape, self.axes, self.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.take_sqrt:  # NOTE: where std == 0 the gradient is taken as 0, as PyTorch does
                out = _keepdim_grad(self.out, shape, self.axes, self.keepdims)
                g = self.xp.where(out == 0, self.xp.zeros((), out.dtype), g * self.scale / out)
            else:
                g = g * (2.0 * self.scale)
            return self.centered * g


class MaxMin(Function):
    """amax/amin: the gradient is split evenly among the elements equal to the extremum."""

    def forward(self, a, axes, keepdims, is_max):
        self.axes, self.keepdims = axes, keepdims
        out = a.max(axis=axes, keepdims=keepdims) if is_max else a.min(axis=axes, keepdims=keepdims)
        out = _array(self.xp, out)
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        xp = self.xp
        a, out = self.saved
        out = _keepdim_grad(out, a.shape, self.axes, self.keepdims)
        mask = a == out
        count = mask.sum(axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # count is 0 only where the extremum is NaN
            g = _keepdim_grad(grad, a.shape, self.axes, self.keepdims) / count.astype(a.dtype)
        return xp.where(mask, g, xp.zeros((), a.dtype))


class AMax(MaxMin):
    pass


class AMin(MaxMin):
    pass


class Std(Var):
    pass


class MaxMinDim(Function):
    """The values of ``max(x, dim)`` / ``min(x, dim)``; the gradient goes to ``index`` (one per slice)."""

    def forward(self, a, index, axis, keepdims, is_max):
        self.index, self.axis, self.keepdims = index, axis, keepdims
        if index is None:  # a 0-d input
            return a.copy()
        return a.max(axis=axis, keepdims=keepdims) if is_max else a.min(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        xp = self.xp
        if self.index is None:
            return grad
        shape, dtype = self.in_meta[0]
        g = xp.zeros(shape, dtype)
        if not self.keepdims:
            grad = grad.reshape(self.index.shape)
        xp.put_along_axis(g, self.index, grad, axis=self.axis)
        return g


class ArgMaxMin(Function):
    differentiable = False

    def forward(self, a, axis, keepdims, is_max):
        xp = self.xp
        out = xp.argmax(a, axis=axis, keepdims=keepdims) if is_max else xp.argmin(a, axis=axis, keepdims=keepdims)
        return _array(xp, out).astype(np.int64, copy=False)


class Prod(Function):
    """d prod(x)/dx_i = prod_{j != i} x_j, computed as (exclusive cumprod from the left) *
    (exclusive cumprod from the right), which stays exact when some x_j are zero."""

    def forward(self, a, axis, keepdims, dtype):
        self.axis, self.keepdims = axis, keepdims
        self.save_for_backward(a)
        return _array(self.xp, a.prod(axis=axis, keepdims=keepdims, dtype=dtype))

    def backward(self, grad):
        xp = self.xp
        (a,) = self.saved
        shape = a.shape
        axis = self.axis
        if axis is None:
            a = a.reshape(-1)
            axis = 0
        if self.axis is None:
            g = grad.reshape((1,))
        else:
            g = _keepdim_grad(grad, shape, (self.axis,), self.keepdims)
        left = _exclusive_cumprod(xp, a, axis)
        right = xp.flip(_exclusive_cumprod(xp, xp.flip(a, axis), axis), axis)
        return (left * right * g).reshape(shape)


def _exclusive_cumprod(xp, a, axis):
    """``[1, a0, a0*a1, ...]`` along ``axis``: the product of everything before each element."""
    head = (slice(None),) * axis
    ones = xp.ones_like(a[head + (slice(0, 1),)])
    return xp.concatenate((ones, xp.cumprod(a[head + (slice(0, a.shape[axis] - 1),)], axis=axis)), axis=axis)


class LogSumExp(Function):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m = max(x);  d/dx = softmax(x)."""

    def forward(self, a, axes, keepdims):
        xp = self.xp
        self.axes, self.keepdims = axes, keepdims
        m = a.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, xp.zeros((), m.dtype))  # rows of -inf (or inf) stay exact
        e = xp.exp(a - m)
        s = e.sum(axis=axes, keepdims=True)
        self.e, self.s = e, s
        with np.errstate(divide="ignore"):
            out = xp.log(s) + m
        if not keepdims:
            out = out.reshape(()) if axes is None else out.squeeze(axes)
        return _array(xp, out)

    def backward(self, grad):
        g = _keepdim_grad(grad, self.e.shape, self.axes, self.keepdims)
        return self.e * (g / self.s)


class CumSum(Function):
    def forward(self, a, axis, dtype):
        self.axis = axis
        return self.xp.cumsum(a, axis=axis, dtype=dtype)

    def backward(self, grad):
        xp = self.xp
        return xp.flip(xp.cumsum(xp.flip(grad, self.axis), axis=self.axis), self.axis)


class Norm(Function):
    """||x||_p = (sum |x|^p)^(1/p);  d/dx = sign(x) |x|^(p-1) / ||x||^(p-1) (0 where the norm is 0).
    p = inf / -inf: max / min |x|, the gradient split evenly among ties; p = 0: the count of nonzeros."""

    def forward(self, a, p, axes, keepdims):
        xp = self.xp
        self.p, self.axes, self.keepdims = p, axes, keepdims
        self.save_for_backward(a)
        if p == 2:
            out = xp.sqrt((a * a).sum(axis=axes, keepdims=keepdims))
        elif p == 1:
            out = xp.abs(a).sum(axis=axes, keepdims=keepdims)
        elif p == math.inf:
            out = xp.abs(a).max(axis=axes, keepdims=keepdims)
        elif p == -math.inf:
            out = xp.abs(a).min(axis=axes, keepdims=keepdims)
        elif p == 0:
            out = (a != 0).sum(axis=axes, keepdims=keepdims).astype(a.dtype)
        else:
            out = (xp.abs(a) ** p).sum(axis=axes, keepdims=keepdims) ** (1.0 / p)
        out = _array(xp, out).astype(a.dtype, copy=False)
        self.out = out
        return out

    def backward(self, grad):
        xp = self.xp
        (a,) = self.saved
        p = self.p
        g = _keepdim_grad(grad, a.shape, self.axes, self.keepdims)
        out = _keepdim_grad(self.out, a.shape, self.axes, self.keepdims)
        zero = xp.zeros((), a.dtype)
        if p == 0:
            return xp.zeros_like(a)
        if p == 1:
            return xp.sign(a) * g
        if p in (math.inf, -math.inf):
            mask = xp.abs(a) == out
            count = mask.sum(axis=self.axes, keepdims=True).astype(a.dtype)
            return xp.where(mask, xp.sign(a) * (g / count), zero)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                scaled = g / out
                result = a * scaled
            else:
                scaled = g / out ** (p - 1)
                result = xp.sign(a) * xp.abs(a) ** (p - 1) * scaled
        return xp.where(out == 0, zero, result)


class AllAny(Function):
    differentiable = False

    def forward(self, a, axes, keepdims, is_all):
        out = a.all(axis=axes, keepdims=keepdims) if is_all else a.any(axis=axes, keepdims=keepdims)
        return _array(self.xp, out)


# -- public functions --------------------------------------------------------------------------

def _np_dtype(dtype):
    return None if dtype is None else dtypes.as_dtype(dtype).numpy


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``sum_i input[i]`` over ``dim`` (every dimension by default). Integer and bool tensors sum to int64.

    Args:
        input: the tensor.
        dim: an int, a tuple of ints, or None for all dimensions.
        keepdim: keep the reduced dimensions with size 1.
        dtype: the dtype to accumulate and return in.

    >>> import ember
    >>> ember.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=1).tolist()
    [3.0, 7.0]
    """
    data = input._data
    axes = normalize_dims(dim, data.ndim, "sum")
    np_dtype = _np_dtype(dtype)
    if np_dtype is None and data.dtype.kind in "biu":
        np_dtype = np.dtype(np.int64)
    return Sum.apply(input, axes=axes, keepdims=keepdim, dtype=np_dtype)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``sum(input, dim) / N`` with N the number of elements reduced. Integer tensors give the default float dtype.

    Args:
        input: the tensor.
        dim: an int, a tuple of ints, or None for all dimensions.
        keepdim: keep the reduced dimensions with size 1.
        dtype: the floating dtype to compute and return in.

    >>> import ember
    >>> ember.tensor([[1.0, 2.0], [3.0, 4.0]]).mean(0).tolist()
    [2.0, 3.0]
    """
    if dtype is not None:
        input = input.to(dtype)
    input = floating(input)
    axes = normalize_dims(dim, input._data.ndim, "mean")
    return Mean.apply(input, axes=axes, keepdims=keepdim)


def _correction(unbiased, correction, op):
    if correction is not None and unbiased is not None:
        raise TypeError(f"{op}: pass either unbiased= or correction=, not both")
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def _var(input, dim, unbiased, keepdim, correction, take_sqrt, op):
    if isinstance(dim, bool):  # var(x, True): the legacy positional ``unbiased``
        dim, unbiased = None, dim
    input = floating(input)
    axes = normalize_dims(dim, input._data.ndim, op)
    return (Std if take_sqrt else Var).apply(input, axes=axes, keepdims=keepdim,
                                             correction=_correction(unbiased, correction, op), take_sqrt=take_sqrt)


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """``sum((x - mean)^2) / (N - correction)`` over ``dim``; ``correction=1`` (Bessel's, the default)
    gives the unbiased estimate, ``correction=0`` (or ``unbiased=False``) the population variance.

    Args:
        input: the tensor.
        dim: an int, a tuple of ints, or None for all dimensions.
        unbiased: the older spelling: True means correction=1, False correction=0.
        keepdim: keep the reduced dimensions with size 1.
        correction: the difference between N and the divisor.

    >>> import ember
    >>> round(ember.tensor([1.0, 2.0, 3.0, 4.0]).var().item(), 4)
    1.6667
    >>> ember.tensor([1.0, 2.0, 3.0, 4.0]).var(correction=0).item()
    1.25
    """
    return _var(input, dim, unbiased, keepdim, correction, False, "var")


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """``sqrt(var(input, dim, correction))``; see :func:`var`.

    Args:
        input: the tensor.
        dim: an int, a tuple of ints, or None for all dimensions.
        unbiased: the older spelling: True means correction=1, False correction=0.
        keepdim: keep the reduced dimensions with size 1.
        correction: the difference between N and the divisor.

    >>> import ember
    >>> ember.tensor([1.0, 3.0]).std(correction=0).item()
    1.0
    """
    return _var(input, dim, unbiased, keepdim, correction, True, "std")


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(var(input, ...), mean(input, ...))``; the arguments are those of :func:`var`.

    Args:
        input: the tensor.
        dim, unbiased, keepdim, correction: as for :func:`var`.

    >>> import ember
    >>> v, m = ember.var_mean(ember.tensor([1.0, 3.0]))
    >>> (v.item(), m.item())
    (2.0, 2.0)
    """
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim))


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(std(input, ...), mean(input, ...))``; the arguments are those of :func:`std`.

    Args:
        input: the tensor.
        dim, unbiased, keepdim, correction: as for :func:`std`.

    >>> import ember
    >>> s, m = ember.std_mean(ember.tensor([1.0, 3.0]), correction=0)
    >>> (s.item(), m.item())
    (1.0, 2.0)
    """
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return (std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim))


def _max_min(input, dim, keepdim, is_max, other):
    name = "max" if is_max else "min"
    if isinstance(dim, Tensor) or other is not None:
        from . import maximum, minimum

        return (maximum if is_max else minimum)(input, dim if other is None else other)
    data = input._data
    if data.size == 0:
        raise RuntimeError(f"{name}: cannot reduce an empty tensor of shape {tuple(input.shape)}")
    if dim is None:
        return (AMax if is_max else AMin).apply(input, axes=None, keepdims=False, is_max=is_max)
    axis = normalize_dim(dim, data.ndim, name)
    xp = input._device.backend.xp
    if data.ndim == 0:
        values = MaxMinDim.apply(input, index=None, axis=None, keepdims=True, is_max=is_max)
        return (max_return if is_max else min_return)(values, Tensor._make(xp.zeros((), np.int64), input._device, None))
    index = xp.argmax(data, axis=axis, keepdims=True) if is_max else xp.argmin(data, axis=axis, keepdims=True)
    values = MaxMinDim.apply(input, index=index, axis=axis, keepdims=keepdim, is_max=is_max)
    if not keepdim:
        index = index.squeeze(axis)
    indices = Tensor._make(index.astype(np.int64, copy=False), input._device, None)
    return (max_return if is_max else min_return)(values, indices)


def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """The largest element; with ``dim``, a ``(values, indices)`` named tuple of the maxima along ``dim``
    and where they are (the first one among ties); with a tensor, the elementwise maximum.

    Without ``dim`` the gradient is split evenly among tied maxima; with ``dim`` it goes to
    the returned index.

    Args:
        input: the tensor.
        dim: the dimension to reduce (or a tensor: ``max(a, b)`` is ``maximum(a, b)``).
        keepdim: keep the reduced dimension with size 1.

    >>> import ember
    >>> x = ember.tensor([[1.0, 5.0], [7.0, 2.0]])
    >>> x.max().item()
    7.0
    >>> values, indices = x.max(dim=1)
    >>> values.tolist(), indices.tolist()
    ([5.0, 7.0], [1, 0])
    """
    return _max_min(input, dim, keepdim, True, other)


def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """The smallest element; with ``dim``, a ``(values, indices)`` named tuple; with a tensor, the
    elementwise minimum. See :func:`max`.

    Args:
        input: the tensor.
        dim: the dimension to reduce (or a tensor: ``min(a, b)`` is ``minimum(a, b)``).
        keepdim: keep the reduced dimension with size 1.

    >>> import ember
    >>> ember.tensor([[1.0, 5.0], [7.0, 2.0]]).min(dim=0).values.tolist()
    [1.0, 2.0]
    """
    return _max_min(input, dim, keepdim, False, other)


def amax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The maximum over ``dim`` (an int, tuple, or None/() for all); the gradient is split evenly among ties.

    Args:
        input: the tensor.
        dim: the dimension(s) to reduce.
        keepdim: keep the reduced dimensions with size 1.

    >>> import ember
    >>> ember.tensor([[1.0, 5.0], [7.0, 2.0]]).amax(dim=0).tolist()
    [7.0, 5.0]
    """
    axes = normalize_dims(dim, input._data.ndim, "amax")
    return AMax.apply(input, axes=axes, keepdims=keepdim, is_max=True)


def amin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The minimum over ``dim`` (an int, tuple, or None/() for all); the gradient is split evenly among ties.

    Args:
        input: the tensor.
        dim: the dimension(s) to reduce.
        keepdim: keep the reduced dimensions with size 1.

    >>> import ember
    >>> ember.tensor([[1.0, 5.0], [7.0, 2.0]]).amin(dim=1).tolist()
    [1.0, 2.0]
    """
    axes = normalize_dims(dim, input._data.ndim, "amin")
    return AMin.apply(input, axes=axes, keepdims=keepdim, is_max=False)


def _arg(input, dim, keepdim, is_max):
    data = input._data
    name = "argmax" if is_max else "argmin"
    if data.size == 0:
        raise RuntimeError(f"{name}: cannot reduce an empty tensor of shape {tuple(input.shape)}")
    if dim is None:
        out = ArgMaxMin.apply(input, axis=None, keepdims=False, is_max=is_max)
        if keepdim:
            out = Tensor._make(out._data.reshape((1,) * data.ndim), out._device, None)
        return out
    axis = normalize_dim(dim, data.ndim, name)
    if data.ndim == 0:
        axis = None
    return ArgMaxMin.apply(input, axis=axis, keepdims=keepdim and data.ndim > 0, is_max=is_max)


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the largest element, over the flattened tensor or along ``dim``; the first among ties.

    Args:
        input: the tensor.
        dim: the dimension to reduce, or None for the flattened tensor.
        keepdim: keep the reduced dimension with size 1.

    >>> import ember
    >>> ember.tensor([[1.0, 5.0], [7.0, 2.0]]).argmax().item()
    2
    >>> ember.tensor([[1.0, 5.0], [7.0, 2.0]]).argmax(dim=1).tolist()
    [1, 0]
    """
    return _arg(input, dim, keepdim, True)


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the smallest element, over the flattened tensor or along ``dim``.

    Args:
        input: the tensor.
        dim: the dimension to reduce, or None for the flattened tensor.
        keepdim: keep the reduced dimension with size 1.

    >>> import ember
    >>> ember.tensor([3.0, 1.0, 2.0]).argmin().item()
    1
    """
    return _arg(input, dim, keepdim, False)


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``prod_i input[i]`` over all elements or along ``dim``; the gradient is exact with zeros in the input.

    Args:
        input: the tensor.
        dim: the dimension to reduce, or None for all.
        keepdim: keep the reduced dimension with size 1.
        dtype: the dtype to compute and return in.

    >>> import ember
    >>> ember.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(1).tolist()
    [2.0, 12.0]
    """
    data = input._data
    axis = None if dim is None else normalize_dim(dim, data.ndim, "prod")
    if data.ndim == 0:
        axis = None
    np_dtype = _np_dtype(dtype)
    if np_dtype is None and data.dtype.kind in "biu":
        np_dtype = np.dtype(np.int64)
    if np_dtype is not None and np_dtype != data.dtype and np_dtype.kind in "fV":
        input, np_dtype = input.to(dtypes.from_numpy_dtype(np_dtype)), None
    return Prod.apply(input, axis=axis, keepdims=keepdim, dtype=np_dtype)


def logsumexp(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim``, computed stably as ``m + log(sum(exp(input - m)))``
    with ``m`` the maximum (finite for inputs like 1e4 in float32).

    Args:
        input: the tensor.
        dim: an int, a tuple of ints, or None for all dimensions.
        keepdim: keep the reduced dimensions with size 1.

    >>> import ember
    >>> round(ember.tensor([10000.0, 10000.0]).logsumexp(0).item(), 3)
    10000.693
    """
    input = floating(input)
    axes = normalize_dims(dim, input._data.ndim, "logsumexp")
    return LogSumExp.apply(input, axes=axes, keepdims=keepdim)


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running sum along ``dim``: ``out[i] = sum_{j <= i} input[j]``. Integer tensors give int64.

    Args:
        input: the tensor.
        dim: the dimension to accumulate along.
        dtype: the dtype to accumulate and return in.

    >>> import ember
    >>> ember.tensor([1, 2, 3]).cumsum(0).tolist()
    [1, 3, 6]
    """
    data = input._data
    axis = normalize_dim(dim, data.ndim, "cumsum")
    np_dtype = _np_dtype(dtype)
    if np_dtype is None and data.dtype.kind in "biu":
        np_dtype = np.dtype(np.int64)
    if data.ndim == 0:
        return Sum.apply(input, axes=None, keepdims=False, dtype=np_dtype)
    return CumSum.apply(input, axis=axis, dtype=np_dtype)


def norm(input: Tensor, p=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The vector p-norm ``(sum |x|^p)^(1/p)`` over ``dim`` (all elements by default).

    ``p`` may be any number, ``inf`` / ``-inf`` (max / min of ``|x|``), 0 (count of nonzeros)
    or "fro" (the same as 2). The gradient at a zero norm is 0.

    Args:
        input: the tensor.
        p: the order of the norm.
        dim: an int, a tuple of ints, or None for all dimensions.
        keepdim: keep the reduced dimensions with size 1.
        dtype: the floating dtype to compute in.

    >>> import ember
    >>> ember.tensor([3.0, 4.0]).norm().item()
    5.0
    >>> ember.tensor([[3.0, -4.0]]).norm(p=1, dim=1).tolist()
    [7.0]
    """
    if dtype is not None:
        input = input.to(dtype)
    input = floating(input)
    if p is None or p == "fro":
        p = 2
    elif isinstance(p, str):
        raise ValueError(f"norm: unsupported p={p!r}; expected a number, inf, -inf or 'fro'")
    p = float(p)
    if math.isfinite(p) and p == int(p):
        p = int(p)
    axes = normalize_dims(dim, input._data.ndim, "norm")
    return Norm.apply(input, p=p, axes=axes, keepdims=keepdim)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether every element (along ``dim``) is nonzero: ``AND_i input[i] != 0``, as a bool tensor.

    Args:
        input: the tensor.
        dim: an int, a tuple of ints, or None for all dimensions.
        keepdim: keep the reduced dimensions with size 1.

    >>> import ember
    >>> ember.tensor([[True, False], [True, True]]).all(dim=1).tolist()
    [False, True]
    """
    axes = normalize_dims(dim, input._data.ndim, "all")
    return AllAny.apply(input, axes=axes, keepdims=keepdim, is_all=True)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether any element (along ``dim``) is nonzero: ``OR_i input[i] != 0``, as a bool tensor.

    Args:
        input: the tensor.
        dim: an int, a tuple of ints, or None for all dimensions.
        keepdim: keep the reduced dimensions with size 1.

    >>> import ember
    >>> ember.tensor([[True, False], [False, False]]).any(dim=1).tolist()
    [True, False]
    """
    axes = normalize_dims(dim, input._data.ndim, "any")
    return AllAny.apply(input, axes=axes, keepdims=keepdim, is_all=False)
