"""Device "mps" itself: registration, description, dtypes, moving data, views, laziness."""

from __future__ import annotations

import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

import ember
import ember_models
from ember import optim
from ember.nn import functional as F


def test_mps_is_registered_by_its_own_plugin_and_describes_mlx_cpu():
    from ember.device import backends

    row = {r["name"]: r for r in backends()}["mps"]
    assert row["available"] and row["device_types"] == ("mps",)
    import mlx.core as mx

    where = "Metal GPU" if mx.default_device().type == mx.DeviceType.gpu else "MLX's CPU device"
    assert where in row["devices"][0] and mx.__version__ in row["devices"][0]


def test_ember_devices_command_lists_mps():
    out = subprocess.run([sys.executable, "-m", "ember_cli", "devices"], capture_output=True, text=True)
    if out.returncode != 0 and "No module named" in out.stderr:
        pytest.skip("ember-cli is not installed")
    assert out.returncode == 0, out.stderr
    assert "mps" in out.stdout and "MLX" in out.stdout


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "int64", "int32", "bool"])
def test_dtypes_round_trip_exactly(dtype):
    rng = np.random.default_rng(0)
    npdtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    host = (rng.standard_normal((3, 4)) * 100).astype(npdtype)
    t = ember.tensor(host, device="mps")
    assert t.device.type == "mps" and str(t.dtype) == f"ember.{dtype}"
    back = t.cpu().numpy()
    assert back.dtype == host.dtype
    np.testing.assert_array_equal(back, host)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_runs_natively(dtype):
    a = ember.randn(8, 16, device="mps").to(dtype)
    b = ember.randn(16, 4, device="mps").to(dtype)
    out = F.gelu(a @ b)
    assert str(out.dtype) == f"ember.{dtype}"
    ref = F.gelu(a.float().cpu() @ b.float().cpu())
    np.testing.assert_allclose(out.float().cpu().numpy(), ref.numpy(), rtol=5e-2, atol=5e-2)


def test_to_and_from_cpu_and_mixing_devices_is_an_error():
    x = ember.arange(6, dtype="float32").reshape(2, 3)
    y = x.to("mps")
    assert y.device == ember.device("mps:0") and y.to("cpu").tolist() == x.tolist()
    with pytest.raises(Exception, match="mps:0 and cpu|cpu and mps:0"):
        x + y


def test_in_place_writes_reach_the_tensor_and_writes_through_views_are_errors():
    x = ember.zeros(2, 3, device="mps")
    x[0, 1] = 5.0
    x.add_(1)
    assert x.tolist() == [[1, 6, 1], [1, 1, 1]]
    with pytest.raises(TypeError, match="MLX has no views"):
        x[0].zero_()
    with pytest.raises(TypeError, match="MLX has no views"):
        x.view(-1).fill_(0)
    assert x.tolist() == [[1, 6, 1], [1, 1, 1]]


def test_state_dict_saved_from_mps_loads_on_cpu(tmp_path):
    from ember.serialization import load_file, save_file

    model = ember_models.create("gpt2", preset="tiny").to("mps")
    save_file(model.state_dict(), tmp_path / "w.safetensors")
    cpu = ember_models.create("gpt2", preset="tiny")
    cpu.load_state_dict(load_file(tmp_path / "w.safetensors"))
    for (name, p), q in zip(model.named_parameters(), cpu.parameters()):
        np.testing.assert_array_equal(p.detach().cpu().numpy(), q.detach().numpy(), err_msg=name)


def test_a_training_step_is_evaluated_once_not_once_per_op(monkeypatch):
    """The step's graph is built lazily; the optimizer evaluates it once. Host reads in
    between are only the few input checks (embedding and target bounds), not one per op."""
    import ember_mps.array as mlx_array
    from ember_mps.backend import MLXBackend

    evaluations, host_reads = [], []
    original_eval = MLXBackend.evaluate
    monkeypatch.setattr(MLXBackend, "evaluate", lambda self, arrays: (evaluations.append(len(arrays)),
                                                                       original_eval(self, arrays))[1])
    for name in ("item", "__bool__", "__float__", "__int__", "__index__", "__array__"):
        original = getattr(mlx_array.MLXArray, name)
        monkeypatch.setattr(mlx_array.MLXArray, name,
                            lambda self, *a, _o=original, _n=name, **k: (host_reads.append(_n), _o(self, *a, **k))[1])
    model = ember_models.create("gpt2", preset="tiny").to("mps")
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    ids = ember.tensor(np.random.default_rng(0).integers(0, 512, (2, 16)), device="mps")
    for _ in range(2):
        host_reads.clear()
        logits = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, 512), ids.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    n_params = len(list(model.parameters()))
    assert len(evaluations) == 2 and evaluations[-1] >= n_params  # parameters and AdamW state, once a step
    assert len(host_reads) <= 10, host_reads  # a step runs hundreds of ops


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_xp_pad_matches_numpy(mode):
    from ember_mps import xp

    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(xp.pad(a, ((1, 2), (2, 1)), mode=mode)),
                                  np.pad(a, ((1, 2), (2, 1)), mode=mode))
    with pytest.raises(ValueError, match="not available on MLX"):
        xp.pad(a, ((1, 1), (1, 1)), mode="wrap")
