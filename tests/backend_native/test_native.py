"""ember-backend-native: its C kernels against float64 references and the NumPy backend.

The kernels only run in float32, so the references here are the float64 formulas (whose
NumPy implementations the core's gradient checks cover) and the core's own float32 kernels.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

import ember
from ember import host_threads
from ember.nn import functional as F
from ember.device import use_backend
from ember.ops import gelu_float32

ember_native = pytest.importorskip("ember_native", reason="ember-backend-native is not installed")
from ember_native import _kernels  # noqa: E402
from ember_native.activations import NativeGELU, NativeGELUTanh, NativeSiLU  # noqa: E402
from ember_native.norm import NativeLayerNorm  # noqa: E402

CPU = ember.device("cpu")


def cpu_backend(name: str):
    """Run "cpu" on the backend registered as ``name`` inside the block."""
    return use_backend(name)


@contextlib.contextmanager
def threads(n: int):
    before = host_threads.get_num_threads()
    host_threads.set_num_threads(n)
    try:
        yield
    finally:
        host_threads.set_num_threads(before)


def normal_cdf64(x):
    x = np.asarray(x, np.float64)
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


# -- the backend and its registration --------------------------------------------------------


def test_native_serves_cpu_and_outranks_numpy():
    backend = CPU.backend
    assert backend.name == "native"
    assert isinstance(backend, ember_native.NativeBackend)
    from ember.device import backends

    rows = {row["name"]: row for row in backends()}
    assert rows["native"]["available"] and rows["native"]["device_types"] == ("cpu",)
    assert rows["native"]["priority"] > rows["numpy"]["priority"]


def test_primitives_are_replaced_through_functions():
    x = ember.randn(4, 8, requires_grad=True)
    y = F.gelu(x)
    assert type(y._node) is NativeGELU
    z = F.layer_norm(x, (8,))
    assert type(z._node) is NativeLayerNorm
    r = F.rms_norm(x, (8,))
    assert type(r._node) is NativeLayerNorm
    assert type(F.gelu(x, approximate="tanh")._node) is NativeGELUTanh
    assert type(F.silu(x)._node) is NativeSiLU
    with cpu_backend("numpy"):
        assert type(F.gelu(ember.randn(4, 8, requires_grad=True))._node).__name__ == "GELU"


# -- exact GELU --------------------------------------------------------------------------------


def test_gelu_forward_matches_float64():
    x = np.concatenate([np.linspace(-9, 9, 200_001), np.random.default_rng(0).standard_normal(100_000) * 3])
    x32 = x.astype(np.float32)
    out, cdf = np.empty_like(x32), np.empty_like(x32)
    _kernels.gelu_forward(x32, out, cdf)
    ref_cdf = normal_cdf64(x32)
    assert np.abs(cdf - ref_cdf).max() <= gelu_float32.MAX_ERROR
    ref = x32.astype(np.float64) * ref_cdf
    assert np.all(np.abs(out - ref) <= gelu_float32.MAX_ERROR * np.abs(x32) + 1e-7)
    # Phi is exactly 0 or 1 from |x| = 6 on, as in the core's kernel
    far = np.array([6.0, 7.5, 8.0, 30.0, 1e4, 1e20, -6.0, -8.0, -1e20], np.float32)
    out, cdf = np.empty_like(far), np.empty_like(far)
    _kernels.gelu_forward(far, out, cdf)
    assert cdf.tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert out[:6].tolist() == far[:6].tolist() and np.all(out[6:] == 0)


def test_gelu_special_values_match_pytorch():
    torch = pytest.importorskip("torch")
    special = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, -1e-30, 3e38, -3e38, 1e-40], np.float32)
    x = ember.tensor(special, requires_grad=True)
    y = F.gelu(x)
    y.backward(ember.ones_like(y))
    xt = torch.tensor(special, requires_grad=True)
    yt = torch.nn.functional.gelu(xt)
    yt.backward(torch.ones_like(yt))
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=0)


def test_gelu_backward_matches_float64():
    rng = np.random.default_rng(1)
    x = np.concatenate([np.linspace(-12, 12, 100_001), rng.standard_normal(50_000) * 4]).astype(np.float32)
    g = rng.standard_normal(x.size).astype(np.float32)
    out, cdf = np.empty_like(x), np.empty_like(x)
    _kernels.gelu_forward(x, out, cdf)
    dx = np.empty_like(x)
    _kernels.gelu_backward(x, cdf, g, dx)
    x64 = x.astype(np.float64)
    ref = g * (normal_cdf64(x) + x64 * np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi))
    # the derivative is within 1.1 of 0 and 1, so an absolute bound on dx / g fits
    assert np.abs(dx - ref).max() <= 1e-6 * np.abs(g).max()


def test_gelu_tensor_path_equals_numpy_backend():
    x = np.random.default_rng(2).standard_normal((64, 333)).astype(np.float32) * 2
    g = np.random.default_rng(3).standard_normal((64, 333)).astype(np.float32)
    results = {}
    for name in ("numpy", "native"):
        with cpu_backend(name):
            t = ember.tensor(x, requires_grad=True)
            y = F.gelu(t)
            y.backward(ember.tensor(g))
            results[name] = (y.detach().numpy(), t.grad.numpy())
    np.testing.assert_allclose(results["native"][0], results["numpy"][0], rtol=0, atol=2e-6)
    np.testing.assert_allclose(results["native"][1], results["numpy"][1], rtol=0, atol=2e-6)


def test_gelu_other_dtypes_and_layouts_take_the_core_path():
    x64 = ember.randn(5, 7, dtype="float64", requires_grad=True)
    y = F.gelu(x64)
    y.sum().backward()
    with cpu_backend("numpy"):
        r = ember.tensor(x64.detach().numpy(), requires_grad=True)
        F.gelu(r).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), F.gelu(ember.tensor(x64.detach().numpy())).numpy())
    np.testing.assert_array_equal(x64.grad.numpy(), r.grad.numpy())
    base = np.random.default_rng(4).standard_normal((40, 30)).astype(np.float32)
    xt = ember.tensor(base, requires_grad=True)
    y = F.gelu(xt.transpose(0, 1))  # a transposed view: copied to C order for the kernel
    y.backward(ember.ones_like(y))
    np.testing.assert_allclose(y.detach().numpy(), F.gelu(ember.tensor(base.T.copy())).numpy(), rtol=0, atol=0)
    assert xt.grad.shape == (40, 30)


def test_gelu_split_over_threads_is_bit_identical():
    x = np.random.default_rng(5).standard_normal(700_001).astype(np.float32)
    results = []
    for n in (1, 2):
        with threads(n):
            t = ember.tensor(x, requires_grad=True)
            y = F.gelu(t)
            y.backward(ember.ones_like(y))
            results.append((y.detach().numpy(), t.grad.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


# -- tanh GELU and SiLU: x s(x) with a sigmoid s ------------------------------------------------


def sigmoid64(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(z, np.float64)))


def tanh_gelu64(x):
    x = x.astype(np.float64)
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    th = np.tanh(u)
    slope = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
    return 0.5 * x * (1 + th), 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * slope


def silu64(x):
    x = x.astype(np.float64)
    s = sigmoid64(x)
    return x * s, s * (1 + x * (1 - s))


@pytest.mark.parametrize("name, reference", [("tanh", tanh_gelu64), ("silu", silu64)])
def test_sigmoid_activations_match_float64(name, reference):
    rng = np.random.default_rng(10)
    x = np.concatenate([np.linspace(-30, 30, 200_001), rng.standard_normal(50_000) * 4]).astype(np.float32)
    g = rng.standard_normal(x.size).astype(np.float32)
    t = ember.tensor(x, requires_grad=True)
    y = F.gelu(t, approximate="tanh") if name == "tanh" else F.silu(t)
    y.backward(ember.tensor(g))
    ref_y, ref_d = reference(x)
    # float32 rounding of x's own size, and of the derivative (within 1.2 of 0 and 1)
    assert np.all(np.abs(y.detach().numpy() - ref_y) <= 4e-7 * np.abs(x) + 1e-7)
    assert np.abs(t.grad.numpy() - g * ref_d).max() <= 2e-6 * np.abs(g).max()


@pytest.mark.parametrize("name", ["tanh", "silu"])
def test_sigmoid_activations_special_values_and_numpy_backend(name):
    torch = pytest.importorskip("torch")
    special = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, 86.9, 87.1, -86.9, -87.1, 100.0, -100.0,
                        1e13, -1e13, 1e20, -1e20, 3e38, -3e38], np.float32)
    rng = np.random.default_rng(11)
    x = np.concatenate([special, rng.standard_normal(1000).astype(np.float32) * 5])
    results = {}
    for backend in ("numpy", "native"):
        with cpu_backend(backend), np.errstate(invalid="ignore"):  # the core's -inf * 0 = NaN, as intended
            t = ember.tensor(x, requires_grad=True)
            y = F.gelu(t, approximate="tanh") if name == "tanh" else F.silu(t)
            y.backward(ember.ones_like(y))
            results[backend] = (y.detach().numpy(), t.grad.numpy())
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate="tanh") if name == "tanh" else torch.nn.functional.silu(xt)
    yt.backward(torch.ones_like(yt))
    for other, (want_y, want_g) in (("numpy", results["numpy"]), ("torch", (yt.detach().numpy(), xt.grad.numpy()))):
        got_y, got_g = results["native"]
        np.testing.assert_array_equal(np.isnan(got_y), np.isnan(want_y), err_msg=other)
        finite = np.isfinite(want_y)
        np.testing.assert_array_equal(got_y[~finite & ~np.isnan(want_y)], want_y[~finite & ~np.isnan(want_y)])
        # PyTorch's 0.5 x (1 + tanh u) cancels for negative x (-0.0 where the sigmoid form gives
        # -1.4e-30): an error of x's own rounding size is allowed beside a relative one
        error = np.abs(got_y[finite].astype(np.float64) - want_y[finite])
        assert np.all(error <= 1e-5 * np.abs(want_y[finite]) + 3e-7 * np.abs(x[finite])), other
        finite = np.isfinite(want_g)
        if other == "numpy":  # PyTorch's tanh-GELU gradient is NaN past |x| = 1e13 (x^3 overflows); 0 and 1 here
            np.testing.assert_array_equal(np.isfinite(got_g), finite, err_msg=other)
        np.testing.assert_allclose(got_g[finite], want_g[finite], rtol=1e-5, atol=1e-6, err_msg=other)


# -- layer norm and RMS norm -------------------------------------------------------------------


def norm_reference(x, weight, bias, g, rms, eps):
    """Forward and gradients of layer norm / RMS norm in float64, from the formulas."""
    x, g = x.astype(np.float64), g.astype(np.float64)
    n = x.shape[-1]
    mean = 0.0 if rms else x.mean(-1, keepdims=True)
    xc = x - mean
    rstd = 1.0 / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)
    xhat = xc * rstd
    w = np.ones(n) if weight is None else weight.astype(np.float64)
    y = xhat * w + (0.0 if bias is None else bias.astype(np.float64))
    gh = g * w
    mean_g = 0.0 if rms else gh.mean(-1, keepdims=True)
    dx = rstd * (gh - mean_g - xhat * (gh * xhat).mean(-1, keepdims=True))
    axes = tuple(range(x.ndim - 1))
    # the size of dx's terms: a row's dx is a difference of terms this large
    term_scale = (np.abs(gh) * rstd).max()
    return y, dx, (g * xhat).sum(axes), g.sum(axes), term_scale


@pytest.mark.parametrize("rms, affine", [(False, "weight+bias"), (False, "weight"), (False, "bias"), (False, "none"),
                                         (True, "weight"), (True, "none")])  # RMS norm has no bias
@pytest.mark.parametrize("shape", [(37, 192), (3, 5, 7), (2, 1), (4, 259)])
def test_norm_matches_float64(rms, affine, shape):
    rng = np.random.default_rng(6)
    n = shape[-1]
    x = (rng.standard_normal(shape) * 3 + 1.5).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    weight = rng.standard_normal(n).astype(np.float32) if "weight" in affine else None
    bias = rng.standard_normal(n).astype(np.float32) if "bias" in affine else None
    eps = 1e-5
    xt = ember.tensor(x, requires_grad=True)
    wt = None if weight is None else ember.tensor(weight, requires_grad=True)
    bt = None if bias is None else ember.tensor(bias, requires_grad=True)
    y = F.rms_norm(xt, (n,), wt, eps=eps) if rms else F.layer_norm(xt, (n,), wt, bt, eps=eps)
    assert type(y._node) is NativeLayerNorm and y._node.native
    y.backward(ember.tensor(g))
    ref_y, ref_dx, ref_dw, ref_db, term_scale = norm_reference(x, weight, bias, g, rms, eps)
    scale = max(np.abs(ref_dx).max(), term_scale)
    np.testing.assert_allclose(y.detach().numpy(), ref_y, rtol=0, atol=1e-5 * (np.abs(ref_y).max() + 1))
    np.testing.assert_allclose(xt.grad.numpy(), ref_dx, rtol=0, atol=3e-6 * scale)
    if wt is not None:
        np.testing.assert_allclose(wt.grad.numpy(), ref_dw, rtol=0, atol=1e-5 * (np.abs(ref_dw).max() + 1))
    if bt is not None:
        np.testing.assert_allclose(bt.grad.numpy(), ref_db, rtol=0, atol=1e-5 * (np.abs(ref_db).max() + 1))


def test_norm_equals_numpy_backend_and_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((4160, 192)) + 0.3).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.standard_normal(192).astype(np.float32), rng.standard_normal(192).astype(np.float32)
    grads = {}
    for name in ("numpy", "native"):
        with cpu_backend(name):
            ts = [ember.tensor(a, requires_grad=True) for a in (x, w, b)]
            y = F.layer_norm(ts[0], (192,), ts[1], ts[2])
            y.backward(ember.tensor(g))
            grads[name] = [y.detach().numpy()] + [t.grad.numpy() for t in ts]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    yt = torch.nn.functional.layer_norm(ts[0], (192,), ts[1], ts[2])
    yt.backward(torch.tensor(g))
    grads["torch"] = [yt.detach().numpy()] + [t.grad.numpy() for t in ts]
    for other in ("numpy", "torch"):
        for got, want, tol in zip(grads["native"], grads[other], (1e-5, 1e-5, 1e-3, 1e-3)):
            np.testing.assert_allclose(got, want, rtol=0, atol=tol)


def test_norm_only_the_wanted_gradients():
    x = ember.randn(16, 32, requires_grad=True)
    w = ember.ones(32)  # no grad wanted
    b = ember.zeros(32, requires_grad=True)
    y = F.layer_norm(x, (32,), w, b)
    y.backward(ember.randn(16, 32))
    assert w.grad is None and b.grad is not None and x.grad is not None
    x2 = ember.randn(16, 32)
    w2 = ember.ones(32, requires_grad=True)
    F.layer_norm(x2, (32,), w2).sum().backward()
    assert x2.grad is None and w2.grad is not None


def test_norm_half_and_float64_take_the_core_path():
    for dtype in ("float64", "float16"):
        x = ember.randn(6, 10, dtype=dtype, requires_grad=True)
        y = F.layer_norm(x, (10,))
        assert not y._node.native
        y.sum().backward()
        assert x.grad.dtype == x.dtype


def test_norm_split_over_threads():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3000, 256)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    runs = []
    for n in (1, 2, 2):
        with threads(n):
            ts = [ember.tensor(a, requires_grad=True) for a in (x, np.ones(256, np.float32), np.zeros(256, np.float32))]
            y = F.layer_norm(ts[0], (256,), ts[1], ts[2])
            y.backward(ember.tensor(g))
            runs.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(runs[0][:2], runs[1][:2]):  # rows are independent: the same bits on any split
        np.testing.assert_array_equal(a, b)
    for a, b in zip(runs[1], runs[2]):  # the parts' weight/bias sums are added in a fixed order
        np.testing.assert_array_equal(a, b)
    for a, b in zip(runs[0][2:], runs[1][2:]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def test_empty_input():
    x = ember.zeros(0, 8, requires_grad=True)
    w = ember.ones(8, requires_grad=True)
    y = F.layer_norm(x, (8,), w)
    y.sum().backward()
    assert y.shape == (0, 8) and w.grad.numpy().tolist() == [0.0] * 8
    g = ember.zeros(0, requires_grad=True)
    F.gelu(g).sum().backward()
    assert g.grad.shape == (0,)


# -- the C bindings check what they are given ----------------------------------------------------


def test_kernels_reject_wrong_sizes_and_layouts():
    x = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="out: expected 10 float32 values"):
        _kernels.gelu_forward(x, np.zeros(9, np.float32), np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="grad: expected 10"):
        _kernels.gelu_backward(x, x, np.zeros(11, np.float32), np.zeros(10, np.float32))
    with pytest.raises((BufferError, ValueError), match="contiguous"):
        _kernels.gelu_forward(np.zeros((4, 4), np.float32).T, np.zeros(16, np.float32), np.zeros(16, np.float32))
    with pytest.raises(TypeError):  # a read-only output
        _kernels.gelu_forward(x, x.tobytes(), np.zeros(10, np.float32))
    rows = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="weight: expected 4"):
        _kernels.norm_forward(rows, np.zeros(5, np.float32), None, np.empty_like(rows), np.empty(3, np.float32),
                              np.empty(3, np.float32), 4, 1e-5, False)
    with pytest.raises(ValueError, match="layer norm needs mean"):
        _kernels.norm_forward(rows, None, None, np.empty_like(rows), None, np.empty(3, np.float32), 4, 1e-5, False)
    with pytest.raises(ValueError, match="rstd: expected 3"):
        _kernels.norm_backward(rows, rows, None, None, np.empty(2, np.float32), np.empty_like(rows), None, None,
                               4, True)


# -- a model trains the same on both backends ----------------------------------------------------


def test_transformer_block_trains_the_same_as_on_numpy():
    from ember import nn

    rng = np.random.default_rng(9)
    data = rng.standard_normal((8, 16, 32)).astype(np.float32)
    target = rng.standard_normal((8, 16, 32)).astype(np.float32)
    losses = {}
    for name in ("numpy", "native"):
        with cpu_backend(name):
            ember.manual_seed(0)
            model = nn.Sequential(nn.LayerNorm(32), nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 32), nn.RMSNorm(32))
            opt = ember.optim.AdamW(model.parameters(), lr=1e-2)
            x, t = ember.tensor(data), ember.tensor(target)
            history = []
            for _ in range(5):
                opt.zero_grad()
                loss = F.mse_loss(model(x), t)
                loss.backward()
                for p in model.parameters():
                    assert p.grad is not None and np.isfinite(p.grad.numpy()).all() and np.abs(p.grad.numpy()).sum() > 0
                opt.step()
                history.append(loss.item())
            losses[name] = history
    assert losses["native"][-1] < losses["native"][0]
    np.testing.assert_allclose(losses["native"], losses["numpy"], rtol=1e-4)


def test_an_unbuilt_extension_leaves_cpu_to_numpy(monkeypatch):
    """Without its compiled module the backend reports why, and "cpu" falls to the NumPy backend."""
    import importlib

    from ember import plugins
    from ember.device import _entry_available, get_backend
    from ember_native import plugin

    real_import = importlib.import_module

    def no_kernels(name, *args):
        if name == "ember_native._kernels":
            raise ImportError("No module named 'ember_native._kernels'")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_kernels)
    with pytest.raises(ImportError, match="C extension is not built.*C compiler"):
        plugin._kernels_built()
    ok, why = _entry_available(plugins.registry("backends")["native"])
    assert not ok and "not built" in why
    assert get_backend("cpu").name == "numpy"
