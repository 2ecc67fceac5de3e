"""Indexing: ``x[index]`` (basic and advanced), gather, scatter, scatter_add, index_select,
masked_fill, take_along_dim.

Basic indexing (ints, slices, None, Ellipsis) returns a view that shares the input's
version counter. Advanced indexing (integer arrays or tensors, boolean masks) copies; its
backward accumulates the gradient of repeated indices.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.slice_grad import SliceGrad
from ..tensor import _SCALARS, Tensor
from .shape import normalize_dim, share_version

__all__ = ["getitem", "gather", "scatter", "scatter_add", "index_select", "masked_fill", "take_along_dim"]

_BASIC = (int, slice, type(None), type(Ellipsis))


def _is_basic(index) -> bool:
    t = type(index)
    if t in _BASIC:
        return True
    if t is tuple:
        for i in index:
            if type(i) not in _BASIC and not (isinstance(i, np.integer)):
                return False
        return True
    return isinstance(index, np.integer)


def raw_index(index, tensor: Tensor):
    """``index`` with every Tensor in it replaced by its backend array (for ``tensor._data[...]``)."""
    if isinstance(index, Tensor):
        return _raw_tensor(index, tensor)
    if type(index) is tuple:
        if not any(isinstance(i, (Tensor, list)) for i in index):
            return index
        return tuple(_raw_tensor(i, tensor) if isinstance(i, Tensor) else _raw_list(i, tensor) for i in index)
    if isinstance(index, list):
        return _raw_list(index, tensor)
    return index


def _raw_tensor(index: Tensor, tensor: Tensor):
    if index._device is not tensor._device:
        raise IndexError(f"an index on {index._device} cannot index a tensor on {tensor._device}")
    data = index._data
    if data.dtype.kind not in "biu":
        raise IndexError(f"tensors used as indices must be integer or bool tensors, got dtype {index.dtype}")
    return data


def _raw_list(index, tensor: Tensor):
    if not isinstance(index, list):
        return index
    if any(isinstance(i, Tensor) for i in index):
        index = [i._data if isinstance(i, Tensor) else i for i in index]
    xp = tensor._device.backend.xp
    array = np.asarray(index)
    if array.dtype.kind not in "biu":
        if array.size == 0:
            array = array.astype(np.int64)
        else:
            raise IndexError(f"lists used as indices must hold integers or booleans, got {index!r}")
    return array if xp is np else tensor._device.backend.from_numpy(array, tensor._device.index or 0)


def _index_error(index, shape, exc) -> IndexError:
    return IndexError(f"index {_describe(index)} is invalid for a tensor of shape {tuple(shape)}: {exc}")


def _describe(index) -> str:
    if isinstance(index, tuple):
        return "(" + ", ".join(_describe(i) for i in index) + ("," if len(index) == 1 else "") + ")"
    if isinstance(index, Tensor):
        return f"tensor(shape={tuple(index.shape)}, dtype={index.dtype})" if index.numel() > 8 else repr(index)
    if isinstance(index, np.ndarray) and index.size > 8:
        return f"array(shape={index.shape}, dtype={index.dtype})"
    return repr(index)


def _add_at(xp, target, index, values) -> None:
    """``target[index] += values`` with repeated indices accumulated."""
    add_at = getattr(getattr(xp, "add", None), "at", None)
    if add_at is not None:
        add_at(target, index, values)
        return
    import cupyx  # pragma: no cover - CuPy without ufunc.at

    cupyx.scatter_add(target, index, values)


def _add_rows(xp, shape, dtype, index, values):
    """zeros(shape) with ``values[i]`` added to row ``index[i]`` (repeats accumulate).

    The rows go through one flat index, which takes NumPy's fast 1-D ``ufunc.at`` path
    (about twice as fast as ``add.at`` on rows).
    """
    n = shape[0]
    inner = 1
    for s in shape[1:]:
        inner *= s
    flat = index.reshape(-1)
    if flat.size and flat.min() < 0:
        flat = xp.where(flat < 0, flat + n, flat)
    g = xp.zeros(n * inner, dtype)
    if inner == 1:
        _add_at(xp, g, flat, values.reshape(-1))
    elif flat.size:
        lin = (flat * inner)[:, None] + xp.arange(inner)
        _add_at(xp, g, lin.reshape(-1), values.reshape(-1))
    return g.reshape(shape)


# -- primitives -------------------------------------------------------------------------

class BasicIndex(Function):
    """A view through ints, slices, None and Ellipsis."""

    def forward(self, a, key):
        self.key = key
        out = a[key]
        return out if isinstance(out, self.xp.ndarray) else self.xp.asarray(out)

    def backward(self, grad):
        shape, dtype = self.in_meta[0]
        return SliceGrad(shape, dtype, self.xp, self.backend.has_views, self.key, grad)


class AdvancedIndex(Function):
    """A copy through integer arrays and boolean masks (mixed with basic indices)."""

    def forward(self, a, key, kind):
        self.key, self.kind = key, kind
        return a[key]

    def backward(self, grad):
        xp = self.xp
        shape, dtype = self.in_meta[0]
        key, kind = self.key, self.kind
        if kind == "mask":  # boolean masks select each element at most once
            g = xp.zeros(shape, dtype)
            g[key] = grad
            return g
        if kind == "rows":  # x[idx]: scatter-add whole rows
            idx = key[0] if type(key) is tuple else key
            return _add_rows(xp, shape, dtype, idx, grad)
        g = xp.zeros(shape, dtype)
        _add_at(xp, g, key, grad)
        return g


def _flat_positions(xp, shape, axis, index):
    """Flat positions in a C-ordered array of ``shape`` of ``index`` along ``axis`` (the other
    coordinates being those of each element of ``index``)."""
    nd = len(shape)
    strides = [1] * nd
    for d in range(nd - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    lin = index.astype(np.int64, copy=False) * strides[axis]
    for d in range(nd):
        if d != axis and index.shape[d] > 1:
            view = [1] * nd
            view[d] = index.shape[d]
            lin = lin + (xp.arange(index.shape[d]) * strides[d]).reshape(view)
    return lin


def _scatter_add_along(xp, shape, dtype, axis, index, values, base=None):
    """A copy of ``base`` (or zeros of ``shape``) with ``values`` added at ``index`` along ``axis``."""
    flat = xp.zeros(math.prod(shape), dtype) if base is None else base.flatten()
    if index.size:
        index = xp.where(index < 0, index + shape[axis], index) if index.min() < 0 else index
        lin = _flat_positions(xp, shape, axis, index)
        if values.shape != index.shape:
            values = xp.broadcast_to(values, index.shape)
        _add_at(xp, flat, lin.reshape(-1), values.reshape(-1))
    return flat.reshape(shape)


def _sub_key(index_shape, shape, axis):
    """The slice of an array of ``shape`` that ``index`` covers, outside ``axis``."""
    if all(i == s for d, (i, s) in enumerate(zip(index_shape, shape)) if d != axis):
        return None
    return tuple(slice(None) if d == axis else slice(0, i) for d, i in enumerate(index_shape))


class Gather(Function):
    def forward(self, a, index, axis):
        self.axis = axis
        self.sub = _sub_key(index.shape, a.shape, axis)
        self.index = index
        return self.xp.take_along_axis(a if self.sub is None else a[self.sub], index, axis=axis)

    def backward(self, grad):
        shape, dtype = self.in_meta[0]
        return _scatter_add_along(self.xp, shape, dtype, self.axis, self.index, grad), None


class ScatterAdd(Function):
    def forward(self, a, index, src, axis):
        self.axis, self.index = axis, index
        self.src_sub = None
        if src.shape != index.shape:
            self.src_sub = tuple(slice(0, n) for n in index.shape)
            src = src[self.src_sub]
        return _scatter_add_along(self.xp, a.shape, a.dtype, axis, index, src, base=a)

    def backward(self, grad):
        xp = self.xp
        need_a, _, need_src = self.needs_input_grad
        g_src = None
        if need_src:
            g_src = _gather_for(xp, grad, self.index, self.axis, self.in_meta[2], self.src_sub)
        return (grad if need_a else None), None, g_src


class Scatter(Function):
    """``out = input`` with ``src`` written at ``index`` along ``axis`` (the last write wins on repeats)."""

    def forward(self, a, index, src, axis):
        xp = self.xp
        self.axis, self.index = axis, index
        self.src_sub = None
        if src.shape != index.shape:
            self.src_sub = tuple(slice(0, n) for n in index.shape)
            src = src[self.src_sub]
        index = xp.where(index < 0, index + a.shape[axis], index) if index.size and index.min() < 0 else index
        self.index = index
        return _set_flat(xp, a, _flat_positions(xp, a.shape, axis, index), xp.broadcast_to(src, index.shape))

    def backward(self, grad):
        xp = self.xp
        need_a, _, need_src = self.needs_input_grad
        g_a = g_src = None
        if need_a:
            g_a = _set_flat(xp, grad, _flat_positions(xp, grad.shape, self.axis, self.index), 0)
        if need_src:
            g_src = _gather_for(xp, grad, self.index, self.axis, self.in_meta[2], self.src_sub)
        return g_a, None, g_src


class ScatterValue(Scatter):
    def forward(self, a, index, axis, value):
        xp = self.xp
        src = xp.full(index.shape, value, a.dtype)
        return Scatter.forward(self, a, index, src, axis)

    def backward(self, grad):
        if not self.needs_input_grad[0]:
            return None, None
        xp = self.xp
        return _set_flat(xp, grad, _flat_positions(xp, grad.shape, self.axis, self.index), 0), None


def _set_flat(xp, a, positions, values):
    """A copy of ``a`` with its flattened elements at ``positions`` set to ``values`` (broadcast
    to ``positions``' shape); written on a flat copy, so no backend needs writable views."""
    flat = a.flatten()
    if not isinstance(values, (int, float)):
        values = values.reshape(-1)
    flat[positions.reshape(-1)] = values
    return flat.reshape(a.shape)


def _gather_for(xp, grad, index, axis, src_meta, src_sub):
    gsub = _sub_key(index.shape, grad.shape, axis)
    picked = xp.take_along_axis(grad if gsub is None else grad[gsub], index, axis=axis)
    if src_sub is None:
        return picked
    g = xp.zeros(*src_meta)
    g[src_sub] = picked
    return g


class IndexSelect(Function):
    def forward(self, a, index, axis):
        self.axis, self.index = axis, index
        return self.xp.take(a, index, axis=axis)

    def backward(self, grad):
        xp = self.xp
        shape, dtype = self.in_meta[0]
        axis, index = self.axis, self.index
        if axis == 0:
            return _add_rows(xp, shape, dtype, index, grad), None
        moved = (shape[axis],) + shape[:axis] + shape[axis + 1:]
        g = _add_rows(xp, moved, dtype, index, xp.moveaxis(grad, axis, 0))
        return xp.moveaxis(g, 0, axis), None


class MaskedFill(Function):
    def forward(self, a, mask, value):
        xp = self.xp
        self.mask = mask
        return xp.where(mask, xp.asarray(value, dtype=a.dtype), a)

    def backward(self, grad):
        xp = self.xp
        return xp.where(self.mask, xp.zeros((), grad.dtype), grad), None


class MaskedFillTensor(Function):
    def forward(self, a, mask, value):
        xp = self.xp
        self.mask = mask
        return xp.where(mask, value.astype(a.dtype, copy=False), a)

    def backward(self, grad):
        xp = self.xp
        need_a, _, need_v = self.needs_input_grad
        g_a = xp.where(self.mask, xp.zeros((), grad.dtype), grad) if need_a else None
        g_v = None
        if need_v:
            mask = xp.broadcast_to(self.mask, grad.shape)
            g_v = xp.asarray(grad[mask].sum()).reshape(self.in_meta[2][0])
        return g_a, None, g_v


class TakeAlongDim(Function):
    def forward(self, a, index, axis):
        xp = self.xp
        self.axis, self.index = axis, index
        out = xp.take_along_axis(a, index, axis=axis)
        self.bshape = out.shape[:axis] + (a.shape[axis],) + out.shape[axis + 1:]
        return out

    def backward(self, grad):
        xp = self.xp
        index = xp.broadcast_to(self.index, grad.shape)
        return _scatter_add_along(xp, self.bshape, grad.dtype, self.axis, index, grad), None


# -- public functions ---------------------------------------------------------------------

def getitem(input: Tensor, index) -> Tensor:
    """``input[index]`` with NumPy's (and PyTorch's) rules.

    Ints, slices, None and Ellipsis give a view (sharing storage and version counter);
    integer arrays/tensors/lists and boolean masks give a copy. The gradient of repeated
    indices is accumulated.

    Args:
        input: the tensor.
        index: anything NumPy accepts, with tensors in place of arrays.

    >>> import ember
    >>> x = ember.arange(12).reshape(3, 4)
    >>> x[1, 1:3].tolist()
    [5, 6]
    >>> x[ember.tensor([2, 0]), -1].tolist()
    [11, 3]
    >>> x[x > 9].tolist()
    [10, 11]
    """
    data = input._data
    if _is_basic(index):
        try:
            out = BasicIndex.apply(input, key=index)
        except (IndexError, TypeError, ValueError) as exc:
            raise _index_error(index, data.shape, exc) from None
        return share_version(out, input)
    key = raw_index(index, input)
    kind = _kind(key)
    try:
        return AdvancedIndex.apply(input, key=key, kind=kind)
    except (IndexError, TypeError, ValueError) as exc:
        raise _index_error(index, data.shape, exc) from None


def _kind(key) -> str:
    """"mask" (only boolean arrays), "rows" (one integer array, optionally followed by full
    slices) or "general" (anything else: repeated positions are accumulated with ufunc.at)."""
    parts = key if type(key) is tuple else (key,)
    arrays = [p for p in parts if hasattr(p, "ndim") and not isinstance(p, _SCALARS)]
    if arrays and all(a.dtype.kind == "b" for a in arrays):
        return "mask"
    first = parts[0] if parts else None
    if (first is not None and len(arrays) == 1 and arrays[0] is first and first.dtype.kind in "iu"
            and first.ndim >= 1 and all(type(p) is slice and p == slice(None) for p in parts[1:])):
        return "rows"
    return "general"


def _index_tensor(index, input: Tensor, op: str):
    if not isinstance(index, Tensor):
        index = Tensor._make(input._device.backend.asarray(index, np.int64, input._device.index or 0),
                             input._device, None)
    if index._data.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {index.dtype}")
    return index


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Pick values along ``dim``: ``out[i][j][k] = input[index[i][j][k]][j][k]`` (for ``dim=0``).

    ``index`` has ``input``'s number of dimensions and sizes no larger than ``input``'s
    outside ``dim``; ``out`` has ``index``'s shape.

    Args:
        input: the tensor.
        dim: the dimension to index along.
        index: an int64 tensor of positions.

    >>> import ember
    >>> x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> x.gather(1, ember.tensor([[1], [0]])).tolist()
    [[2.0], [3.0]]
    """
    index = _index_tensor(index, input, "gather")
    shape = input._data.shape
    axis = normalize_dim(dim, len(shape), "gather")
    _check_index_shape(index._data.shape, shape, axis, "gather", "input")
    try:
        return Gather.apply(input, index, axis=axis)
    except IndexError as exc:
        raise IndexError(f"gather: index (shape {tuple(index.shape)}) out of range for dimension {axis} of input "
                         f"shape {tuple(shape)}: {exc}") from None


def _check_index_shape(index_shape, shape, axis, op, what):
    if len(index_shape) != len(shape):
        raise RuntimeError(f"{op}: index must have as many dimensions as {what}; got index shape "
                           f"{tuple(index_shape)} and {what} shape {tuple(shape)}")
    for d, (i, s) in enumerate(zip(index_shape, shape)):
        if d != axis and i > s:
            raise RuntimeError(f"{op}: index shape {tuple(index_shape)} is larger than {what} shape "
                               f"{tuple(shape)} in dimension {d}")


def _check_bounds(index, n, op, shape, axis):
    data = index._data
    if data.size and (int(data.max()) >= n or int(data.min()) < -n):
        raise IndexError(f"{op}: index values must lie in [{-n}, {n - 1}] for dimension {axis} of shape "
                         f"{tuple(shape)}; got values in [{int(data.min())}, {int(data.max())}]")


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``input`` with ``src`` added at ``index`` along ``dim``: ``out[index[i][j]][j] += src[i][j]``
    (for ``dim=0``); repeated indices accumulate. Differentiable in ``input`` and ``src``.

    Args:
        input: the tensor to add into.
        dim: the dimension to index along.
        index: an int64 tensor with ``input``'s number of dimensions.
        src: the values to add (at least ``index``'s size in every dimension).

    >>> import ember
    >>> ember.zeros(3).scatter_add(0, ember.tensor([0, 2, 0]), ember.tensor([1.0, 2.0, 3.0])).tolist()
    [4.0, 0.0, 2.0]
    """
    index = _index_tensor(index, input, "scatter_add")
    shape = input._data.shape
    axis = normalize_dim(dim, len(shape), "scatter_add")
    _check_index_shape(index._data.shape, shape, axis, "scatter_add", "input")
    _check_index_shape(index._data.shape, src._data.shape, -1, "scatter_add", "src")
    _check_bounds(index, shape[axis] if shape else 1, "scatter_add", shape, axis)
    if src._data.dtype != input._data.dtype:
        src = src.to(input.dtype)
    return ScatterAdd.apply(input, index, src, axis=axis)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None) -> Tensor:
    """``input`` with ``src`` (or the scalar ``value``) written at ``index`` along ``dim``:
    ``out[index[i][j]][j] = src[i][j]`` (for ``dim=0``).

    Args:
        input: the tensor to write into.
        dim: the dimension to index along.
        index: an int64 tensor with ``input``'s number of dimensions.
        src: a tensor of values (at least ``index``'s size), or a number.
        value: a number (instead of ``src``).

    >>> import ember
    >>> ember.scatter(ember.zeros(2, 2), 1, ember.tensor([[1], [0]]), 5.0).tolist()
    [[0.0, 5.0], [5.0, 0.0]]
    """
    index = _index_tensor(index, input, "scatter")
    shape = input._data.shape
    axis = normalize_dim(dim, len(shape), "scatter")
    _check_index_shape(index._data.shape, shape, axis, "scatter", "input")
    _check_bounds(index, shape[axis] if shape else 1, "scatter", shape, axis)
    if src is None:
        src = value
    if not isinstance(src, Tensor):
        return ScatterValue.apply(input, index, axis=axis, value=src)
    _check_index_shape(index._data.shape, src._data.shape, -1, "scatter", "src")
    if src._data.dtype != input._data.dtype:
        src = src.to(input.dtype)
    return Scatter.apply(input, index, src, axis=axis)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` at positions ``index`` (1-D) along ``dim``; repeats accumulate in backward.

    Args:
        input: the tensor.
        dim: the dimension to select along.
        index: a 1-D int64 tensor.

    >>> import ember
    >>> ember.tensor([[1, 2], [3, 4], [5, 6]]).index_select(0, ember.tensor([2, 2])).tolist()
    [[5, 6], [5, 6]]
    """
    index = _index_tensor(index, input, "index_select")
    if index._data.ndim > 1:
        raise IndexError(f"index_select: index must be 1-D, got shape {tuple(index.shape)}")
    shape = input._data.shape
    axis = normalize_dim(dim, len(shape), "index_select")
    idx = index._data.reshape(-1)
    if input._data.ndim == 0:
        out = index_select(input.reshape(1), 0, index)
        return out.reshape(()) if index._data.ndim == 0 else out
    try:
        return IndexSelect.apply(input, Tensor._make(idx, index._device, None), axis=axis)
    except IndexError as exc:
        raise IndexError(f"index_select: index out of range for dimension {axis} of shape {tuple(shape)}: "
                         f"{exc}") from None


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` where ``mask`` is True, ``input`` elsewhere; ``mask`` broadcasts to ``input``'s shape.

    Args:
        input: the tensor.
        mask: a bool tensor.
        value: a number or a 0-d tensor (differentiable).

    >>> import ember
    >>> x = ember.tensor([1.0, 2.0, 3.0])
    >>> x.masked_fill(ember.tensor([True, False, True]), 0.0).tolist()
    [0.0, 2.0, 0.0]
    """
    if not isinstance(mask, Tensor):
        mask = Tensor._make(input._device.backend.asarray(mask, np.bool_, input._device.index or 0),
                            input._device, None)
    if mask._data.dtype.kind != "b":
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {mask.dtype}")
    shape = input._data.shape
    try:
        bshape = np.broadcast_shapes(shape, mask._data.shape)
    except ValueError:
        bshape = None
    if bshape != shape:
        raise RuntimeError(f"masked_fill: mask of shape {tuple(mask.shape)} does not broadcast to the input's "
                           f"shape {tuple(shape)}")
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"masked_fill: value must be a number or a 0-d tensor, got shape {tuple(value.shape)}")
        return MaskedFillTensor.apply(input, mask, value)
    return MaskedFill.apply(input, mask, value=value)


def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:
    """Values of ``input`` at ``indices`` along ``dim`` (``numpy.take_along_axis``; the
    flattened tensors when ``dim`` is None). ``input`` and ``indices`` broadcast outside ``dim``.

    Args:
        input: the tensor.
        indices: an int64 tensor (with ``input``'s number of dimensions when ``dim`` is given).
        dim: the dimension to index along, or None.

    >>> import ember
    >>> x = ember.tensor([[10.0, 30.0, 20.0]])
    >>> ember.take_along_dim(x, x.argmax(dim=1, keepdim=True), dim=1).tolist()
    [[30.0]]
    """
    indices = _index_tensor(indices, input, "take_along_dim")
    if dim is None:
        input = input.reshape(-1)
        indices = Tensor._make(indices._data.reshape(-1), indices._device, None)
        axis = 0
    else:
        axis = normalize_dim(dim, input._data.ndim, "take_along_dim")
    shape = input._data.shape
    if indices._data.ndim != len(shape):
        raise RuntimeError(f"take_along_dim: indices must have as many dimensions as input; got indices shape "
                           f"{tuple(indices.shape)} and input shape {tuple(shape)}")
    _check_bounds(indices, shape[axis], "take_along_dim", shape, axis)
    try:
        return TakeAlongDim.apply(input, indices, axis=axis)
    except ValueError as exc:
        raise RuntimeError(f"take_along_dim: input shape {tuple(shape)} and indices shape "
                           f"{tuple(indices.shape)} do not broadcast outside dimension {axis}: {exc}") from None
