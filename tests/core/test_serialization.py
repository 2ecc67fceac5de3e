"""ember.serialization: safetensors files, ember.save/load, checkpoints, atomic writes, bad files."""

from __future__ import annotations

import json
import os
import pickle
import random
import struct

import ml_dtypes
import numpy as np
import pytest

import ember
from ember import nn, serialization
from ember.data import DataLoader, TensorDataset
from ember.serialization import CheckpointError, SerializationError, load_checkpoint, load_file, save_checkpoint, \
    save_file

ALL_DTYPES = [ember.float16, ember.bfloat16, ember.float32, ember.float64, ember.int8, ember.uint8, ember.int16,
              ember.int32, ember.int64, ember.bool]


def _values(dtype, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    if dtype is ember.bool:
        return rng.random(shape) < 0.5
    if dtype.is_floating_point:
        return (rng.standard_normal(shape) * 10).astype(dtype.numpy)
    info = np.iinfo(dtype.numpy)
    out = np.asarray(rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype.numpy))
    if out.size >= 2:
        out.reshape(-1)[:2] = [info.min, info.max]
    return out


def _eq(a, b):
    a = np.asarray(a._data if isinstance(a, ember.Tensor) else a)
    b = np.asarray(b._data if isinstance(b, ember.Tensor) else b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint8) if a.dtype.itemsize == 1 and a.dtype != np.bool_ else a,
                                  b.view(np.uint8) if b.dtype.itemsize == 1 and b.dtype != np.bool_ else b)


# -- safetensors files -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_save_file_round_trips_every_dtype(tmp_path, dtype):
    tensors = {"m": ember.from_numpy(_values(dtype)), "scalar": ember.from_numpy(np.asarray(_values(dtype, ()))),
               "empty": ember.from_numpy(_values(dtype, (0, 5)))}
    save_file(tensors, tmp_path / "t.safetensors")
    back = load_file(tmp_path / "t.safetensors")
    assert set(back) == set(tensors)
    for name, t in tensors.items():
        assert back[name].dtype == dtype
        _eq(back[name], t)
    assert back["scalar"].shape == ()


def test_bfloat16_keeps_its_bits(tmp_path):
    bits = np.arange(0, 65536, 97, dtype=np.uint16)
    finite = bits.view(ml_dtypes.bfloat16)
    finite = finite[np.isfinite(finite.astype(np.float32))]
    save_file({"b": ember.from_numpy(finite)}, tmp_path / "b.safetensors")
    back = load_file(tmp_path / "b.safetensors")["b"]
    assert back.dtype == ember.bfloat16
    np.testing.assert_array_equal(np.asarray(back._data).view(np.uint16), finite.view(np.uint16))


def test_non_contiguous_tensors_are_saved_in_their_logical_order(tmp_path):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_file({"t": ember.from_numpy(base.T), "s": ember.from_numpy(base[:, ::2])}, tmp_path / "v.safetensors")
    back = load_file(tmp_path / "v.safetensors")
    np.testing.assert_array_equal(np.asarray(back["t"]._data), base.T)
    np.testing.assert_array_equal(np.asarray(back["s"]._data), base[:, ::2])


def test_loaded_tensors_are_writable_and_independent(tmp_path):
    save_file({"w": ember.ones(3)}, tmp_path / "w.safetensors")
    w = load_file(tmp_path / "w.safetensors")["w"]
    w._data[0] = 5.0  # not a read-only view of the file
    assert load_file(tmp_path / "w.safetensors")["w"].tolist() == [1.0, 1.0, 1.0]


def test_save_file_metadata_and_argument_checks(tmp_path):
    from safetensors import safe_open

    save_file({"w": ember.ones(2)}, tmp_path / "m.safetensors", metadata={"format": "pt", "note": "hi"})
    with safe_open(str(tmp_path / "m.safetensors"), framework="np") as f:
        assert f.metadata() == {"format": "pt", "note": "hi"}
    with pytest.raises(TypeError, match="str to str"):
        save_file({"w": ember.ones(2)}, tmp_path / "x.safetensors", metadata={"n": 1})
    with pytest.raises(TypeError, match="names must be strings"):
        save_file({1: ember.ones(2)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="Tensor or NumPy"):
        save_file({"w": [1, 2]}, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


TORCH_DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64", "bool"]


def test_ember_file_loads_in_torch(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    tensors = {name: ember.from_numpy(_values(ember.dtypes.as_dtype(name))) for name in TORCH_DTYPES}
    save_file(tensors, tmp_path / "e.safetensors")
    loaded = safetensors_torch.load_file(str(tmp_path / "e.safetensors"))
    for name in TORCH_DTYPES:
        t = loaded[name]
        assert t.dtype == getattr(torch, name)
        if name == "bfloat16":
            np.testing.assert_array_equal(t.view(torch.int16).numpy().view(np.uint16),
                                          np.asarray(tensors[name]._data).view(np.uint16))
        else:
            np.testing.assert_array_equal(t.numpy(), np.asarray(tensors[name]._data))


def test_torch_file_loads_in_ember(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    g = torch.Generator().manual_seed(0)
    tensors = {
        "w": torch.randn(4, 3, generator=g),
        "h": torch.randn(5, generator=g).to(torch.bfloat16),
        "f16": torch.randn(2, 2, generator=g).half(),
        "i": torch.arange(-3, 3),
        "mask": torch.tensor([True, False]),
        "u8": torch.arange(250, 256, dtype=torch.uint8),
        "scalar": torch.tensor(2.5, dtype=torch.float64),
    }
    safetensors_torch.save_file(tensors, str(tmp_path / "t.safetensors"), metadata={"format": "pt"})
    back = load_file(tmp_path / "t.safetensors")
    for name, t in tensors.items():
        assert back[name].dtype == ember.dtypes.as_dtype(str(t.dtype).removeprefix("torch."))
        if t.dtype == torch.bfloat16:
            np.testing.assert_array_equal(np.asarray(back[name]._data).view(np.uint16),
                                          t.view(torch.int16).numpy().view(np.uint16))
        else:
            np.testing.assert_array_equal(np.asarray(back[name]._data), t.numpy())
    assert ember.load(tmp_path / "t.safetensors").keys() == back.keys()  # a plain file via ember.load


def test_torch_module_weights_load_into_an_ember_module(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    layer = torch.nn.Linear(3, 2)
    safetensors_torch.save_file(layer.state_dict(), str(tmp_path / "lin.safetensors"))
    model = _Tiny()
    state = load_file(tmp_path / "lin.safetensors")
    model.load_state_dict({"w": state["weight"], "b": state["bias"]})
    np.testing.assert_array_equal(np.asarray(model.w._data), layer.weight.detach().numpy())


# -- nested objects ----------------------------------------------------------------------

def test_save_load_nested_structures(tmp_path):
    shared = ember.tensor([1.0, 2.0], dtype=ember.bfloat16)
    leaf = ember.tensor([[0.5]], requires_grad=True)
    obj = {
        "shared": shared,
        "again": [shared, leaf],
        3: (1, 2.5, float("nan"), float("inf"), -float("inf"), None, "text", b"\x00\xff", True),
        (1, "a"): {"$dollar": 1, "nested": [[], {}, ()]},
        "arrays": {"u32": np.arange(5, dtype=np.uint32), "scalar": np.float32(1.25), "flag": np.bool_(True)},
        "dtype": ember.float16,
        "device": ember.device("cpu"),
        "big": 2**100,
    }
    ember.save(obj, tmp_path / "o.safetensors")
    out = ember.load(tmp_path / "o.safetensors")
    assert set(out) == set(obj)
    _eq(out["shared"], shared)
    assert out["again"][0] is out["shared"]  # stored once, one object again
    assert out["again"][1].requires_grad and out["again"][1].tolist() == [[0.5]]
    t = out[3]
    assert isinstance(t, tuple) and t[:2] == (1, 2.5) and np.isnan(t[2]) and t[3:] == obj[3][3:]
    assert out[(1, "a")] == {"$dollar": 1, "nested": [[], {}, ()]}
    _eq(out["arrays"]["u32"], obj["arrays"]["u32"])
    assert isinstance(out["arrays"]["scalar"], np.float32) and out["arrays"]["scalar"] == 1.25
    assert out["arrays"]["flag"] is np.True_ or out["arrays"]["flag"] == np.True_
    assert out["dtype"] is ember.float16 and out["device"] == ember.device("cpu")
    assert out["big"] == 2**100


def test_save_writes_readable_safetensors_with_flat_keys(tmp_path):
    from safetensors import safe_open

    ember.save({"model": {"fc": {"weight": ember.ones(2, 2)}}, "opt": {"state": {0: {"m": ember.zeros(2)}}}},
               tmp_path / "o.safetensors")
    with safe_open(str(tmp_path / "o.safetensors"), framework="np") as f:
        assert sorted(f.keys()) == ["model.fc.weight", "opt.state.0.m"]
        meta = f.metadata()
    json.loads(meta["ember.object"])


def test_save_refuses_what_it_cannot_store_without_pickle(tmp_path):
    with pytest.raises(TypeError, match="no pickle"):
        ember.save({"a": {1, 2}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="no pickle"):
        ember.save([object()], tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_rng_states_round_trip(tmp_path):
    ember.manual_seed(4)
    ember.rand(3)
    states = {"ember": ember.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    ember.save(states, tmp_path / "rng.safetensors")
    expected = (ember.rand(4).tolist(), np.random.rand(3).tolist(), random.random())
    back = ember.load(tmp_path / "rng.safetensors")
    ember.set_rng_state(back["ember"])
    np.random.set_state(back["numpy"])
    random.setstate(back["python"])
    assert (ember.rand(4).tolist(), np.random.rand(3).tolist(), random.random()) == expected


# -- broken and foreign files ------------------------------------------------------------

def _bad_files(tmp_path):
    ember.save({"w": ember.ones(64), "n": 3}, tmp_path / "source.safetensors")
    good = (tmp_path / "source.safetensors").read_bytes()
    (header_len,) = struct.unpack("<Q", good[:8])
    files = {
        "empty": b"",
        "tiny": b"\x01\x02",
        "pickle": pickle.dumps({"w": [1.0, 2.0]}),
        "text": b"step,loss\n1,0.5\n2,0.4\n" * 20,
        "half": good[: len(good) // 2],
        "header-only": good[: 8 + header_len],
        "short-by-one": good[:-1],
        "one-too-many": good + b"\x00",
        "garbled-header": good[:8] + b"{" + b"x" * (header_len - 1) + good[8 + header_len:],
        "header-not-object": struct.pack("<Q", 2) + b"[]",
    }
    try:
        import torch

        torch.save({"w": torch.ones(2)}, str(tmp_path / "torch.pt"))
        files["torch.save"] = (tmp_path / "torch.pt").read_bytes()
    except ImportError:
        pass
    paths = {}
    for name, data in files.items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(data)
        paths[name] = path
    return paths


def test_broken_and_foreign_files_raise_clear_errors(tmp_path):
    for name, path in _bad_files(tmp_path).items():
        for loader in (ember.load, load_file):
            with pytest.raises(SerializationError) as info:
                loader(path)
            assert str(path) in str(info.value), name
    with pytest.raises(FileNotFoundError, match="no such file"):
        ember.load(tmp_path / "missing.safetensors")


def test_pickle_is_named_as_such(tmp_path):
    path = tmp_path / "p.bin"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(SerializationError, match="pickle"):
        ember.load(path)


# -- atomic writes -----------------------------------------------------------------------

def test_a_crash_before_the_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    save_file({"w": ember.ones(3)}, path)

    def crash(src, dst):
        raise KeyboardInterrupt("killed between the write and the rename")

    monkeypatch.setattr(serialization, "_replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_file({"w": ember.zeros(3)}, path)
    with pytest.raises(KeyboardInterrupt):
        ember.save({"w": ember.zeros(3)}, path)
    assert load_file(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == ["w.safetensors"]  # the temporary files were removed


def test_writes_are_fsynced_then_renamed(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, serialization._replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(serialization, "_replace", lambda s, d: (calls.append("replace"), real_replace(s, d))[1])
    save_file({"w": ember.ones(1)}, tmp_path / "w.safetensors")
    assert calls[:2] == ["fsync", "replace"] and calls[2:] in (["fsync"], [])  # file, rename, then the folder


def test_permissions_of_an_existing_file_are_kept(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"w": ember.ones(1)}, path)
    os.chmod(path, 0o640)
    save_file({"w": ember.ones(2)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o640


# -- checkpoints -------------------------------------------------------------------------

class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(ember.randn(2, 3))
        self.b = nn.Parameter(ember.zeros(2))


class _OtherShape(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(ember.randn(3, 3))
        self.b = nn.Parameter(ember.zeros(2))


def _cosine(opt, fail=False):
    from ember.optim.lr_scheduler import CosineAnnealingLR

    class Refusing(CosineAnnealingLR):
        def load_state_dict(self, state):
            raise RuntimeError("scheduler refuses")

    return (Refusing if fail else CosineAnnealingLR)(opt, T_max=10, eta_min=0.001)


def _adam(params, lr=0.1):
    return ember.optim.Adam(params, lr=lr)


def _train_some(model, opt, steps=3, sched=None):
    for _ in range(steps):
        for p in model.parameters():
            p.grad = ember.from_numpy(np.ones(p.shape, np.float32) * 0.5)
        opt.step()
        if sched is not None:
            sched.step()


def _snapshot(model, opt, sched, loader):
    return {
        "model": {k: np.asarray(v._data).copy() for k, v in model.state_dict().items()},
        "opt": ember.serialization._snapshot(opt.state_dict()) if opt is not None else None,
        "sched": sched.state_dict() if sched is not None else None,
        "loader": loader.state_dict() if loader is not None else None,
        "rng": (ember.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()),
    }


def _same_snapshot(a, b):
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k], b["model"][k])
    if a["opt"] is not None:
        assert a["opt"]["param_groups"] == b["opt"]["param_groups"]
        assert a["opt"]["state"].keys() == b["opt"]["state"].keys()
        for pid, entry in a["opt"]["state"].items():
            for name, value in entry.items():
                other = b["opt"]["state"][pid][name]
                if isinstance(value, ember.Tensor):
                    np.testing.assert_array_equal(np.asarray(value._data), np.asarray(other._data))
                else:
                    assert value == other
    assert a["sched"] == b["sched"] and a["loader"] == b["loader"]
    assert a["rng"][0] == b["rng"][0] and a["rng"][2] == b["rng"][2]
    np.testing.assert_array_equal(a["rng"][1], b["rng"][1])


def _setup(seed=0, fail=False):
    ember.manual_seed(seed)
    model = _Tiny()
    opt = _adam(model.parameters())
    sched = _cosine(opt, fail)
    ds = TensorDataset(ember.randn(10, 3), ember.arange(10))
    loader = DataLoader(ds, batch_size=3, shuffle=True)
    return model, opt, sched, loader


def test_checkpoint_round_trip(tmp_path):
    model, opt, sched, loader = _setup(0)
    _train_some(model, opt, sched=sched)
    it = iter(loader)
    next(it)
    save_checkpoint(tmp_path / "c.safetensors", model=model, optimizer=opt, scheduler=sched, step=42,
                    extra={"epoch": 1, "best": 0.25}, dataloader=loader)
    saved = _snapshot(model, opt, sched, loader)
    expected_next = (ember.rand(3).tolist(), np.random.rand(), random.random())
    rest = [b[1].tolist() for b in it]

    model2, opt2, sched2, loader2 = _setup(1)
    info = load_checkpoint(tmp_path / "c.safetensors", model=model2, optimizer=opt2, scheduler=sched2,
                           dataloader=loader2)
    assert info == {"step": 42, "extra": {"epoch": 1, "best": 0.25}}
    _same_snapshot(_snapshot(model2, opt2, sched2, loader2), saved)
    assert (ember.rand(3).tolist(), np.random.rand(), random.random()) == expected_next
    assert sched2.get_last_lr() == sched.get_last_lr() and opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    # and the optimizer and schedule go on identically
    _train_some(model, opt, 2, sched)
    _train_some(model2, opt2, 2, sched2)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for (k, a), b in zip(model.state_dict().items(), model2.state_dict().values()):
        np.testing.assert_array_equal(np.asarray(a._data), np.asarray(b._data))
    assert [b[1].tolist() for b in loader2] == rest


def test_checkpoint_model_only(tmp_path):
    model = _Tiny()
    save_checkpoint(tmp_path / "c.safetensors", model=model)
    other = _Tiny()
    assert load_checkpoint(tmp_path / "c.safetensors", model=other)["step"] == 0
    np.testing.assert_array_equal(np.asarray(other.w._data), np.asarray(model.w._data))


def test_bad_checkpoints_change_nothing(tmp_path):
    model, opt, sched, loader = _setup(0)
    _train_some(model, opt, sched=sched)
    save_checkpoint(tmp_path / "good.safetensors", model=model, optimizer=opt, scheduler=sched, dataloader=loader)

    target, topt, tsched, tloader = _setup(5)
    _train_some(target, topt, 1, tsched)
    next(iter(tloader))

    bad = dict(_bad_files(tmp_path))
    # well-formed files that don't fit
    ember.save({"w": ember.ones(2)}, tmp_path / "not-a-checkpoint.safetensors")
    bad["not-a-checkpoint"] = tmp_path / "not-a-checkpoint.safetensors"
    save_file({"w": ember.ones(2, 3), "b": ember.zeros(2)}, tmp_path / "weights.safetensors")
    bad["weights-only"] = tmp_path / "weights.safetensors"
    other = _OtherShape()
    save_checkpoint(tmp_path / "shape.safetensors", model=other, optimizer=_adam(other.parameters()),
                    scheduler=sched, dataloader=loader)
    bad["wrong-shape"] = tmp_path / "shape.safetensors"
    half = _Tiny().to(ember.float64)
    save_checkpoint(tmp_path / "dtype.safetensors", model=half, optimizer=_adam(half.parameters()),
                    scheduler=sched, dataloader=loader)
    bad["wrong-dtype"] = tmp_path / "dtype.safetensors"
    save_checkpoint(tmp_path / "noopt.safetensors", model=model, scheduler=sched, dataloader=loader)
    bad["no-optimizer"] = tmp_path / "noopt.safetensors"
    small = DataLoader(TensorDataset(ember.randn(7, 3), ember.arange(7)), batch_size=3, shuffle=True)
    save_checkpoint(tmp_path / "loader.safetensors", model=model, optimizer=opt, scheduler=sched, dataloader=small)
    bad["other-loader"] = tmp_path / "loader.safetensors"
    # an optimizer state whose tensor has the wrong shape
    obj = ember.load(tmp_path / "good.safetensors")
    obj["optimizer"]["state"][0]["exp_avg"] = ember.zeros(5)
    ember.save(obj, tmp_path / "optstate.safetensors")
    bad["wrong-optimizer-state"] = tmp_path / "optstate.safetensors"
    # one model tensor missing
    obj = ember.load(tmp_path / "good.safetensors")
    del obj["model"]["b"]
    ember.save(obj, tmp_path / "missing.safetensors")
    bad["missing-key"] = tmp_path / "missing.safetensors"

    before = _snapshot(target, topt, tsched, tloader)
    for name, path in bad.items():
        with pytest.raises(SerializationError) as info:
            load_checkpoint(path, model=target, optimizer=topt, scheduler=tsched, dataloader=tloader)
        assert str(path) in str(info.value), name
        _same_snapshot(_snapshot(target, topt, tsched, tloader), before)

    assert isinstance(CheckpointError("x"), SerializationError)
    load_checkpoint(tmp_path / "good.safetensors", model=target, optimizer=topt, scheduler=tsched, dataloader=tloader)


def test_a_failing_load_state_dict_rolls_back(tmp_path):
    model, opt, sched, loader = _setup(0)
    _train_some(model, opt, 5, sched)
    save_checkpoint(tmp_path / "c.safetensors", model=model, optimizer=opt, scheduler=sched, dataloader=loader)
    target, topt, tsched, tloader = _setup(3, fail=True)
    _train_some(target, topt, 1, tsched)
    before = _snapshot(target, topt, tsched, tloader)
    with pytest.raises(RuntimeError, match="scheduler refuses"):
        load_checkpoint(tmp_path / "c.safetensors", model=target, optimizer=topt, scheduler=tsched,
                        dataloader=tloader)
    _same_snapshot(_snapshot(target, topt, tsched, tloader), before)


def test_checkpoint_is_a_plain_safetensors_file(tmp_path):
    from safetensors.numpy import load_file as np_load

    model = _Tiny()
    save_checkpoint(tmp_path / "c.safetensors", model=model, step=3)
    arrays = np_load(str(tmp_path / "c.safetensors"))
    np.testing.assert_array_equal(arrays["model.w"], np.asarray(model.w._data))
