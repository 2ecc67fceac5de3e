"""``SliceGrad``: the gradient of a basic-indexing view, kept as its slices until it is used.

The gradient of ``x[key]`` with respect to ``x`` is zero outside ``key``. When several views
of one tensor feed the graph (q, k and v cut from one projection, a sequence's first token
and the rest), the engine collects their slices here and writes them into one zero buffer
when the gradient is needed: one fill and one write per slice, instead of a zero-filled copy
of ``x`` per view and a full-size sum for every pair of them.
"""

from __future__ import annotations

import numpy as np

from ..host_threads import binary

__all__ = ["SliceGrad", "dense", "accumulate"]


class SliceGrad:
    """Zero everywhere but at the listed keys of a ``shape``/``dtype`` array, where the values add."""

    __slots__ = ("shape", "dtype", "xp", "in_place", "parts")

    def __init__(self, shape, dtype, xp, in_place: bool, key, values) -> None:
        self.shape, self.dtype, self.xp = tuple(shape), dtype, xp
        self.in_place = in_place  # the backend's arrays have views: ``out[key] += v`` writes through
        self.parts = [(key, values)]

    def add(self, other):
        """This gradient plus ``other`` (a SliceGrad, kept sparse, or an array, giving an array)."""
        if isinstance(other, SliceGrad):
            self.parts.extend(other.parts)
            return self
        if self.in_place:
            out = other.copy()  # ``other`` may be shared with another node: never write into it
            for key, values in self.parts:
                out[key] += values
            return out
        return other + self.materialize()

    def materialize(self):
        """The gradient as an array of ``shape``."""
        rows = _disjoint_row_blocks(self.parts, self.shape)
        if rows is not None:  # q, k and v of one projection: plain writes, and no fill when they tile it
            out = (self.xp.empty if rows == self.shape[0] else self.xp.zeros)(self.shape, self.dtype)
            for key, values in self.parts:
                out[key] = values
            return out
        out = self.xp.zeros(self.shape, self.dtype)
        for i, (key, values) in enumerate(self.parts):
            if i == 0:
                out[key] = values
            elif self.in_place:
                out[key] += values
            else:
                out[key] = out[key] + values
        return out

    def arrays(self) -> list:
        """The values of the slices (what an anomaly check looks at)."""
        return [values for _, values in self.parts]


def _row_block(key, n: int):
    """``(start, stop)`` when ``key`` selects whole rows ``start:stop`` of an array with ``n`` rows, else None."""
    if isinstance(key, tuple):
        if not key or any(k != slice(None) for k in key[1:]):
            return None
        key = key[0]
    if not isinstance(key, slice):
        return None
    start, stop, step = key.indices(n)
    return (start, max(start, stop)) if step == 1 else None


def _disjoint_row_blocks(parts, shape):
    """The number of rows the parts cover when each is a block of whole rows and no two overlap, else None."""
    if not shape or len(parts) < 2:
        return None
    blocks = []
    for key, _ in parts:
        block = _row_block(key, shape[0])
        if block is None:
            return None
        blocks.append(block)
    blocks.sort()
    for (_, stop), (start, _) in zip(blocks, blocks[1:]):
        if start < stop:
            return None
    return sum(stop - start for start, stop in blocks)


def dense(grad):
    """``grad`` as an array (a SliceGrad is materialised)."""
    return grad.materialize() if isinstance(grad, SliceGrad) else grad


def accumulate(previous, grad):
    """``previous + grad`` for gradients that may be SliceGrads (``previous`` may be None)."""
    if previous is None:
        return grad
    if isinstance(previous, SliceGrad):
        return previous.add(grad)
    if isinstance(grad, SliceGrad):
        return grad.add(previous)
    return binary(np.add, previous, grad)
