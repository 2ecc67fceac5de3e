"""Numerics of softmax, log_softmax, sigmoid, softplus, erf and GELU: no overflow at extreme
inputs, and accuracy against independent references (SciPy's erf, PyTorch's tanh GELU)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ember

scipy_special = pytest.importorskip("scipy.special")

EXTREMES = [-1e4, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1e4]


def _run(fn, values, dtype):
    """fn(x) and d(sum of fn(x) * random)/dx, with every NumPy warning turned into an error."""
    x = ember.tensor(values, dtype=dtype, requires_grad=True)
    cotangent = ember.tensor(np.random.default_rng(0).standard_normal(np.shape(values)), dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(x)
        (y * cotangent).sum().backward()
    return y.detach().numpy(), x.grad.numpy()


STABLE = {
    "sigmoid": ember.sigmoid,
    "softplus": ember.softplus,
    "silu": ember.silu,
    "softmax": lambda x: ember.softmax(x, dim=-1),
    "log_softmax": lambda x: ember.log_softmax(x, dim=-1),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(STABLE))
def test_finite_forward_and_gradient_at_extreme_inputs(name, dtype):
    values = [EXTREMES, [v * 0.5 for v in reversed(EXTREMES)], [1e4] * len(EXTREMES), [-1e4] * len(EXTREMES)]
    out, grad = _run(STABLE[name], values, dtype)
    assert np.isfinite(out).all(), f"{name} gave non-finite outputs: {out}"
    assert np.isfinite(grad).all(), f"{name} gave non-finite gradients: {grad}"


def test_sigmoid_saturates_exactly():
    out, grad = _run(ember.sigmoid, [-1e4, 1e4, -200.0], "float32")
    assert out.tolist() == [0.0, 1.0, 0.0]
    assert grad.tolist() == [0.0, 0.0, 0.0]


def test_sigmoid_keeps_relative_precision_in_the_lower_tail():
    x = np.array([-30.0, -100.0, -700.0])
    out = ember.sigmoid(ember.tensor(x, dtype="float64")).numpy()
    np.testing.assert_allclose(out, np.exp(x) / (1 + np.exp(x)), rtol=1e-13)


def test_softplus_is_linear_and_zero_at_the_extremes():
    out, grad = _run(ember.softplus, [-1e4, 1e4], "float32")
    assert out.tolist() == [0.0, 1e4]
    cotangent = np.random.default_rng(0).standard_normal(2).astype(np.float32)
    np.testing.assert_allclose(grad, [0.0, cotangent[1]])


def test_softplus_matches_logaddexp():
    x = np.linspace(-50, 50, 1001)
    out = ember.softplus(ember.tensor(x, dtype="float64")).numpy()
    expected = np.where(x > 20, x, np.logaddexp(0.0, x))
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-300)


def test_softmax_of_large_float32_rows_matches_float64():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 7)) * 3 + np.array([[1e4], [-1e4], [0.0], [5e3]])
    x32 = x.astype(np.float32)
    ref = x32.astype(np.float64)
    e = np.exp(ref - ref.max(axis=1, keepdims=True))
    np.testing.assert_allclose(ember.softmax(ember.tensor(x32), dim=1).numpy(), e / e.sum(1, keepdims=True),
                               atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(ember.log_softmax(ember.tensor(x32), dim=1).numpy(),
                               np.log(e / e.sum(1, keepdims=True)), atol=1e-5, rtol=1e-5)


def test_softmax_with_masked_entries():
    x = ember.tensor([[0.0, float("-inf"), 1.0], [float("-inf"), 2.0, float("-inf")]], requires_grad=True)
    y = ember.softmax(x, dim=-1)
    e = math.exp(1.0)
    np.testing.assert_allclose(y.detach().numpy(), [[1 / (1 + e), 0.0, e / (1 + e)], [0.0, 1.0, 0.0]], rtol=1e-6)
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_softmax_sums_to_one(dtype):
    x = ember.tensor(np.random.default_rng(2).standard_normal((3, 50)) * 4, dtype=dtype)
    y = ember.softmax(x, dim=1)
    assert y.dtype == ember.dtypes.as_dtype(dtype)
    sums = np.asarray(y.numpy(), dtype=np.float64).sum(axis=1)
    np.testing.assert_allclose(sums, 1.0, atol=2e-2)


def test_erf_is_double_precision_accurate():
    x = np.concatenate([np.linspace(-8, 8, 20001), [0.0, 1e-300, -1e-12, 0.46875, -0.46875, 4.0, -4.0, 30.0]])
    got = ember.erf(ember.tensor(x, dtype="float64")).numpy()
    np.testing.assert_allclose(got, scipy_special.erf(x), rtol=1e-14, atol=1e-16)


def test_erf_float32_is_single_precision_accurate():
    x = np.linspace(-6, 6, 20001).astype(np.float32)
    got = ember.erf(ember.tensor(x)).numpy().astype(np.float64)
    np.testing.assert_allclose(got, scipy_special.erf(x.astype(np.float64)), atol=5e-7)


def test_erf_gradient():
    x = np.linspace(-5, 5, 101)
    t = ember.tensor(x, dtype="float64", requires_grad=True)
    ember.erf(t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), 2 / math.sqrt(math.pi) * np.exp(-x * x), rtol=1e-14, atol=1e-300)


def _gelu_reference(x):
    return 0.5 * x * (1 + scipy_special.erf(x / math.sqrt(2)))


def test_exact_gelu_matches_scipy_erf_reference_in_float64():
    x = np.concatenate([np.linspace(-12, 12, 24001), np.random.default_rng(3).standard_normal(1000) * 3])
    t = ember.tensor(x, dtype="float64", requires_grad=True)
    y = ember.gelu(t)
    np.testing.assert_allclose(y.detach().numpy(), _gelu_reference(x), atol=1e-6, rtol=0)
    np.testing.assert_allclose(y.detach().numpy(), _gelu_reference(x), atol=1e-15, rtol=1e-13)
    y.sum().backward()
    phi = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    expected_grad = 0.5 * (1 + scipy_special.erf(x / math.sqrt(2))) + x * phi
    np.testing.assert_allclose(t.grad.numpy(), expected_grad, atol=1e-14, rtol=1e-13)


def test_exact_gelu_lower_tail_keeps_relative_precision():
    x = np.array([-8.0, -15.0, -30.0])
    got = ember.gelu(ember.tensor(x, dtype="float64")).numpy()
    expected = x * 0.5 * scipy_special.erfc(-x / math.sqrt(2))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_exact_gelu_float32():
    x = np.linspace(-10, 10, 4001).astype(np.float32)
    got = ember.gelu(ember.tensor(x)).numpy().astype(np.float64)
    np.testing.assert_allclose(got, _gelu_reference(x.astype(np.float64)), atol=3e-6, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tanh_gelu_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    x = np.concatenate([np.linspace(-10, 10, 2001), [-1e4, 1e4]]).astype(dtype)
    g = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    ours = ember.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y = ember.gelu(ours, approximate="tanh")
    ty = torch.nn.functional.gelu(theirs, approximate="tanh")
    y.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    # float32: NumPy's and PyTorch's tanh can differ by an ulp, which x (1 - tanh^2) amplifies a little.
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == "float32" else dict(atol=1e-12, rtol=1e-10)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tol)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        ember.gelu(ember.tensor([1.0]), approximate="fast")
