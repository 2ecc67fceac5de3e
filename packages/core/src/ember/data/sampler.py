"""Samplers: which dataset indices a DataLoader visits, and in what order.

A shuffling sampler draws one 63-bit seed per epoch from its generator (ember's default
generator unless it was given one) and builds that epoch's order from the seed alone. The
seed is what ``state_dict`` records, so an interrupted epoch can be rebuilt exactly without
rewinding the generator (which, when it is ember's default one, dropout and initialisation
share).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler"]


class Sampler:
    """Base class: an iterable of dataset indices (or, for a batch sampler, lists of them)."""

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1.

    >>> list(SequentialSampler(range(3)))
    [0, 1, 2]
    """

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _resolve_generator(generator):
    if generator is None:
        from .. import random as _random

        return _random.default_generator
    if not hasattr(generator, "numpy") or not hasattr(generator, "get_state"):
        raise TypeError(f"generator must be an ember.Generator, got {type(generator).__name__}")
    return generator


class _SeededSampler(Sampler):
    """Shared machinery of the shuffling samplers: one seed per epoch, drawn eagerly."""

    generator = None

    def _next_seed(self) -> int:
        pending = getattr(self, "_pending_seed", None)
        if pending is not None:
            self._pending_seed = None
            self._seed = pending
            return pending
        seed = int(_resolve_generator(self.generator).numpy.integers(0, 2**63 - 1, dtype=np.int64))
        self._seed = seed
        return seed

    def state_dict(self) -> dict:
        """``seed``: the seed of the epoch drawn last; ``generator_state``: the state of the
        sampler's own generator (``None`` when it draws from ember's default generator, whose
        state ``ember.get_rng_state`` covers)."""
        own = self.generator is not None
        return {"seed": getattr(self, "_seed", None),
                "generator_state": self.generator.get_state() if own else None}

    def load_state_dict(self, state: dict) -> None:
        """Restore the sampler's own generator; a ``seed`` (not ``None``) is used by the next
        ``iter()`` instead of drawing a fresh one, which rebuilds an interrupted epoch."""
        if not isinstance(state, dict) or "seed" not in state:
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected a dict with 'seed' and "
                             f"'generator_state', got {state!r:.200}")
        seed = state["seed"]
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: 'seed' must be an integer or None, got {seed!r}")
        gen_state = state.get("generator_state")
        if gen_state is not None:
            if self.generator is None:
                raise ValueError(f"{type(self).__name__}.load_state_dict: the state holds a generator state "
                                 "but this sampler has no generator of its own")
            self.generator.set_state(gen_state)
        self._pending_seed = None if seed is None else int(seed)
        if seed is not None:
            self._seed = int(seed)  # what state_dict reports until the next epoch is drawn


class RandomSampler(_SeededSampler):
    """A random permutation of the indices (or ``num_samples`` draws with replacement).

    Args:
        data_source: anything with ``len()``.
        replacement: draw with replacement.
        num_samples: how many indices an epoch yields (default ``len(data_source)``).
        generator: an ``ember.Generator``; ``None`` draws each epoch's seed from ember's
            default generator, so ``ember.manual_seed`` makes the order reproducible.

    >>> import ember
    >>> _ = ember.manual_seed(0)
    >>> sorted(RandomSampler(range(5)))
    [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None) -> None:
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = None if generator is None else _resolve_generator(generator)
        if num_samples is not None and (not isinstance(num_samples, (int, np.integer)) or num_samples <= 0):
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
        if num_samples is not None and not replacement and num_samples != len(data_source):
            raise ValueError("num_samples can only differ from len(data_source) with replacement=True")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def indices(self, seed: int) -> np.ndarray:
        """The epoch's indices for ``seed`` (an int64 array)."""
        rng = np.random.default_rng(seed)
        n = len(self.data_source)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        return rng.permutation(n).astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        # Drawn now, not lazily: the order must not depend on when a prefetch thread starts.
        return iter(self.indices(self._next_seed()).tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_SeededSampler):
    """The given indices, in a random order each epoch."""

    def __init__(self, indices: Sequence[int], generator=None) -> None:
        self.indices_ = np.asarray(list(indices), dtype=np.int64)
        self.generator = None if generator is None else _resolve_generator(generator)

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng(self._next_seed()).permutation(len(self.indices_))
        return iter(self.indices_[order].tolist())

    def __len__(self) -> int:
        return len(self.indices_)


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size``.

    >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), bool(drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)  # the sampler draws its order here, eagerly
        return self._batches(indices)

    def _batches(self, indices):
        batch: list[int] = []
        for index in indices:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.state_dict()} if hasattr(self.sampler, "state_dict") else {}

    def load_state_dict(self, state: dict) -> None:
        if "sampler" in state and hasattr(self.sampler, "load_state_dict"):
            self.sampler.load_state_dict(state["sampler"])
