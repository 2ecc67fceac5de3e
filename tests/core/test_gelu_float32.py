"""The exact GELU's float32 NumPy kernels (ember.ops.gelu_float32): values against a float64
reference on arrays that span several blocks, the tails, special values, and PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember.ops import gelu_float32

scipy_special = pytest.importorskip("scipy.special")


def _phi64(x):
    return scipy_special.ndtr(np.asarray(x, np.float64))


def _many(n=3 * gelu_float32.BLOCK + 123, seed=0):
    """More than three blocks, the last one ragged: grid points over the fitted range and past it."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-7.0, 7.0, n // 2)
    return np.concatenate([grid, rng.standard_normal(n - grid.size) * 3]).astype(np.float32)


def test_normal_cdf_is_within_its_stated_error_everywhere():
    x = _many()
    got = gelu_float32.gelu_forward(x)[1].astype(np.float64)
    assert np.abs(got - _phi64(x)).max() <= gelu_float32.MAX_ERROR
    assert got.min() >= 0.0 and got.max() <= 1.0


def test_normal_cdf_is_exactly_zero_and_one_past_the_fitted_range():
    dense = np.concatenate([np.linspace(6.0, 100.0, 200_001), np.geomspace(100.0, 3e38, 20_001)])
    x = np.concatenate([dense, [1e10, 1e20, 3e38, np.inf]]).astype(np.float32)
    assert (gelu_float32.gelu_forward(x)[1] == 1.0).all()
    assert (gelu_float32.gelu_forward(-x)[1] == 0.0).all()


def test_forward_and_gradient_match_the_float64_formulas():
    x = _many(7 * 30000, seed=1).reshape(7, -1)
    g = np.random.default_rng(2).standard_normal(x.shape[::-1]).astype(np.float32)
    t = ember.tensor(x, requires_grad=True)
    y = ember.gelu(t.transpose(0, 1))  # not contiguous: the kernels take a copy
    y.backward(ember.tensor(g))
    x = x.T
    x64 = x.astype(np.float64)
    cdf = _phi64(x64)
    np.testing.assert_allclose(y.detach().numpy(), x64 * cdf, atol=7 * gelu_float32.MAX_ERROR, rtol=1e-6)
    expected = g * (cdf + x64 * np.exp(-x64 * x64 / 2) / math.sqrt(2 * math.pi))
    np.testing.assert_allclose(t.grad.numpy().T, expected, atol=1e-6, rtol=1e-6)


def test_large_negative_inputs_give_zero_not_x_times_a_small_error():
    x = np.array([-6.0, -10.0, -1e3, -1e20], np.float32)
    t = ember.tensor(x, requires_grad=True)
    y = ember.gelu(t)
    y.sum().backward()
    assert (y.detach().numpy() == 0.0).all()
    assert np.abs(t.grad.numpy()).max() < 1e-7


def test_special_values_follow_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e20, -1e20, 5.8, -5.8, 0.5, -0.5], np.float32)
    ours = ember.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, ty = ember.gelu(ours), torch.nn.functional.gelu(theirs)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-6, rtol=1e-6)


def test_matches_pytorch_on_a_training_sized_activation():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((300, 768)) * 2).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ember.gelu(ours).backward(ember.tensor(g))
    torch.nn.functional.gelu(theirs).backward(torch.tensor(g))
    np.testing.assert_allclose(ember.gelu(ember.tensor(x)).numpy(), torch.nn.functional.gelu(torch.tensor(x)).numpy(),
                               atol=2e-6, rtol=1e-6)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=2e-6, rtol=1e-6)


@pytest.mark.parametrize("shape", [(0,), (1,), (3, 0, 2), (gelu_float32.BLOCK + 1,)])
def test_empty_single_and_ragged_shapes(shape):
    x = np.linspace(-3, 3, math.prod(shape)).astype(np.float32).reshape(shape)
    t = ember.tensor(x, requires_grad=True)
    y = ember.gelu(t)
    assert y.shape == shape and y.dtype == ember.float32
    y.sum().backward()
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(y.detach().numpy(), x64 * _phi64(x64), atol=2e-6)
    assert t.grad.shape == shape


def _gelu_tanh64(x):
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
    th = np.tanh(u)
    du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x ** 2)
    return 0.5 * x * (1 + th), 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du


def test_tanh_form_matches_the_float64_formula_over_several_blocks():
    x = _many(seed=6)
    g = np.random.default_rng(7).standard_normal(x.shape).astype(np.float32)
    t = ember.tensor(x, requires_grad=True)
    y = ember.gelu(t, approximate="tanh")
    y.backward(ember.tensor(g))
    value, slope = _gelu_tanh64(x.astype(np.float64))
    np.testing.assert_allclose(y.detach().numpy(), value, atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(t.grad.numpy(), g * slope, atol=1e-6, rtol=1e-5)


def test_tanh_form_saturates_without_overflow():
    x = np.array([-10.0, -100.0, -1e20, 10.0, 100.0, 1e20, 3e38], np.float32)
    t = ember.tensor(x, requires_grad=True)
    y = ember.gelu(t, approximate="tanh")
    y.sum().backward()
    expected = np.where(x > 0, x, 0.0)
    np.testing.assert_allclose(y.detach().numpy(), expected, atol=1e-6, rtol=1e-7)
    np.testing.assert_allclose(t.grad.numpy(), (x > 0).astype(np.float32), atol=1e-6)


def test_tanh_form_special_values_follow_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 9.0, -9.0, 0.5, -0.5], np.float32)
    y = ember.gelu(ember.tensor(x), approximate="tanh").numpy()
    np.testing.assert_allclose(y, torch.nn.functional.gelu(torch.tensor(x), approximate="tanh").numpy(),
                               atol=1e-6, rtol=1e-6)
