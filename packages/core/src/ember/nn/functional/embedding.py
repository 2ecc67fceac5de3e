"""``embedding``: rows of a weight matrix looked up by index (one primitive)."""

from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor

__all__ = ["embedding", "one_hot"]


def scatter_rows(xp, indices, grad, num_rows: int):
    """sum_i grad[i] into row indices[i] of a (num_rows, D) zero matrix, repeats accumulated.

    The indices are sorted and each run of equal ones summed, so every row is written once.
    """
    flat = indices.reshape(-1)
    g = grad.reshape(flat.shape[0], -1)
    out = xp.zeros((num_rows, g.shape[1]), dtype=grad.dtype)
    if flat.shape[0] == 0:
        return out
    order = xp.argsort(flat, kind="stable")
    sorted_idx = flat[order]
    starts = xp.flatnonzero(xp.concatenate((xp.ones(1, dtype=bool), sorted_idx[1:] != sorted_idx[:-1])))
    if starts.shape[0] == flat.shape[0]:  # no repeats: a plain scatter
        out[flat] = g
    elif xp is np:
        out[sorted_idx[starts]] = _run_sums(g[order], starts)
    else:
        out[sorted_idx[starts]] = xp.add.reduceat(g[order], starts, axis=0)
    return out


def _run_sums(rows, starts):
    """The sums of ``rows[starts[i]:starts[i + 1]]`` (the last run to the end), on NumPy.

    NOTE: NumPy's ``add.reduceat`` over axis 0 took 6-11 ms for BERT's 2048 token gradients
    of 256; here the first two rows of every run are summed in two vectorised steps and only
    the longer runs (a padding token, a frequent word) in a loop: 1.1 ms.
    """
    counts = np.diff(starts, append=rows.shape[0])
    sums = rows[starts]
    repeated = counts > 1
    sums[repeated] += rows[starts[repeated] + 1]
    for j in np.flatnonzero(counts > 2):
        sums[j] += rows[starts[j] + 2:starts[j] + counts[j]].sum(axis=0)
    return sums


class Embedding(Function):
    """out[...] = weight[indices[...]]; d(weight) scatters the gradient back, summing repeats."""

    def forward(self, weight, indices, padding_idx=None):
        self.indices, self.padding_idx = indices, padding_idx
        self.num_rows = weight.shape[0]
        return self.xp.take(weight, indices, axis=0)

    def backward(self, grad):
        gw = scatter_rows(self.xp, self.indices, grad, self.num_rows)
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw.reshape(self.num_rows, *grad.shape[self.indices.ndim:]), None


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight``: out[i, j] = weight[input[i, j]].

    Args:
        input: integer indices of any shape, each in [0, num_embeddings).
        weight: (num_embeddings, embedding_dim).
        padding_idx: a row whose gradient is always zero (it stays as initialised).
        max_norm: renormalise (in place) looked-up rows whose ``norm_type``-norm exceeds this.

    Returns:
        ``input.shape + (embedding_dim,)``.

    >>> import ember
    >>> w = ember.arange(6.0).reshape(3, 2)
    >>> embedding(ember.tensor([2, 0]), w).tolist()
    [[4.0, 5.0], [0.0, 1.0]]
    """
    if scale_grad_by_freq or sparse:
        raise ValueError("embedding: scale_grad_by_freq=True and sparse=True are not supported; pass False")
    if not isinstance(input, Tensor) or input._data.dtype.kind not in "iu":
        what = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TypeError(f"embedding: indices must be an integer tensor, got {what}")
    if weight.ndim < 1:
        raise ValueError(f"embedding: weight must be at least 1-D, got shape {tuple(weight.shape)}")
    n = weight.shape[0]
    xp = weight._device.backend.xp
    idx = input._data
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings (valid: 0..{n - 1})")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {n} embeddings")
        padding_idx = padding_idx % n
    if max_norm is not None:
        with no_grad():
            rows = xp.unique(idx.reshape(-1))
            sub = weight._data[rows]
            norms = (xp.abs(sub) ** norm_type).reshape(len(rows), -1).sum(1) ** (1.0 / norm_type)
            scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(sub.dtype)
            weight._data[rows] = sub * scale.reshape(-1, *([1] * (sub.ndim - 1)))
            weight._bump_version()
    return Embedding.apply(weight, input, padding_idx=padding_idx)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer indices to one-hot int64 vectors along a new last dimension (``ember.one_hot``).

    >>> import ember
    >>> one_hot(ember.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    from ... import ops

    return ops.one_hot(tensor, num_classes)
