"""nn.utils gradient clipping and parameter vectors against torch.nn.utils."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember.nn import utils

torch = pytest.importorskip("torch")

SHAPES = [(7, 5), (5,), (300, 400), (1,)]


def make_pair(dtype, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(s).astype(dtype) * scale for s in SHAPES]
    e = [ember.zeros(*s, dtype=dtype, requires_grad=True) for s in SHAPES]
    t = [torch.zeros(s, dtype=getattr(torch, dtype), requires_grad=True) for s in SHAPES]
    for ep, tp, g in zip(e, t, grads):
        ep.grad = ember.tensor(g)
        tp.grad = torch.tensor(g)
    return e, t


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    e, t = make_pair(dtype)
    e_total = utils.clip_grad_norm_(e, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(t, max_norm, norm_type=float(norm_type))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    assert isinstance(e_total, ember.Tensor) and e_total.shape == () and e_total.dtype == getattr(ember, dtype)
    np.testing.assert_allclose(e_total.item(), t_total.item(), rtol=rtol)
    for ep, tp in zip(e, t):
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), rtol=rtol, atol=1e-12)


def test_clipped_norm_is_max_norm_and_unclipped_grads_are_untouched():
    e, _ = make_pair("float64")
    total = utils.clip_grad_norm_(e, 1.0).item()
    assert total > 1.0
    assert utils.get_total_norm([p.grad for p in e]).item() == pytest.approx(1.0 / (1 + 1e-6 / total), rel=1e-9)
    before = [p.grad._data for p in e]
    utils.clip_grad_norm_(e, 10.0)
    assert all(p.grad._data is b for p, b in zip(e, before))


def test_single_tensor_generator_and_no_grads():
    w = ember.zeros(2, requires_grad=True)
    w.grad = ember.tensor([3.0, 4.0])
    assert utils.clip_grad_norm_(w, 1.0).item() == pytest.approx(5.0)
    assert utils.clip_grad_norm_((p for p in [w]), 1.0).item() == pytest.approx(1.0, rel=1e-5)
    empty = utils.clip_grad_norm_([ember.zeros(2, requires_grad=True)], 1.0)
    assert empty.item() == 0.0


def test_shared_and_broadcast_gradient_arrays_are_scaled_once():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # both get the same (read-only, broadcast) gradient array of ones
    total = utils.clip_grad_norm_([a, b], 1.0)
    assert total.item() == pytest.approx(2.0)
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 0.5], rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 0.5], rtol=1e-5)


def test_grad_tensor_object_is_kept_and_its_version_bumped():
    w = ember.zeros(2, requires_grad=True)
    w.grad = ember.tensor([3.0, 4.0])
    grad, version = w.grad, w.grad._version
    utils.clip_grad_norm_([w], 1.0)
    assert w.grad is grad and grad._version == version + 1


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_non_finite_norm(bad):
    e, t = make_pair("float64")
    for grads in ([p.grad for p in e], [p.grad for p in t]):
        grads[0][0, 0] = bad
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(e, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(t, 1.0, error_if_nonfinite=True)
    e_total = utils.clip_grad_norm_(e, 1.0)
    t_total = torch.nn.utils.clip_grad_norm_(t, 1.0)
    assert (math.isnan(e_total.item()) and math.isnan(t_total.item())) or e_total.item() == t_total.item()
    for ep, tp in zip(e, t):
        np.testing.assert_array_equal(ep.grad.numpy(), tp.grad.numpy())


@pytest.mark.parametrize("max_norm", [-1.0, math.nan, "1"])
def test_bad_max_norm(max_norm):
    e, _ = make_pair("float32")
    with pytest.raises(ValueError, match="max_norm"):
        utils.clip_grad_norm_(e, max_norm)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip_value", [0.1, 1.5, 100.0])
def test_clip_grad_value_matches_torch(dtype, clip_value):
    e, t = make_pair(dtype, scale=2.0)
    assert utils.clip_grad_value_(e, clip_value) is None
    torch.nn.utils.clip_grad_value_(t, clip_value)
    for ep, tp in zip(e, t):
        np.testing.assert_array_equal(ep.grad.numpy(), tp.grad.numpy())


def test_bad_clip_value():
    e, _ = make_pair("float32")
    with pytest.raises(ValueError, match="clip_value"):
        utils.clip_grad_value_(e, -0.5)


def test_clip_grad_norm_before_an_optimizer_step_matches_torch():
    e, t = make_pair("float64", scale=3.0)
    e_opt, t_opt = ember.optim.Adam(e, lr=0.1), torch.optim.Adam(t, lr=0.1)
    utils.clip_grad_norm_(e, 0.25)
    torch.nn.utils.clip_grad_norm_(t, 0.25)
    e_opt.step()
    t_opt.step()
    for ep, tp in zip(e, t):
        np.testing.assert_allclose(ep.detach().numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_parameters_to_vector_and_back_match_torch():
    rng = np.random.default_rng(1)
    values = [rng.standard_normal(s) for s in [(2, 3), (4,), (1, 1, 2)]]
    e = [ember.tensor(v, requires_grad=True) for v in values]
    t = [torch.tensor(v, requires_grad=True) for v in values]
    e_vec, t_vec = utils.parameters_to_vector(e), torch.nn.utils.parameters_to_vector(t)
    np.testing.assert_array_equal(e_vec.detach().numpy(), t_vec.detach().numpy())
    (e_vec * ember.arange(12, dtype=ember.float64)).sum().backward()
    np.testing.assert_array_equal(np.concatenate([p.grad.numpy().ravel() for p in e]), np.arange(12.0))

    new = rng.standard_normal(12)
    with ember.no_grad():
        utils.vector_to_parameters(ember.tensor(new), e)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), t)
    for ep, tp in zip(e, t):
        np.testing.assert_array_equal(ep.detach().numpy(), tp.detach().numpy())
    with pytest.raises(ValueError, match="12"):
        utils.vector_to_parameters(ember.zeros(11, dtype=ember.float64), e)
    with pytest.raises(ValueError, match="1-D"):
        utils.vector_to_parameters(ember.zeros(3, 4, dtype=ember.float64), e)
    with pytest.raises(TypeError, match="Tensor"):
        utils.vector_to_parameters(new, e)
