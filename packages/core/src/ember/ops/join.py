"""Joining and splitting: cat, stack, split, chunk, unbind."""

from __future__ import annotations

from .. import dtypes
from ..autograd.function import Function
from ..tensor import Tensor
from .shape import narrow, normalize_dim

__all__ = ["cat", "concat", "concatenate", "stack", "split", "chunk", "unbind"]


class Cat(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        return self.xp.concatenate(arrays, axis=axis)

    def backward(self, grad):
        axis = self.axis
        head = (slice(None),) * axis
        grads = []
        start = 0
        for need, (shape, _) in zip(self.needs_input_grad, self.in_meta):
            stop = start + shape[axis]
            grads.append(grad[head + (slice(start, stop),)] if need else None)
            start = stop
        return tuple(grads)


class Stack(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        return self.xp.stack(arrays, axis=axis)

    def backward(self, grad):
        head = (slice(None),) * self.axis
        return tuple(grad[head + (i,)] if need else None for i, need in enumerate(self.needs_input_grad))


def _tensors(tensors, op: str) -> list:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a sequence of tensors, got a single tensor; wrap it in a list")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected tensors, got {type(t).__name__} at position {i}")
    first = tensors[0]._data.dtype
    if any(t._data.dtype != first for t in tensors):
        target = tensors[0].dtype
        for t in tensors[1:]:
            target = dtypes.promote_types(target, t.dtype)
        tensors = [t if t._data.dtype == target.numpy else t.to(target) for t in tensors]
    return tensors


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension ``dim``; their shapes must match elsewhere.

    Mixed dtypes are promoted; the gradient is split back into the pieces.

    Args:
        tensors: a sequence of tensors with the same number of dimensions.
        dim: the dimension to join along.

    >>> import ember
    >>> ember.cat([ember.zeros(2, 3), ember.ones(1, 3)]).shape
    (3, 3)
    """
    tensors = _tensors(tensors, "cat")
    first = tensors[0]._data.shape
    axis = normalize_dim(dim, len(first), "cat")
    if not first:
        raise RuntimeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    for i, t in enumerate(tensors[1:], 1):
        shape = t._data.shape
        if len(shape) != len(first) or any(a != b for d, (a, b) in enumerate(zip(shape, first)) if d != axis):
            raise RuntimeError(f"cat: tensors must have the same shape except in dimension {axis}; got shape "
                               f"{tuple(first)} at position 0 and shape {tuple(shape)} at position {i}")
    if len(tensors) == 1:
        return tensors[0]
    return Cat.apply(*tensors, axis=axis)


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dimension ``dim``: ``out.select(dim, i) == tensors[i]``.

    Args:
        tensors: a sequence of tensors of the same shape.
        dim: where the new dimension goes (0 to ndim).

    >>> import ember
    >>> ember.stack([ember.zeros(2, 3), ember.ones(2, 3)], dim=1).shape
    (2, 2, 3)
    """
    tensors = _tensors(tensors, "stack")
    first = tensors[0]._data.shape
    axis = normalize_dim(dim, len(first), "stack", extra=1)
    for i, t in enumerate(tensors[1:], 1):
        if t._data.shape != first:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got shape {tuple(first)} at "
                               f"position 0 and shape {tuple(t.shape)} at position {i}")
    return Stack.apply(*tensors, axis=axis)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of
    the listed sizes. The pieces are views.

    Args:
        tensor: the tensor.
        split_size_or_sections: an int piece size, or a list of sizes summing to ``tensor.size(dim)``.
        dim: the dimension to split.

    >>> import ember
    >>> [p.shape for p in ember.arange(5).split(2)]
    [(2,), (2,), (1,)]
    >>> [p.tolist() for p in ember.arange(5).split([1, 4])]
    [[0], [1, 2, 3, 4]]
    """
    shape = tensor._data.shape
    axis = normalize_dim(dim, len(shape), "split")
    n = shape[axis] if shape else 0
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise RuntimeError(f"split: sizes {sizes} must be non-negative and sum to {n}, the size of "
                               f"dimension {axis} of shape {tuple(shape)}")
    else:
        size = int(split_size_or_sections)
        if size <= 0 and not (size == 0 and n == 0):
            raise RuntimeError(f"split: the split size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
    out, start = [], 0
    for s in sizes:
        out.append(narrow(tensor, axis, start, s))
        start += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of ``ceil(size / chunks)`` along ``dim`` (fewer if the size
    runs out, as PyTorch). The pieces are views.

    Args:
        input: the tensor.
        chunks: the number of pieces wanted.
        dim: the dimension to split.

    >>> import ember
    >>> [p.shape for p in ember.zeros(6, 2).chunk(3)]
    [(2, 2), (2, 2), (2, 2)]
    """
    if chunks <= 0:
        raise RuntimeError(f"chunk: the number of chunks must be positive, got {chunks}")
    shape = input._data.shape
    axis = normalize_dim(dim, len(shape), "chunk")
    n = shape[axis]
    size = -(-n // chunks) if n else 0
    if size == 0:
        return tuple(split(input, [0] * chunks if n == 0 else [n], axis))
    return split(input, size, axis)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices of ``input`` along ``dim``, each without that dimension (views).

    Args:
        input: the tensor.
        dim: the dimension to take apart.

    >>> import ember
    >>> [t.tolist() for t in ember.unbind(ember.tensor([[1, 2], [3, 4]]), 1)]
    [[1, 3], [2, 4]]
    """
    shape = input._data.shape
    axis = normalize_dim(dim, len(shape), "unbind")
    head = (slice(None),) * axis
    return tuple(input[head + (i,)] for i in range(shape[axis]))
