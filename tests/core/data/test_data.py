"""ember.data: datasets, samplers, collation, the DataLoader and its exact resumption."""

from __future__ import annotations

import collections
import threading

import numpy as np
import pytest

import ember
from ember.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
                        SequentialSampler, Subset, SubsetRandomSampler, TensorDataset, default_collate, random_split)


def _np(t):
    return np.asarray(t._data)


def _make(n=10, d=3):
    x = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(ember.tensor(x), ember.tensor(y)), x, y


class ListDataset(Dataset):
    """A map-style dataset without the TensorDataset fast path."""

    def __init__(self, items):
        self.items = items

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield {"x": np.full(2, i, dtype=np.float32), "i": i}


def _batches(loader):
    out = []
    for batch in loader:
        out.append(tuple(_np(t).copy() for t in batch) if isinstance(batch, (tuple, list)) else batch)
    return out


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)
            assert u.dtype == v.dtype


# -- datasets ----------------------------------------------------------------------------

def test_tensor_dataset_items_and_len():
    ds, x, y = _make()
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(_np(xi), x[3])
    assert yi.item() == 3 and yi.dtype == ember.int64
    xi, _ = ds[-1]
    np.testing.assert_array_equal(_np(xi), x[-1])


def test_tensor_dataset_accepts_numpy_and_checks_sizes():
    ds = TensorDataset(np.zeros((4, 2), np.float32), np.arange(4))
    assert isinstance(ds.tensors[0], ember.Tensor) and len(ds) == 4
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(ember.zeros(3, 2), ember.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_subset_and_concat():
    ds, x, _ = _make()
    sub = Subset(ds, [5, 1, 7])
    assert len(sub) == 3
    np.testing.assert_array_equal(_np(sub[1][0]), x[1])
    both = ConcatDataset([sub, ds])
    assert len(both) == 13
    np.testing.assert_array_equal(_np(both[2][0]), x[7])
    np.testing.assert_array_equal(_np(both[3][0]), x[0])
    np.testing.assert_array_equal(_np(both[-1][0]), x[9])
    with pytest.raises(IndexError):
        both[13]
    assert len(sub + ds) == 13


def test_random_split_lengths_and_fractions():
    ds, _, _ = _make(10)
    a, b = random_split(ds, [7, 3], generator=ember.Generator(1))
    assert (len(a), len(b)) == (7, 3)
    assert sorted(a.indices + b.indices) == list(range(10))
    c, d, e = random_split(ds, [0.5, 0.3, 0.2], generator=ember.Generator(1))
    assert (len(c), len(d), len(e)) == (5, 3, 2)
    f, g = random_split(range(11), [0.5, 0.5], generator=ember.Generator(0))
    assert (len(f), len(g)) == (6, 5)  # the remainder goes to the first part
    assert not set(f.indices) & set(g.indices)
    # seeded: same generator seed, same split; the default generator follows manual_seed
    again, _ = random_split(ds, [7, 3], generator=ember.Generator(1))
    assert again.indices == a.indices
    ember.manual_seed(5)
    p1, _ = random_split(ds, [0.8, 0.2])
    ember.manual_seed(5)
    p2, _ = random_split(ds, [0.8, 0.2])
    assert p1.indices == p2.indices
    with pytest.raises(ValueError, match="sum to"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.2])


# -- collation ---------------------------------------------------------------------------

def test_default_collate_structures():
    batch = [({"a": np.ones(2, np.float32) * i, "b": i, "c": float(i), "s": f"x{i}"}, ember.tensor([i, i]), True)
             for i in range(3)]
    out = default_collate(batch)
    assert isinstance(out, tuple) and len(out) == 3
    d, t, flags = out
    assert set(d) == {"a", "b", "c", "s"}
    assert d["a"].shape == (3, 2) and d["a"].dtype == ember.float32
    assert d["b"].dtype == ember.int64 and d["b"].tolist() == [0, 1, 2]
    assert d["c"].dtype == ember.float32 and d["c"].tolist() == [0.0, 1.0, 2.0]
    assert d["s"] == ["x0", "x1", "x2"]
    assert t.shape == (3, 2) and t.dtype == ember.int64
    assert flags.dtype == ember.bool and flags.tolist() == [True] * 3


def test_default_collate_lists_namedtuples_numpy_scalars():
    Point = collections.namedtuple("Point", "x y")
    out = default_collate([Point(np.float64(1), 2), Point(np.float64(3), 4)])
    assert isinstance(out, Point) and out.x.dtype == ember.float64 and out.y.tolist() == [2, 4]
    out = default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(out, list) and out[0].tolist() == [1, 3]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="same keys"):
        default_collate([{"a": 1}, {"b": 2}])
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object(), object()])


# -- DataLoader --------------------------------------------------------------------------

def test_batching_and_drop_last():
    ds, x, y = _make(10)
    batches = _batches(DataLoader(ds, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert len(DataLoader(ds, batch_size=4)) == 3
    dropped = _batches(DataLoader(ds, batch_size=4, drop_last=True))
    assert [b[0].shape for b in dropped] == [(4, 3), (4, 3)]
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2


def test_fast_path_matches_itemwise_collation():
    ds, x, y = _make(11)
    items = ListDataset([(ember.tensor(x[i]), ember.tensor(y[i])) for i in range(11)])
    ember.manual_seed(3)
    fast = _batches(DataLoader(ds, batch_size=4, shuffle=True))
    ember.manual_seed(3)
    slow = _batches(DataLoader(items, batch_size=4, shuffle=True))
    _same(fast, slow)
    # a Subset of a TensorDataset takes the fast path too, and agrees with item-wise indexing
    sub = Subset(ds, [9, 2, 4, 0, 7])
    _same(_batches(DataLoader(sub, batch_size=2)),
          _batches(DataLoader(sub, batch_size=2, collate_fn=lambda b: default_collate(b))))


def test_batches_are_copies():
    ds, x, _ = _make(4)
    (xb, _), = list(DataLoader(ds, batch_size=4))
    xb._data[...] = -1
    np.testing.assert_array_equal(_np(ds.tensors[0]), x)


def test_shuffle_reproducible_under_manual_seed():
    ds, _, y = _make(20)
    ember.manual_seed(0)
    loader = DataLoader(ds, batch_size=5, shuffle=True)
    e1 = _batches(loader)
    e2 = _batches(loader)
    order1 = np.concatenate([b[1] for b in e1])
    assert sorted(order1.tolist()) == list(range(20))
    assert order1.tolist() != list(range(20))
    assert not np.array_equal(order1, np.concatenate([b[1] for b in e2]))  # a new order each epoch
    ember.manual_seed(0)
    loader = DataLoader(ds, batch_size=5, shuffle=True)
    _same(_batches(loader), e1)
    _same(_batches(loader), e2)


def test_shuffle_with_own_generator():
    ds, _, _ = _make(20)
    a = _batches(DataLoader(ds, batch_size=5, shuffle=True, generator=ember.Generator(7)))
    ember.manual_seed(123)  # the default generator plays no part
    b = _batches(DataLoader(ds, batch_size=5, shuffle=True, generator=ember.Generator(7)))
    _same(a, b)


def test_custom_sampler_batch_sampler_and_collate_fn():
    ds, x, y = _make(6)
    loader = DataLoader(ds, batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert [b[1].tolist() for b in loader] == [[5, 4], [3, 2], [1, 0]]
    loader = DataLoader(ds, batch_sampler=[[0, 2], [4], [1, 3, 5]])
    assert [b[1].tolist() for b in loader] == [[0, 2], [4], [1, 3, 5]]
    loader = DataLoader(ds, batch_size=3, collate_fn=lambda items: [int(i[1].item()) for i in items])
    assert list(loader) == [[0, 1, 2], [3, 4, 5]]
    unbatched = list(DataLoader(ds, batch_size=None))
    assert len(unbatched) == 6 and unbatched[2][1].item() == 2
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    perm = list(RandomSampler(range(8), generator=ember.Generator(0)))
    assert sorted(perm) == list(range(8))
    draws = list(RandomSampler(range(3), replacement=True, num_samples=20, generator=ember.Generator(0)))
    assert len(draws) == 20 and set(draws) <= {0, 1, 2}
    sub = list(SubsetRandomSampler([10, 20, 30], generator=ember.Generator(0)))
    assert sorted(sub) == [10, 20, 30]
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    assert len(BatchSampler(range(5), 2, drop_last=False)) == 3


def test_dict_samples_through_loader():
    items = ListDataset([{"x": np.full(3, i, np.float32), "y": i % 2} for i in range(5)])
    batches = list(DataLoader(items, batch_size=2))
    assert batches[0]["x"].shape == (2, 3) and batches[2]["y"].tolist() == [0]


def test_iterable_dataset():
    batches = list(DataLoader(Stream(7), batch_size=3))
    assert [b["i"].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(list(DataLoader(Stream(7), batch_size=3, drop_last=True))) == 2
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(TypeError):
        len(DataLoader(Stream(3)))


# -- prefetching in threads --------------------------------------------------------------

@pytest.mark.parametrize("workers", [1, 3])
def test_prefetching_loader_yields_the_same_batches(workers):
    ds, _, _ = _make(50)
    ember.manual_seed(11)
    plain = [_batches(DataLoader(ds, batch_size=7, shuffle=True)) for _ in range(1)][0]
    ember.manual_seed(11)
    threaded = _batches(DataLoader(ds, batch_size=7, shuffle=True, num_workers=workers))
    _same(plain, threaded)
    items = ListDataset([(np.full(2, i, np.float32), i) for i in range(23)])
    _same(_batches(DataLoader(items, batch_size=4)),
          _batches(DataLoader(items, batch_size=4, num_workers=workers, prefetch_factor=3)))
    assert [b["i"].tolist() for b in DataLoader(Stream(8), batch_size=3, num_workers=workers)] == \
        [[0, 1, 2], [3, 4, 5], [6, 7]]


def test_prefetch_runs_in_background_threads():
    seen = set()

    class Recording(ListDataset):
        def __getitem__(self, i):
            seen.add(threading.current_thread().name)
            return super().__getitem__(i)

    ds = Recording([np.zeros(1, np.float32)] * 8)
    list(DataLoader(ds, batch_size=2, num_workers=2))
    assert seen and all(name.startswith("ember-data") for name in seen)


def test_prefetch_propagates_errors_and_can_be_abandoned():
    class Bad(ListDataset):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError("broken sample 5")
            return super().__getitem__(i)

    ds = Bad([np.zeros(1, np.float32)] * 10)
    with pytest.raises(KeyError, match="broken sample 5"):
        list(DataLoader(ds, batch_size=2, num_workers=2))
    it = iter(DataLoader(_make(100)[0], batch_size=2, num_workers=2))
    next(it)
    it.close()  # stops the pool; nothing hangs


def test_worker_init_fn_and_timeout():
    import time

    ids = []
    list(DataLoader(_make(20)[0], batch_size=2, num_workers=3, worker_init_fn=ids.append))
    assert sorted(ids) == list(range(len(ids))) and 1 <= len(ids) <= 3

    class Slow(ListDataset):
        def __getitem__(self, i):
            time.sleep(0.5)
            return super().__getitem__(i)

    with pytest.raises(RuntimeError, match="timed out"):
        list(DataLoader(Slow([np.zeros(1, np.float32)] * 2), batch_size=1, num_workers=1, timeout=0.05))


def test_an_abandoned_stream_iterator_stops_its_thread():
    import gc

    it = iter(DataLoader(Stream(10_000), batch_size=2, num_workers=1))
    next(it)
    thread = it._thread
    del it
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_prefetch_factor_needs_workers():
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(_make()[0], prefetch_factor=2)


# -- exact resumption --------------------------------------------------------------------

def _run(loader, epochs):
    """Every batch's labels, per epoch."""
    return [[b[1].tolist() for b in loader] for _ in range(epochs)]


@pytest.mark.parametrize("generator", [None, 5])
@pytest.mark.parametrize("workers", [0, 2])
def test_state_round_trip_resumes_mid_epoch_identically(generator, workers):
    ds, _, _ = _make(23)

    def make():
        gen = None if generator is None else ember.Generator(generator)
        return DataLoader(ds, batch_size=4, shuffle=True, generator=gen, num_workers=workers)

    ember.manual_seed(0)
    loader = make()
    full = []
    for epoch in range(3):
        full.append([])
        for i, b in enumerate(loader):
            full[-1].append(b[1].tolist())
            if (epoch, i) == (1, 1):
                ember.rand(5)

    # Interrupted in epoch 1 after 2 batches; the global RNG is drawn from meanwhile, as dropout would.
    ember.manual_seed(0)
    loader = make()
    seen = _run(loader, 1)
    it = iter(loader)
    seen.append([next(it)[1].tolist() for _ in range(2)])
    ember.rand(5)
    state, rng = loader.state_dict(), ember.get_rng_state()
    assert state["epoch"] == 1 and state["batches_yielded"] == 2 and state["in_progress"]

    ember.manual_seed(999)  # a new process: fresh objects, other RNG state
    resumed = make()
    resumed.load_state_dict(state)
    ember.set_rng_state(rng)
    assert resumed.epoch == 1
    seen[1] += [b[1].tolist() for b in resumed]
    seen.append([b[1].tolist() for b in resumed])
    assert seen == full


def test_state_at_epoch_boundaries():
    ds, _, _ = _make(9)
    ember.manual_seed(2)
    loader = DataLoader(ds, batch_size=3, shuffle=True)
    fresh = loader.state_dict()
    assert fresh["epoch"] == 0 and not fresh["in_progress"]
    full = _run(loader, 3)

    # saved after the last batch of epoch 0, before the loop noticed the end
    ember.manual_seed(2)
    loader = DataLoader(ds, batch_size=3, shuffle=True)
    it = iter(loader)
    first = [next(it)[1].tolist() for _ in range(3)]
    state, rng = loader.state_dict(), ember.get_rng_state()
    assert state["batches_yielded"] == 3 and state["in_progress"]
    resumed = DataLoader(ds, batch_size=3, shuffle=True)
    resumed.load_state_dict(state)
    ember.set_rng_state(rng)
    assert [b[1].tolist() for b in resumed] == []  # the rest of epoch 0 is empty
    assert [first] + _run(resumed, 2) == full

    # saved between epochs
    ember.manual_seed(2)
    loader = DataLoader(ds, batch_size=3, shuffle=True)
    _run(loader, 1)
    state, rng = loader.state_dict(), ember.get_rng_state()
    assert state["epoch"] == 1 and not state["in_progress"]
    resumed = DataLoader(ds, batch_size=3, shuffle=True)
    resumed.load_state_dict(state)
    ember.set_rng_state(rng)
    assert _run(resumed, 2) == full[1:]


def test_state_of_sequential_and_iterable_loaders():
    ds, _, _ = _make(10)
    loader = DataLoader(ds, batch_size=3)
    it = iter(loader)
    next(it)
    resumed = DataLoader(ds, batch_size=3)
    resumed.load_state_dict(loader.state_dict())
    assert [b[1].tolist() for b in resumed] == [[3, 4, 5], [6, 7, 8], [9]]
    stream = DataLoader(Stream(7), batch_size=2)
    it = iter(stream)
    next(it)
    again = DataLoader(Stream(7), batch_size=2)
    again.load_state_dict(stream.state_dict())
    assert [b["i"].tolist() for b in again] == [[2, 3], [4, 5], [6]]


def test_state_dict_is_plain_and_checked():
    import json

    ds, _, _ = _make(10)
    loader = DataLoader(ds, batch_size=3, shuffle=True, generator=ember.Generator(0))
    next(iter(loader))
    state = loader.state_dict()
    json.dumps(state)  # plain values only
    with pytest.raises(ValueError, match="length"):
        DataLoader(_make(11)[0], batch_size=3, shuffle=True, generator=ember.Generator(0)).load_state_dict(state)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=2, shuffle=True, generator=ember.Generator(0)).load_state_dict(state)
    with pytest.raises(ValueError, match="generator"):
        DataLoader(ds, batch_size=3, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="sampler"):
        DataLoader(ds, batch_size=3).load_state_dict(state)
    with pytest.raises(ValueError, match="missing"):
        DataLoader(ds, batch_size=3).load_state_dict({"epoch": 0})
