"""DataLoader: batches from a dataset, optionally shuffled and prepared ahead in threads.

``num_workers > 0`` prepares batches in a pool of *threads* (not processes, unlike
PyTorch): NumPy releases the GIL while it copies and gathers arrays, so batch assembly
overlaps with the training step without pickling datasets into worker processes. A
dataset read from several threads at once must tolerate it (plain arrays and tensors do),
and one that draws random numbers while loading should use its own ``ember.Generator``
per call rather than ember's shared default one, or the draws will interleave
nondeterministically.

The loader is resumable exactly: ``state_dict()`` records the epoch, how many batches of
it were handed out, and the sampler's per-epoch seed; after ``load_state_dict`` the next
``iter()`` continues that epoch from the next batch, in the same order.
"""

from __future__ import annotations

import collections
import itertools
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as _FutureTimeout
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..tensor import Tensor
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate"]

_STATE_VERSION = 1


def default_collate(batch: Sequence[Any]):
    """Stack a list of samples into a batch, keeping the samples' structure.

    Tensors and NumPy arrays are stacked along a new first dimension (into an ember tensor
    on the samples' device); Python ints become int64, floats the default float dtype,
    bools bool, NumPy scalars keep their dtype. Dicts collate key by key, tuples, lists
    and namedtuples position by position (a tuple stays a tuple, where PyTorch returns a
    list); strings and bytes are gathered into a list.

    >>> import ember
    >>> out = default_collate([{"x": ember.tensor([1.0, 2.0]), "y": 0}, {"x": ember.tensor([3.0, 4.0]), "y": 1}])
    >>> out["x"].shape, out["y"].tolist()
    ((2, 2), [0, 1])
    """
    from .. import dtypes
    from ..device import CPU

    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        device = elem._device
        for b in batch:
            if not isinstance(b, Tensor):
                raise TypeError(f"default_collate: a batch mixes tensors with {type(b).__name__}")
            if b._device is not device:
                raise RuntimeError(f"default_collate: samples on different devices ({device} and {b._device})")
        shapes = {b.shape for b in batch}
        if len(shapes) != 1:
            raise RuntimeError(f"default_collate: can't stack tensors of different shapes {sorted(shapes)}; "
                               "pad them or pass a collate_fn")
        return Tensor._make(device.backend.xp.stack([b._data for b in batch]), device, None)
    if isinstance(elem, (np.ndarray, np.generic)) and not isinstance(elem, (np.str_, np.bytes_)):
        arrays = [np.asarray(b) for b in batch]
        if arrays[0].dtype.kind in "USO":
            raise TypeError(f"default_collate: can't batch NumPy arrays of dtype {arrays[0].dtype}")
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise RuntimeError(f"default_collate: can't stack arrays of different shapes {sorted(shapes)}; "
                               "pad them or pass a collate_fn")
        out = np.stack(arrays)
        dtypes.from_numpy_dtype(out.dtype)  # a clear error for a dtype ember lacks
        return Tensor._make(out, CPU, None)
    if isinstance(elem, (bool, np.bool_)):
        return Tensor._make(np.array(batch, dtype=np.bool_), CPU, None)
    if isinstance(elem, int):
        return Tensor._make(np.array(batch, dtype=np.int64), CPU, None)
    if isinstance(elem, float):
        return Tensor._make(np.array(batch, dtype=dtypes.get_default_dtype().numpy), CPU, None)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        keys = list(elem.keys())
        for b in batch:
            if not isinstance(b, Mapping) or set(b.keys()) != set(keys):
                raise RuntimeError(f"default_collate: every dict in a batch needs the same keys; got {keys} and "
                                   f"{list(b.keys()) if isinstance(b, Mapping) else type(b).__name__}")
        collated = {k: default_collate([b[k] for b in batch]) for k in keys}
        try:
            return type(elem)(collated) if type(elem) is not dict else collated
        except TypeError:
            return collated
    if isinstance(elem, (tuple, list)):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError("default_collate: every sample in a batch needs the same number of fields")
        fields = [default_collate(list(samples)) for samples in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: samples must be tensors, NumPy arrays, numbers, strings, dicts, tuples "
                    f"or lists; got {type(elem).__name__} (pass a collate_fn for other types)")


class DataLoader:
    """Iterate over a dataset in batches.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``) or an IterableDataset.
        batch_size: samples per batch; ``None`` yields samples one by one, unbatched.
        shuffle: a new random order every epoch (a :class:`RandomSampler`).
        sampler: the index order (instead of ``shuffle``).
        batch_sampler: yields whole lists of indices (instead of batch_size/shuffle/sampler/drop_last).
        num_workers: ``0`` loads in the calling thread; ``n > 0`` prepares batches ahead in
            ``n`` background threads (threads, not processes: see the module's docstring).
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`).
        pin_memory: accepted for PyTorch compatibility and ignored.
        timeout: with workers, seconds to wait for a batch before raising (0: forever).
        worker_init_fn: with workers, called as ``worker_init_fn(worker_id)`` in each
            worker thread as it starts.
        persistent_workers: accepted for PyTorch compatibility; threads are cheap to
            start, so every epoch starts its own.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        generator: the ``ember.Generator`` that shuffles. Without one, each epoch's order
            is seeded from ember's default generator, so ``ember.manual_seed`` fixes it.
        prefetch_factor: batches prepared ahead per worker (default 2; needs ``num_workers > 0``).

    For a :class:`TensorDataset` (or a Subset of one) with the default collation, each
    batch is gathered with one fancy-index per tensor rather than item by item.

    >>> import ember
    >>> from ember.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(ember.tensor([[1.0], [2.0], [3.0]]), ember.tensor([0, 1, 0])), batch_size=2)
    >>> [(x.shape, y.tolist()) for x, y in loader]
    [((2, 1), [0, 1]), ((1, 1), [0])]
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn: Callable | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False) -> None:
        if not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}")
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError("prefetch_factor needs num_workers > 0 (batches are prepared ahead only in workers)")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor < 1):
            raise ValueError(f"prefetch_factor must be a positive integer, got {prefetch_factor!r}")
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.persistent_workers = persistent_workers
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            if shuffle:
                raise ValueError("DataLoader: shuffle is not supported for an IterableDataset (shuffle the stream "
                                 "inside the dataset)")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an IterableDataset takes no sampler or batch_sampler")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler is mutually exclusive with batch_size, shuffle, sampler and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("drop_last needs a batch_size (batch_size=None yields unbatched samples)")
        if sampler is not None and shuffle:
            raise ValueError("sampler is mutually exclusive with shuffle (the sampler decides the order)")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool)
                                       or batch_size <= 0):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")

        if not self._iterable:
            if sampler is None:
                sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
            if batch_size is not None and batch_sampler is None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else (lambda x: x))
        self._default_collate = collate_fn is None or collate_fn is default_collate

        self._epoch = -1           # index of the current (or last started) epoch
        self._yielded = 0          # batches of it handed out
        self._in_progress = False  # an epoch started and not exhausted
        self._pending: int | None = None  # batches to skip on the next iter() (after load_state_dict)
        self._active = None        # token of the iterator whose progress we track

    # -- sizes ---------------------------------------------------------------------------

    def __len__(self) -> int:
        if self._iterable:
            raise TypeError("len() of a DataLoader over an IterableDataset is unknown")
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    @property
    def epoch(self) -> int:
        """The epoch in progress (or about to resume), else the index of the next one."""
        return self._epoch if self._in_progress else self._epoch + 1

    # -- iteration -----------------------------------------------------------------------

    def _fetcher(self) -> Callable:
        dataset, collate = self.dataset, self.collate_fn
        if self._auto_collation:
            if self._default_collate and hasattr(dataset, "_get_batch"):
                return dataset._get_batch
            return lambda indices: collate([dataset[i] for i in indices])
        return lambda index: collate(dataset[index])

    def __iter__(self):
        if self._pending is not None:
            skip, self._pending = self._pending, None
        else:
            skip = 0
            self._epoch += 1
        self._yielded, self._in_progress = skip, True
        token = object()
        self._active = token
        if self._iterable:
            source = self._iterable_batches(skip)
            if self.num_workers > 0:
                return _QueueIter(self, token, source, self.num_workers * self.prefetch_factor)
            return _PlainIter(self, token, source)
        # The sampler draws its order here, in the caller's thread, before any worker runs.
        indices = iter(self.batch_sampler if self._auto_collation else self.sampler)
        for _ in range(skip):
            if next(indices, _END) is _END:
                break
        fetch = self._fetcher()
        if self.num_workers > 0:
            return _PoolIter(self, token, indices, fetch, self.num_workers, self.num_workers * self.prefetch_factor,
                             self.worker_init_fn, self.timeout)
        return _PlainIter(self, token, map(fetch, indices))

    def _iterable_batches(self, skip: int):
        stream = iter(self.dataset)
        if not self._auto_collation:
            stream = itertools.islice(stream, skip, None)
            for item in stream:
                yield self.collate_fn(item)
            return
        size = self.batch_size
        if skip:
            for _ in itertools.islice(stream, skip * size):
                pass
        while True:
            chunk = list(itertools.islice(stream, size))
            if not chunk or (self.drop_last and len(chunk) < size):
                return
            yield self.collate_fn(chunk)

    def _advance(self, token) -> None:
        if token is self._active:
            self._yielded += 1

    def _finish(self, token) -> None:
        if token is self._active:
            self._in_progress = False

    # -- resuming ------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Where iteration stands: a dict of plain values (JSON-friendly) that
        :meth:`load_state_dict` takes back.

        Keys: ``epoch`` (the epoch in progress, else the next one), ``batches_yielded``
        (of that epoch), ``in_progress``, ``sampler`` (the sampler's own state: the epoch's
        seed and, for a loader with its own generator, that generator's state), and the
        ``dataset_length``/``batch_size``/``drop_last`` it was taken with, checked on load.
        ember's default generator, which a loader without a generator shuffles from, is
        not included: ``ember.get_rng_state`` (and ``ember.save_checkpoint``) cover it.
        """
        sampler = self._stateful_sampler()
        return {
            "version": _STATE_VERSION,
            "epoch": self.epoch,
            "batches_yielded": self._yielded if self._in_progress else 0,
            "in_progress": self._in_progress,
            "sampler": sampler.state_dict() if sampler is not None else None,
            "dataset_length": None if self._iterable else len(self.dataset),
            "batch_size": self.batch_size,
            "drop_last": self.drop_last,
        }

    def _stateful_sampler(self):
        """The sampler whose state decides the order (``None`` when the order keeps none)."""
        if self._iterable:
            return None
        candidate = self.sampler if self.sampler is not None else self.batch_sampler
        if hasattr(candidate, "state_dict") and hasattr(candidate, "load_state_dict"):
            return candidate
        return None

    def check_state_dict(self, state) -> None:
        """Raise ``ValueError`` if ``state`` can't be loaded into this loader (changes nothing)."""
        if not isinstance(state, Mapping):
            raise ValueError(f"DataLoader state must be a dict, got {type(state).__name__}")
        required = ("epoch", "batches_yielded", "in_progress", "sampler", "dataset_length", "batch_size")
        missing = [k for k in required if k not in state]
        if missing:
            raise ValueError(f"DataLoader state is missing {missing}; expected what DataLoader.state_dict() returns")
        for key in ("epoch", "batches_yielded"):
            if not isinstance(state[key], (int, np.integer)) or isinstance(state[key], bool) or state[key] < 0:
                raise ValueError(f"DataLoader state: {key!r} must be a non-negative integer, got {state[key]!r}")
        here = None if self._iterable else len(self.dataset)
        if state["dataset_length"] != here:
            raise ValueError(f"DataLoader state was taken over a dataset of length {state['dataset_length']}, "
                             f"this loader's has {here}: the batches would not line up")
        if state["batch_size"] != self.batch_size or bool(state.get("drop_last", False)) != self.drop_last:
            raise ValueError(f"DataLoader state was taken with batch_size={state['batch_size']}, "
                             f"drop_last={state.get('drop_last')}; this loader has batch_size={self.batch_size}, "
                             f"drop_last={self.drop_last}")
        if not self._iterable and state["in_progress"] and state["batches_yielded"] > len(self):
            raise ValueError(f"DataLoader state: {state['batches_yielded']} batches yielded, but an epoch has {len(self)}")
        sampler = self._stateful_sampler()
        if (state["sampler"] is None) != (sampler is None):
            raise ValueError("DataLoader state: the sampler state does not match this loader's sampler "
                             f"(state has {'none' if state['sampler'] is None else 'one'}, this loader's sampler "
                             f"{'keeps none' if sampler is None else 'keeps one'}); was it saved with shuffle set "
                             "the same way?")
        sampler_state = state["sampler"]
        if sampler_state is not None:
            inner = sampler_state.get("sampler", sampler_state) if isinstance(sampler_state, Mapping) else None
            if isinstance(inner, Mapping) and "generator_state" in inner:
                own = getattr(sampler.sampler if isinstance(sampler, BatchSampler) else sampler, "generator", None)
                if (inner["generator_state"] is None) != (own is None):
                    raise ValueError("DataLoader state: saved with " + ("its own generator" if own is None else
                                     "ember's default generator") + " but this loader uses " +
                                     ("ember's default generator" if own is None else "its own generator"))

    def load_state_dict(self, state: dict) -> None:
        """Resume from :meth:`state_dict`: the next ``iter()`` continues the recorded epoch
        (if one was in progress) from its next batch, in the same order."""
        self.check_state_dict(state)
        sampler = self._stateful_sampler()
        if sampler is not None:
            sampler_state = _without_seed(state["sampler"]) if not state["in_progress"] else state["sampler"]
            sampler.load_state_dict(sampler_state)
        self._active = None
        if state["in_progress"]:
            self._epoch, self._in_progress = int(state["epoch"]), True
            self._yielded = self._pending = int(state["batches_yielded"])
        else:
            self._epoch, self._in_progress = int(state["epoch"]) - 1, False
            self._yielded, self._pending = 0, None


def _without_seed(state):
    if isinstance(state, Mapping):
        return {k: (None if k == "seed" else _without_seed(v) if k == "sampler" else v) for k, v in state.items()}
    return state


_END = object()


class _PlainIter:
    """Batches made in the calling thread."""

    def __init__(self, loader: DataLoader, token, source) -> None:
        self._loader, self._token, self._source = loader, token, source

    def __iter__(self):
        return self

    def __next__(self):
        try:
            batch = next(self._source)
        except StopIteration:
            self._loader._finish(self._token)
            raise
        self._loader._advance(self._token)
        return batch


class _PoolIter:
    """Batches of a map-style dataset fetched ahead by a thread pool, handed out in order."""

    def __init__(self, loader: DataLoader, token, indices, fetch, workers: int, depth: int,
                 worker_init_fn=None, timeout: float = 0) -> None:
        self._loader, self._token, self._indices, self._fetch = loader, token, indices, fetch
        self._timeout = timeout if timeout and timeout > 0 else None
        initializer = None
        if worker_init_fn is not None:
            ids = itertools.count()
            lock = threading.Lock()

            def initializer():
                with lock:
                    worker_id = next(ids)
                worker_init_fn(worker_id)

        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ember-data",
                                        initializer=initializer)
        self._futures: collections.deque = collections.deque()
        self._depth = depth
        self._fill()

    def _fill(self) -> None:
        while self._indices is not None and len(self._futures) < self._depth:
            batch = next(self._indices, _END)
            if batch is _END:
                self._indices = None
                break
            self._futures.append(self._pool.submit(self._fetch, batch))

    def __iter__(self):
        return self

    def __next__(self):
        if not self._futures:
            self.close()
            self._loader._finish(self._token)
            raise StopIteration
        future = self._futures.popleft()
        try:
            batch = future.result(timeout=self._timeout)
        except _FutureTimeout:
            self.close()
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds waiting for a batch") from None
        except BaseException:
            self.close()
            raise
        self._fill()
        self._loader._advance(self._token)
        return batch

    def close(self) -> None:
        for f in self._futures:
            f.cancel()
        self._futures.clear()
        self._indices = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class _QueueIter:
    """Batches of an IterableDataset made ahead by one background thread."""

    def __init__(self, loader: DataLoader, token, source, depth: int) -> None:
        self._loader, self._token = loader, token
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        # The thread holds the queue and the event, not this object, so an abandoned
        # iterator is collected and its __del__ stops the thread.
        self._thread = threading.Thread(target=_produce, args=(source, self._queue, self._stop),
                                        name="ember-data", daemon=True)
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        ok, value = self._queue.get()
        if not ok:
            self._done = True
            self._stop.set()
            if value is not None:
                raise value
            self._loader._finish(self._token)
            raise StopIteration
        self._loader._advance(self._token)
        return value

    def close(self) -> None:
        self._done = True
        self._stop.set()

    def __del__(self):
        self._stop.set()


def _put(q: queue.Queue, stop: threading.Event, item) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _produce(source, q: queue.Queue, stop: threading.Event) -> None:
    try:
        for batch in source:
            if not _put(q, stop, (True, batch)):
                return
        _put(q, stop, (False, None))
    except BaseException as exc:  # handed to the consumer
        _put(q, stop, (False, exc))
