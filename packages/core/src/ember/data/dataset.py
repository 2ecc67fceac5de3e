"""Datasets: Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset, random_split.

A map-style dataset has ``__getitem__(index)`` and ``__len__``; an iterable one has
``__iter__``. A dataset may also offer ``_get_batch(indices)``, returning an already
collated batch: the DataLoader uses it instead of indexing and collating item by item
(TensorDataset and Subsets of it do, which turns a batch into one fancy-index per tensor).
"""

from __future__ import annotations

import bisect
import math
from typing import Sequence

import numpy as np

from ..tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]


class Dataset:
    """Base class of map-style datasets: ``dataset[i]`` for ``0 <= i < len(dataset)``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of datasets read as a stream (``__iter__``), such as files or generators."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        raise TypeError("IterableDatasets can't be concatenated with +; chain them with itertools.chain")


def _index_array(indices, n: int) -> np.ndarray:
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexError(f"index {int(bad)} is out of range for a dataset of length {n}")
    return idx


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension.

    ``dataset[i]`` is ``(t0[i], t1[i], ...)``.

    Args:
        *tensors: ember tensors (or NumPy arrays, wrapped without copying) with equal ``len``.

    >>> import ember
    >>> ds = TensorDataset(ember.tensor([[0, 1], [2, 3], [4, 5]]), ember.tensor([0, 1, 0]))
    >>> x, y = ds[1]
    >>> x.tolist(), y.item(), len(ds)
    ([2, 3], 1, 3)
    """

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        from ..creation import as_tensor

        tensors = tuple(t if isinstance(t, Tensor) else as_tensor(t) for t in tensors)
        for t in tensors:
            if t.ndim == 0:
                raise ValueError("TensorDataset: every tensor needs a first (sample) dimension, got a 0-d tensor")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: all tensors need the same first dimension, got sizes {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.item()
        return tuple(Tensor._make(t._data[index], t._device, None) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _get_batch(self, indices) -> tuple:
        idx = _index_array(indices, len(self))
        out = []
        for t in self.tensors:
            xp = t._device.backend.xp
            key = idx if xp is np else t._device.backend.from_numpy(idx, t._device.index or 0)
            out.append(Tensor._make(t._data[key], t._device, None))
        return tuple(out)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (in that order)."""

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = list(int(i) for i in indices)

    def __getitem__(self, index):
        if isinstance(index, (list, tuple, np.ndarray)):
            return [self.dataset[self.indices[int(i)]] for i in index]
        return self.dataset[self.indices[int(index)]]

    def __len__(self) -> int:
        return len(self.indices)

    def __getattr__(self, name):
        if name == "_get_batch" and hasattr(self.dataset, "_get_batch"):
            return self._batch_from_parent
        raise AttributeError(f"{type(self).__name__!s} object has no attribute {name!r}")

    def _batch_from_parent(self, indices):
        mine = np.asarray(self.indices, dtype=np.int64)
        return self.dataset._get_batch(mine[_index_array(indices, len(mine))])


class ConcatDataset(Dataset):
    """Several map-style datasets one after another."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = int(index)
        n = len(self)
        if index < 0:
            if -index > n:
                raise IndexError(f"index {index} is out of range for a dataset of length {n}")
            index += n
        if index >= n:
            raise IndexError(f"index {index} is out of range for a dataset of length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if which == 0 else self.cumulative_sizes[which - 1]
        return self.datasets[which][index - start]


def random_split(dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets.

    Args:
        dataset: a map-style dataset.
        lengths: the sizes of the parts (summing to ``len(dataset)``), or fractions summing
            to 1; with fractions, ``floor(f * n)`` each and the remainder handed out one by
            one from the first part on (PyTorch's rule).
        generator: an ``ember.Generator``; ``None`` uses ember's default generator.

    >>> import ember
    >>> a, b = random_split(range(10), [0.8, 0.2], generator=ember.Generator(0))
    >>> len(a), len(b), sorted(list(a.indices) + list(b.indices)) == list(range(10))
    (8, 2, True)
    """
    from .sampler import _resolve_generator

    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in lengths):
        if any(x < 0 for x in lengths) or sum(lengths) != n:
            raise ValueError(f"random_split: lengths {lengths} must be non-negative and sum to the dataset's "
                             f"length {n}")
        sizes = [int(x) for x in lengths]
    else:
        fractions = [float(x) for x in lengths]
        if any(f < 0 or f > 1 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
            raise ValueError(f"random_split: fractions {lengths} must lie in [0, 1] and sum to 1 "
                             "(or give integer lengths that sum to the dataset's length)")
        sizes = [int(math.floor(f * n)) for f in fractions]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    perm = _resolve_generator(generator).numpy.permutation(n).tolist()
    parts, start = [], 0
    for size in sizes:
        parts.append(Subset(dataset, perm[start:start + size]))
        start += size
    return parts
