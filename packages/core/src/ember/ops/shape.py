"""Changing a tensor's shape without changing its values: reshape, view, transpose, permute,
squeeze, expand, flip, roll, tril/triu, pad, repeat, narrow.

Ops whose result is a view of the input's storage (view, transpose, permute, squeeze,
unsqueeze, expand, narrow, and reshape when no copy is needed) share the input's version
counter, so changing either in place is detected by any backward that saved the other.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.slice_grad import SliceGrad
from ..tensor import Tensor

__all__ = ["reshape", "view", "view_as", "reshape_as", "transpose", "swapaxes", "swapdims", "permute",
           "movedim", "flatten", "unflatten", "unsqueeze", "squeeze", "expand", "expand_as",
           "broadcast_to", "flip", "roll", "tril", "triu", "pad", "repeat", "narrow"]


# -- helpers shared by the other op families ---------------------------------------------

def normalize_dim(dim, ndim: int, op: str = "dim", extra: int = 0) -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` dimensions (0-d tensors accept 0 and -1);
    ``extra=1`` for ops that insert a dimension (unsqueeze, stack), whose dim may also be ``ndim``."""
    n = ndim + extra if ndim + extra > 0 else 1
    if type(dim) is not int:
        if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{op}: dim must be an integer, got {dim!r}")
        dim = int(dim)
    if dim < -n or dim >= n:
        raise IndexError(f"{op}: dimension {dim} is out of range for a tensor with {ndim} dimension(s) "
                         f"(expected a dim in [{-n}, {n - 1}])")
    return dim + n if dim < 0 else dim


def normalize_dims(dim, ndim: int, op: str = "dim"):
    """``dim`` (None, an int, or a sequence; () means all) as a sorted tuple of axes, or None for all
    (also for a 0-d tensor, whose only valid dims, 0 and -1, mean the whole tensor)."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        axes = tuple(sorted(normalize_dim(d, ndim, op) for d in dim))
        if len(set(axes)) != len(axes):
            raise ValueError(f"{op}: dim {tuple(dim)} names a dimension more than once")
    else:
        axes = (normalize_dim(dim, ndim, op),)
    return axes if ndim else None  # a 0-d tensor's dim 0 / -1 is the whole tensor


def _sizes(args, op: str) -> tuple:
    """``f(x, 2, 3)`` and ``f(x, (2, 3))`` both mean shape (2, 3)."""
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        args = args[0]
    try:
        return tuple(int(s) for s in args)
    except TypeError:
        raise TypeError(f"{op}: expected a shape (integers), got {args!r}") from None


def share_version(out: Tensor, source: Tensor) -> Tensor:
    """Make ``out`` (a view of ``source``'s storage) share ``source``'s version counter."""
    box = source._vbox
    if box is None:
        box = source._vbox = [0]
    out._vbox = box
    return out


def _maybe_view(out: Tensor, source: Tensor) -> Tensor:
    data = out._data
    if data.size and getattr(data, "base", None) is not None and out._device.backend.xp.may_share_memory(
            data, source._data):
        share_version(out, source)
    return out


def infer_shape(shape: tuple, numel: int, in_shape: tuple, op: str) -> tuple:
    """``shape`` with a -1 filled in; a clear error when it cannot hold ``numel`` elements."""
    unknown = None
    known = 1
    for i, s in enumerate(shape):
        if s == -1:
            if unknown is not None:
                raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got shape {shape}")
            unknown = i
        elif s < 0:
            raise RuntimeError(f"{op}: invalid size {s} in shape {shape}")
        else:
            known *= s
    if unknown is not None:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: cannot {op} a tensor of shape {tuple(in_shape)} ({numel} elements) "
                               f"into shape {shape}")
        shape = shape[:unknown] + (numel // known,) + shape[unknown + 1:]
    elif known != numel:
        raise RuntimeError(f"{op}: cannot {op} a tensor of shape {tuple(in_shape)} ({numel} elements) "
                           f"into shape {shape} ({known} elements)")
    return shape


# -- primitives -------------------------------------------------------------------------

class Reshape(Function):
    def forward(self, a, shape):
        return a.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.in_meta[0][0])


class Permute(Function):
    def forward(self, a, axes):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, grad):
        inverse = [0] * len(self.axes)
        for i, p in enumerate(self.axes):
            inverse[p] = i
        return grad.transpose(inverse)


class Transpose(Function):
    def forward(self, a, dim0, dim1):
        self.dims = (dim0, dim1)
        return self.xp.swapaxes(a, dim0, dim1)

    def backward(self, grad):
        return self.xp.swapaxes(grad, *self.dims)


class Expand(Function):
    def forward(self, a, shape):
        return self.xp.broadcast_to(a, shape)

    def backward(self, grad):
        return grad  # the engine sums it back over the expanded dimensions


class Flip(Function):
    def forward(self, a, axes):
        self.axes = axes
        return self.xp.flip(a, axis=axes)

    def backward(self, grad):
        return self.xp.flip(grad, axis=self.axes)


class Roll(Function):
    def forward(self, a, shifts, axes):
        self.shifts, self.axes = shifts, axes
        return self.xp.roll(a, shifts, axis=axes)

    def backward(self, grad):
        shifts = -self.shifts if isinstance(self.shifts, int) else tuple(-s for s in self.shifts)
        return self.xp.roll(grad, shifts, axis=self.axes)


class Tril(Function):
    def forward(self, a, k, upper):
        self.k, self.upper = k, upper
        return self.xp.triu(a, k) if upper else self.xp.tril(a, k)

    def backward(self, grad):
        return self.xp.triu(grad, self.k) if self.upper else self.xp.tril(grad, self.k)


class Narrow(Function):
    """A basic-slice view; its gradient is ``grad`` at the slice and zero elsewhere (a SliceGrad)."""

    def forward(self, a, key):
        self.key = key
        return a[key]

    def backward(self, grad):
        shape, dtype = self.in_meta[0]
        return SliceGrad(shape, dtype, self.xp, self.backend.has_views, self.key, grad)


class Repeat(Function):
    def forward(self, a, reps):
        self.reps = reps
        return self.xp.tile(a, reps)

    def backward(self, grad):
        shape = self.in_meta[0][0]
        full = (1,) * (len(self.reps) - len(shape)) + tuple(shape)
        split = []
        for r, s in zip(self.reps, full):
            split += [r, s]
        g = grad.reshape(split).sum(axis=tuple(range(0, 2 * len(full), 2)))
        return g.reshape(shape)


class ConstantPad(Function):
    def forward(self, a, widths, crop, value):
        self.widths, self.crop = widths, crop
        out = self.xp.pad(a, widths, mode="constant", constant_values=value) if widths else a
        return out[crop] if crop is not None else out

    def backward(self, grad):
        xp = self.xp
        if self.crop is not None:  # negative pads cropped the input: put the gradient back
            shape = [w[0] + w[1] + n for w, n in zip(self.widths, self.in_meta[0][0])] if self.widths \
                else self.in_meta[0][0]
            full = xp.zeros(shape, grad.dtype)
            full[self.crop] = grad
            grad = full
        if not self.widths:
            return grad
        key = tuple(slice(lo, grad.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        return grad[key]


class IndexPad(Function):
    """Reflect / replicate / circular padding as a gather along each padded axis."""

    def forward(self, a, indices):
        self.indices = indices
        out = a
        for axis, idx in indices:
            out = self.xp.take(out, idx, axis=axis)
        return out

    def backward(self, grad):
        xp = self.xp
        shape = list(grad.shape)
        for axis, idx in reversed(self.indices):
            shape[axis] = self.in_meta[0][0][axis]
            moved = xp.moveaxis(grad, axis, 0)
            g = xp.zeros((shape[axis],) + moved.shape[1:], grad.dtype)
            xp.add.at(g, idx, moved)
            grad = xp.moveaxis(g, 0, axis)
        return grad


# -- public functions ---------------------------------------------------------------------

def reshape(input: Tensor, *shape) -> Tensor:
    """The same values in a new shape (a view when the layout allows, else a copy).

    ``numel(out) == numel(input)``; one size may be -1 and is inferred.

    Args:
        input: the tensor.
        shape: the new shape, as separate ints or one tuple.

    >>> import ember
    >>> ember.arange(6).reshape(2, -1).shape
    (2, 3)
    """
    shape = _sizes(shape, "reshape")
    in_shape = input._data.shape
    if shape == in_shape:
        return input
    shape = infer_shape(shape, input._data.size, in_shape, "reshape")
    return _maybe_view(Reshape.apply(input, shape=shape), input)


def view(input: Tensor, *shape) -> Tensor:
    """Like :func:`reshape`, but always a view sharing storage (and version counter) with ``input``.

    Args:
        input: the tensor.
        shape: the new shape; one size may be -1.

    >>> import ember
    >>> ember.zeros(2, 3).view(-1).shape
    (6,)
    """
    shape = infer_shape(_sizes(shape, "view"), input._data.size, input._data.shape, "view")
    out = Reshape.apply(input, shape=shape)
    backend = input._device.backend
    if backend.has_views and out._data.size and not backend.xp.may_share_memory(out._data, input._data):
        raise RuntimeError(f"view: a tensor of shape {tuple(input.shape)} with its strides cannot be viewed as "
                           f"shape {shape} without copying; use .reshape(...) instead")
    return share_version(out, input)


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.view(other.shape)``: the same storage in ``other``'s shape.

    Args:
        input: the tensor.
        other: the tensor whose shape to take.

    >>> import ember
    >>> ember.zeros(6).view_as(ember.zeros(2, 3)).shape
    (2, 3)
    """
    return view(input, other.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.reshape(other.shape)``: the same values in ``other``'s shape.

    Args:
        input: the tensor.
        other: the tensor whose shape to take.

    >>> import ember
    >>> ember.zeros(6).reshape_as(ember.zeros(3, 2)).shape
    (3, 2)
    """
    return reshape(input, other.shape)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions: ``out[..., j, ..., i, ...] = input[..., i, ..., j, ...]`` (a view).

    Args:
        input: the tensor.
        dim0, dim1: the dimensions to swap.

    >>> import ember
    >>> ember.zeros(2, 3, 4).transpose(0, 2).shape
    (4, 3, 2)
    """
    nd = input._data.ndim
    d0, d1 = normalize_dim(dim0, nd, "transpose"), normalize_dim(dim1, nd, "transpose")
    if d0 == d1 or nd < 2:
        return input
    return share_version(Transpose.apply(input, dim0=d0, dim1=d1), input)


swapaxes = swapdims = transpose


def permute(input: Tensor, *dims) -> Tensor:
    """Reorder the dimensions: ``out.shape[i] == input.shape[dims[i]]`` (a view).

    Args:
        input: the tensor.
        dims: a permutation of ``range(input.ndim)`` (negative dims allowed).

    >>> import ember
    >>> ember.zeros(2, 3, 4).permute(2, 0, 1).shape
    (4, 2, 3)
    """
    nd = input._data.ndim
    dims = _sizes(dims, "permute") if dims else ()
    if len(dims) != nd:
        raise RuntimeError(f"permute: the number of dims ({len(dims)}) must equal the tensor's number of "
                           f"dimensions ({nd}); got dims {dims} for shape {tuple(input.shape)}")
    axes = tuple(normalize_dim(d, nd, "permute") for d in dims)
    if len(set(axes)) != nd:
        raise RuntimeError(f"permute: dims {dims} repeat a dimension")
    if axes == tuple(range(nd)):
        return input
    return share_version(Permute.apply(input, axes=axes), input)


def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dimension(s) ``source`` to position(s) ``destination``, keeping the others in order (a view).

    Args:
        input: the tensor.
        source: a dim or a sequence of dims.
        destination: where each of ``source`` goes.

    >>> import ember
    >>> ember.movedim(ember.zeros(2, 3, 4), 0, -1).shape
    (3, 4, 2)
    """
    nd = input._data.ndim
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} differ in length")
    src = [normalize_dim(d, nd, "movedim") for d in src]
    dst = [normalize_dim(d, nd, "movedim") for d in dst]
    order = [d for d in range(nd) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, order)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one.

    Args:
        input: the tensor.
        start_dim, end_dim: the first and last dimension to merge (inclusive).

    >>> import ember
    >>> ember.zeros(2, 3, 4).flatten(1).shape
    (2, 12)
    """
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s = normalize_dim(start_dim, len(shape), "flatten")
    e = normalize_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    merged = 1
    for n in shape[s:e + 1]:
        merged *= n
    return reshape(input, shape[:s] + (merged,) + shape[e + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one may be -1); ``prod(sizes) == input.shape[dim]``.

    Args:
        input: the tensor.
        dim: the dimension to split.
        sizes: the new sizes.

    >>> import ember
    >>> ember.zeros(2, 12).unflatten(1, (3, 4)).shape
    (2, 3, 4)
    """
    shape = input._data.shape
    d = normalize_dim(dim, len(shape), "unflatten")
    sizes = infer_shape(tuple(int(s) for s in sizes), shape[d], (shape[d],), "unflatten")
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim`` (a view); ``dim`` may be ``input.ndim``.

    Args:
        input: the tensor.
        dim: the position of the new dimension, in ``[-ndim - 1, ndim]``.

    >>> import ember
    >>> ember.zeros(2, 3).unsqueeze(1).shape
    (2, 1, 3)
    """
    shape = input._data.shape
    d = normalize_dim(dim, len(shape), "unsqueeze", extra=1)
    return share_version(Reshape.apply(input, shape=shape[:d] + (1,) + shape[d:]), input)


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those among ``dim``; others are kept), a view.

    Args:
        input: the tensor.
        dim: None, a dim, or a tuple of dims.

    >>> import ember
    >>> ember.zeros(2, 1, 3, 1).squeeze().shape
    (2, 3)
    >>> ember.zeros(2, 1, 3).squeeze(0).shape
    (2, 1, 3)
    """
    shape = input._data.shape
    if dim is None:
        new = tuple(n for n in shape if n != 1)
    else:
        axes = normalize_dims(dim, len(shape), "squeeze") or ()
        new = tuple(n for i, n in enumerate(shape) if not (i in axes and n == 1))
    if new == shape:
        return input
    return share_version(Reshape.apply(input, shape=new), input)


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast size-1 dimensions (and new leading ones) to ``sizes`` without copying; -1 keeps a size.

    Args:
        input: the tensor.
        sizes: the target shape, as separate ints or one tuple.

    >>> import ember
    >>> ember.zeros(3, 1).expand(2, -1, 4).shape
    (2, 3, 4)
    """
    sizes = _sizes(sizes, "expand")
    shape = input._data.shape
    extra = len(sizes) - len(shape)
    if extra < 0:
        raise RuntimeError(f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's number of "
                           f"dimensions ({len(shape)}); target sizes {sizes}, tensor shape {tuple(shape)}")
    target = []
    for i, s in enumerate(sizes):
        if i < extra:
            if s < 0:
                raise RuntimeError(f"expand: size -1 is not allowed in a new leading dimension ({i}); "
                                   f"target sizes {sizes}, tensor shape {tuple(shape)}")
            target.append(s)
            continue
        n = shape[i - extra]
        if s == -1 or s == n:
            target.append(n)
        elif n == 1 and s >= 0:
            target.append(s)
        else:
            raise RuntimeError(f"expand: the expanded size {s} must match the existing size {n} at non-singleton "
                               f"dimension {i}; target sizes {sizes}, tensor shape {tuple(shape)}")
    target = tuple(target)
    if target == shape:
        return input
    return share_version(Expand.apply(input, shape=target), input)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.expand(other.shape)``.

    Args:
        input: the tensor.
        other: the tensor whose shape to broadcast to.

    >>> import ember
    >>> ember.zeros(1, 3).expand_as(ember.zeros(2, 3)).shape
    (2, 3)
    """
    return expand(input, other.shape)


def broadcast_to(input: Tensor, shape) -> Tensor:
    """``input`` broadcast to ``shape`` (NumPy's rule; a view); the gradient sums over broadcast dims.

    Args:
        input: the tensor.
        shape: the target shape.

    >>> import ember
    >>> ember.broadcast_to(ember.zeros(3), (2, 3)).shape
    (2, 3)
    """
    return expand(input, tuple(shape))


def flip(input: Tensor, *dims) -> Tensor:
    """Reverse the order of elements along ``dims``: ``out[i] = input[n - 1 - i]``.

    Args:
        input: the tensor.
        dims: the dimensions to reverse, as separate ints or one tuple.

    >>> import ember
    >>> ember.tensor([1, 2, 3]).flip(0).tolist()
    [3, 2, 1]
    """
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    axes = tuple(normalize_dim(d, input._data.ndim, "flip") for d in dims)
    if not axes:
        return input
    return share_version(Flip.apply(input, axes=axes), input)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements cyclically: ``out[(i + shift) % n] = input[i]`` along each of ``dims``
    (over the flattened tensor when ``dims`` is None).

    Args:
        input: the tensor.
        shifts: an int, or one int per dim.
        dims: a dim, a tuple of dims, or None.

    >>> import ember
    >>> ember.tensor([1, 2, 3, 4]).roll(1).tolist()
    [4, 1, 2, 3]
    """
    if dims is None:
        if not isinstance(shifts, (int, np.integer)):
            raise RuntimeError(f"roll: without dims, shifts must be one integer, got {shifts!r}")
        return Roll.apply(input, shifts=int(shifts), axes=None)
    if isinstance(dims, (int, np.integer)):
        dims, shifts = (dims,), (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    dims, shifts = tuple(dims), tuple(int(s) for s in shifts)
    if len(dims) != len(shifts):
        raise RuntimeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(normalize_dim(d, input._data.ndim, "roll") for d in dims)
    return Roll.apply(input, shifts=shifts, axes=axes)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions: ``out[..., i, j] = input[..., i, j]`` if
    ``j - i <= diagonal`` else 0.

    Args:
        input: a tensor with at least 2 dimensions.
        diagonal: which diagonal bounds the triangle (0 the main one, >0 above it).

    >>> import ember
    >>> ember.ones(2, 2).tril().tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    _check_matrix(input, "tril")
    return Tril.apply(input, k=int(diagonal), upper=False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions: ``out[..., i, j] = input[..., i, j]`` if
    ``j - i >= diagonal`` else 0.

    Args:
        input: a tensor with at least 2 dimensions.
        diagonal: which diagonal bounds the triangle (0 the main one, >0 above it).

    >>> import ember
    >>> ember.ones(2, 2).triu(1).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    _check_matrix(input, "triu")
    return Tril.apply(input, k=int(diagonal), upper=True)


def _check_matrix(input: Tensor, op: str) -> None:
    if input._data.ndim < 2:
        raise RuntimeError(f"{op}: expected a tensor with at least 2 dimensions, got shape {tuple(input.shape)}")


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions, as ``torch.nn.functional.pad``.

    ``pad = (left_last, right_last, left_second_last, right_second_last, ...)`` counts from
    the last dimension backwards. Modes: "constant" (fill with ``value``, default 0;
    negative pads crop), "reflect" (mirror without repeating the edge), "replicate"
    (repeat the edge), "circular" (wrap around).

    Args:
        input: the tensor.
        pad: an even-length sequence of pad sizes.
        mode: "constant", "reflect", "replicate" or "circular".
        value: the fill value for "constant".

    >>> import ember
    >>> ember.pad(ember.tensor([[1.0, 2.0]]), (1, 2), value=9.0).tolist()
    [[9.0, 1.0, 2.0, 9.0, 9.0]]
    >>> ember.pad(ember.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
    """
    pad = tuple(int(p) for p in pad)
    shape = input._data.shape
    nd = len(shape)
    if len(pad) % 2 or len(pad) // 2 > nd:
        raise ValueError(f"pad: expected an even number of pad sizes covering at most {nd} dimensions, "
                         f"got {pad} for shape {tuple(shape)}")
    pairs = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        pairs[nd - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        if any(lo < 0 or hi < 0 for lo, hi in pairs):
            widths = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
            padded = [n + lo + hi for n, (lo, hi) in zip(shape, widths)]
            crop = tuple(slice(-lo if lo < 0 else 0, n - (-hi if hi < 0 else 0))
                         for n, (lo, hi) in zip(padded, pairs))
            for (lo, hi), n in zip(pairs, shape):
                if n + lo + hi < 0:
                    raise ValueError(f"pad: pads {pad} crop more than the input shape {tuple(shape)} holds")
        else:
            widths, crop = tuple(pairs), None
        if all(w == (0, 0) for w in widths):
            widths = ()
        return ConstantPad.apply(input, widths=widths, crop=crop, value=0 if value is None else value)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: unknown mode {mode!r}; expected 'constant', 'reflect', 'replicate' or 'circular'")
    indices = []
    for axis, (lo, hi) in enumerate(pairs):
        if lo == 0 and hi == 0:
            continue
        n = shape[axis]
        if lo < 0 or hi < 0:
            raise ValueError(f"pad: negative pads are only supported in 'constant' mode, got {pad}")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than the padded dimension "
                             f"{axis} of shape {tuple(shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: circular padding ({lo}, {hi}) must not exceed dimension {axis} of shape "
                             f"{tuple(shape)}")
        idx = np.pad(np.arange(n), (lo, hi), mode=_PAD_MODES[mode])
        indices.append((axis, input._device.backend.from_numpy(idx, input._device.index or 0)))
    if not indices:
        return input
    return IndexPad.apply(input, indices=tuple(indices))


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile ``input``: ``repeat(2, 3)`` makes ``out.shape == (2 * rows, 3 * cols)`` (``numpy.tile``).

    ``len(sizes)`` must be at least ``input.ndim``; extra sizes add leading dimensions.
    The gradient sums over the copies.

    Args:
        input: the tensor.
        sizes: the number of copies along each dimension.

    >>> import ember
    >>> ember.tensor([1, 2]).repeat(2).tolist()
    [1, 2, 1, 2]
    """
    sizes = _sizes(sizes, "repeat")
    if len(sizes) < input._data.ndim:
        raise RuntimeError(f"repeat: the number of repeats ({len(sizes)}) can't be smaller than the tensor's "
                           f"number of dimensions ({input._data.ndim}); shape {tuple(input.shape)}")
    return Repeat.apply(input, reps=sizes)


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``input`` restricted to ``start:start + length`` along ``dim`` (a view).

    Args:
        input: the tensor.
        dim: the dimension to narrow.
        start: the first index kept (negative counts from the end).
        length: how many indices to keep.

    >>> import ember
    >>> ember.narrow(ember.arange(6), 0, 2, 3).tolist()
    [2, 3, 4]
    """
    shape = input._data.shape
    d = normalize_dim(dim, len(shape), "narrow")
    n = shape[d]
    if start < 0:
        start += n
    if start < 0 or length < 0 or start + length > n:
        raise IndexError(f"narrow: start {start} and length {length} exceed dimension {d} of size {n} "
                         f"(shape {tuple(shape)})")
    key = (slice(None),) * d + (slice(start, start + length),)
    return share_version(Narrow.apply(input, key=key), input)
