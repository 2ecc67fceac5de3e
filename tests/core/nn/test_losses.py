"""Losses against torch.nn.functional (values and gradients, float64 and float32), gradcheck in
float64, numerical stability, and the loss modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck

from ._helpers import DTYPES, assert_close

DT = ["float64", "float32"]


def rng(seed=0):
    return np.random.default_rng(seed)


def T(a, requires_grad=True):
    return ember.tensor(np.asarray(a, dtype=np.float64), dtype=ember.float64, requires_grad=requires_grad)


def run_both(e_fn, t_fn, float_arrays, const_arrays=(), dtype="float64", grad=(0,), scale=1.0, seed=0):
    """Call e_fn(*floats, *consts) and t_fn likewise; compare value and the grads of ``grad``."""
    e_dt, t_dt = DTYPES[dtype]
    e_in = [ember.tensor(a, dtype=e_dt, requires_grad=i in grad) for i, a in enumerate(float_arrays)]
    t_in = [torch.tensor(a, dtype=t_dt, requires_grad=i in grad) for i, a in enumerate(float_arrays)]
    e_c = [ember.tensor(c) if np.asarray(c).dtype.kind in "iub" else ember.tensor(c, dtype=e_dt) for c in const_arrays]
    t_c = [torch.tensor(c) if np.asarray(c).dtype.kind in "iub" else torch.tensor(c, dtype=t_dt) for c in const_arrays]
    e_out, t_out = e_fn(*e_in, *e_c), t_fn(*t_in, *t_c)
    assert tuple(e_out.shape) == tuple(t_out.shape)
    assert_close(e_out, t_out, dtype, scale, "value")
    cot = rng(seed).standard_normal(tuple(t_out.shape))
    e_out.backward(ember.tensor(cot, dtype=e_dt))
    t_out.backward(torch.tensor(cot, dtype=t_dt))
    for i in grad:
        assert_close(e_in[i].grad, t_in[i].grad, dtype, scale, f"grad of input {i}")


# -- cross-entropy --------------------------------------------------------------------------

CE_CASES = {
    "2d": ((6, 5), (6,), {}),
    "1d": ((5,), (), {}),
    "nd": ((3, 5, 2, 4), (3, 2, 4), {}),
    "weight": ((6, 5), (6,), {"weight": True}),
    "ignore": ((6, 5), (6,), {"ignore_index": 2}),
    "ignore_weight_nd": ((2, 5, 7), (2, 7), {"ignore_index": 1, "weight": True}),
    "smoothing": ((6, 5), (6,), {"label_smoothing": 0.15}),
    "smoothing_ignore": ((6, 5), (6,), {"label_smoothing": 0.2, "ignore_index": 0}),
    "smoothing_weight_ignore": ((6, 5), (6,), {"label_smoothing": 0.2, "ignore_index": 0, "weight": True}),
    "smoothing_nd": ((2, 5, 3), (2, 3), {"label_smoothing": 0.1}),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("case", list(CE_CASES))
def test_cross_entropy_index_targets(case, dtype, reduction):
    xshape, yshape, kw = CE_CASES[case]
    r = rng(1)
    x = r.standard_normal(xshape) * 3
    c = xshape[0] if len(xshape) == 1 else xshape[1]
    y = r.integers(0, c, yshape)
    consts = [y]
    kw = dict(kw)
    w = r.random(c) + 0.5 if kw.pop("weight", False) else None
    if w is not None:
        consts.append(w)
    run_both(lambda x, y, *w: F.cross_entropy(x, y, *w, reduction=reduction, **kw),
             lambda x, y, *w: TF.cross_entropy(x, y, *w, reduction=reduction, **kw),
             [x], consts, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"weight": True}], ids=["plain", "smooth", "weight"])
@pytest.mark.parametrize("shape", [(4, 5), (2, 5, 3)])
def test_cross_entropy_probability_targets(shape, kw, dtype, reduction):
    r = rng(2)
    x = r.standard_normal(shape) * 2
    t = r.random(shape)
    t /= t.sum(1, keepdims=True)
    kw = dict(kw)
    consts = [r.random(shape[1]) + 0.5] if kw.pop("weight", False) else []
    run_both(lambda x, t, *w: F.cross_entropy(x, t, *w, reduction=reduction, **kw),
             lambda x, t, *w: TF.cross_entropy(x, t, *w, reduction=reduction, **kw),
             [x, t], consts, dtype, grad=(0, 1))


def test_cross_entropy_gradcheck():
    r = rng()
    x = T(r.standard_normal((4, 5)))
    y = ember.tensor([0, 2, -100, 4])
    w = ember.tensor(r.random(5) + 0.5, dtype=ember.float64)
    for kw in ({}, {"label_smoothing": 0.2}, {"weight": w}, {"weight": w, "label_smoothing": 0.1},
               {"reduction": "none", "label_smoothing": 0.3}, {"reduction": "sum", "weight": w}):
        assert gradcheck(lambda x: F.cross_entropy(x, y, **kw), (x,)), kw
    xn = T(r.standard_normal((2, 3, 2, 2)))
    yn = ember.tensor(r.integers(0, 3, (2, 2, 2)))
    assert gradcheck(lambda x: F.cross_entropy(x, yn, label_smoothing=0.1), (xn,))
    t = T(r.random((4, 5)))
    assert gradcheck(lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), (x, t))
    assert gradcheck(lambda x, t: F.cross_entropy(x, t, weight=w, reduction="none"), (x, t))


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_cross_entropy_finite_for_huge_logits(dtype):
    x = ember.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [3e4, 3e4, -3e4]], dtype=dtype, requires_grad=True)
    y = ember.tensor([1, 1, 0])
    loss = F.cross_entropy(x, y, label_smoothing=0.1)
    loss.backward()
    assert np.isfinite(loss.item())
    assert np.isfinite(x.grad.numpy()).all()
    ref = TF.cross_entropy(torch.tensor(x.detach().numpy()), torch.tensor([1, 1, 0]), label_smoothing=0.1)
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-5)
    probs = F.cross_entropy(x, F.softmax(ember.tensor([[0.0, 1, 2]] * 3, dtype=dtype), -1))
    assert np.isfinite(probs.item())


def test_cross_entropy_half_precision():
    x = ember.randn(4, 6).to(ember.float16)
    y = ember.tensor([0, 1, 2, 3])
    loss = F.cross_entropy(x, y)
    assert loss.dtype == ember.float16
    np.testing.assert_allclose(loss.item(), F.cross_entropy(x.float(), y).item(), rtol=2e-3)


def test_cross_entropy_errors_name_the_problem():
    x = ember.randn(3, 4)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, ember.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"expected class-index target of shape \(3,\)"):
        F.cross_entropy(x, ember.tensor([0, 1]))
    with pytest.raises(ValueError, match="probability targets"):
        F.cross_entropy(x, ember.rand(3, 5))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, ember.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="weight"):
        F.cross_entropy(x, ember.tensor([0, 1, 2]), weight=ember.ones(3))


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x = ember.randn(2, 3)
    out = F.cross_entropy(x, ember.tensor([-100, -100]))
    ref = TF.cross_entropy(torch.randn(2, 3), torch.tensor([-100, -100]))
    assert np.isnan(out.item()) and np.isnan(ref.item())


# -- NLL ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("shape", [(5, 4), (4,), (2, 4, 3)])
def test_nll_loss(shape, dtype, reduction):
    r = rng(3)
    x = np.log(r.random(shape))
    c = shape[0] if len(shape) == 1 else shape[1]
    yshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    y = r.integers(0, c, yshape)
    w = r.random(c) + 0.5
    run_both(lambda x, y, w: F.nll_loss(x, y, w, ignore_index=1, reduction=reduction),
             lambda x, y, w: TF.nll_loss(x, y, w, ignore_index=1, reduction=reduction), [x], [y, w], dtype)


def test_nll_loss_gradcheck_and_log_softmax_composition():
    r = rng()
    x = T(r.standard_normal((4, 5)))
    y = ember.tensor([0, 2, 1, 4])
    assert gradcheck(lambda x: F.nll_loss(x, y), (x,))
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(x, 1), y).item(), F.cross_entropy(x, y).item(), rtol=1e-12)


# -- pointwise losses --------------------------------------------------------------------------

POINTWISE = {
    "mse": (F.mse_loss, TF.mse_loss, {}),
    "l1": (F.l1_loss, TF.l1_loss, {}),
    "smooth_l1": (F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.7}),
    "smooth_l1_beta0": (F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.0}),
    "huber": (F.huber_loss, TF.huber_loss, {"delta": 1.3}),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("name", list(POINTWISE))
def test_pointwise_losses(name, dtype, reduction):
    e_fn, t_fn, kw = POINTWISE[name]
    r = rng(4)
    x, t = r.standard_normal((3, 4)) * 2, r.standard_normal((3, 4))
    run_both(lambda x, t: e_fn(x, t, reduction=reduction, **kw), lambda x, t: t_fn(x, t, reduction=reduction, **kw),
             [x, t], (), dtype, grad=(0, 1))


@pytest.mark.parametrize("name", list(POINTWISE))
def test_pointwise_gradcheck(name):
    e_fn, _, kw = POINTWISE[name]
    r = rng(5)
    x, t = T(r.standard_normal((3, 4)) * 2), T(r.standard_normal((3, 4)))
    assert gradcheck(lambda x, t: e_fn(x, t, **kw), (x, t))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DT)
def test_binary_cross_entropy(dtype, reduction):
    r = rng(6)
    x, t, w = r.uniform(0.05, 0.95, (4, 3)), r.random((4, 3)), r.random((4, 3))
    run_both(lambda x, t, w: F.binary_cross_entropy(x, t, w, reduction=reduction),
             lambda x, t, w: TF.binary_cross_entropy(x, t, w, reduction=reduction), [x, t], [w], dtype, grad=(0, 1))


def test_binary_cross_entropy_clamps_logs_and_checks_range():
    x = ember.tensor([0.0, 1.0, 1.0])
    t = ember.tensor([1.0, 0.0, 1.0])
    ref = TF.binary_cross_entropy(torch.tensor([0.0, 1.0, 1.0]), torch.tensor([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(F.binary_cross_entropy(x, t, reduction="none").numpy(), ref.numpy())
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits(weights, dtype, reduction):
    r = rng(7)
    x, t = r.standard_normal((4, 3)) * 4, r.random((4, 3))
    consts = []
    names = []
    if weights in ("weight", "both"):
        consts.append(r.random((4, 3)))
        names.append("weight")
    if weights in ("pos_weight", "both"):
        consts.append(r.random(3) * 3)
        names.append("pos_weight")

    def call(fn):
        return lambda x, t, *c: fn(x, t, reduction=reduction, **dict(zip(names, c)))

    run_both(call(F.binary_cross_entropy_with_logits), call(TF.binary_cross_entropy_with_logits), [x, t], consts,
             dtype, grad=(0, 1))


def test_bce_with_logits_stable_and_gradcheck():
    x = ember.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], requires_grad=True)
    t = ember.tensor([1.0, 0.0, 0.5, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, t, pos_weight=ember.tensor([2.0]), reduction="none")
    loss.sum().backward()
    ref = TF.binary_cross_entropy_with_logits(torch.tensor(x.detach().numpy()), torch.tensor(t.numpy()),
                                              pos_weight=torch.tensor([2.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), ref.numpy(), rtol=1e-6, atol=1e-30)
    assert np.isfinite(x.grad.numpy()).all()
    r = rng()
    xs, ts = T(r.standard_normal((3, 4)) * 3), T(r.random((3, 4)))
    pw = ember.tensor(r.random(4) * 2, dtype=ember.float64)
    assert gradcheck(lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw), (xs, ts))


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(log_target, dtype, reduction):
    r = rng(8)
    x = np.log(r.dirichlet(np.ones(5), 3))
    t = r.dirichlet(np.ones(5), 3)
    t[0, 1] = 0.0  # a zero target probability contributes 0
    if log_target:
        t = np.log(t + 1e-3)
    run_both(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
             lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target), [x, t], (), dtype,
             grad=(0,) if not log_target else (0, 1))


def test_kl_div_gradcheck():
    r = rng()
    x, t = T(np.log(r.dirichlet(np.ones(4), 3))), T(r.dirichlet(np.ones(4), 3))
    assert gradcheck(lambda x, t: F.kl_div(x, t, reduction="batchmean"), (x, t))
    assert gradcheck(lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True), (x, T(np.log(t.detach().numpy()))))


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("dim", [1, -1, 0])
def test_cosine_similarity(dim, dtype):
    r = rng(9)
    a, b = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    run_both(lambda a, b: F.cosine_similarity(a, b, dim), lambda a, b: TF.cosine_similarity(a, b, dim), [a, b], (),
             dtype, grad=(0, 1))


def test_cosine_similarity_broadcast_gradcheck_and_zero_vectors():
    r = rng()
    a, b = T(r.standard_normal((3, 4))), T(r.standard_normal((1, 4)))
    assert gradcheck(lambda a, b: F.cosine_similarity(a, b, dim=1), (a, b))
    z = F.cosine_similarity(ember.zeros(2, 3), ember.ones(2, 3))
    np.testing.assert_array_equal(z.numpy(), [0.0, 0.0])


# -- loss modules ------------------------------------------------------------------------------


def test_loss_modules_match_functional_and_register_weights():
    r = rng()
    x = ember.tensor(r.standard_normal((4, 3)))
    y = ember.tensor([0, 2, 1, 2])
    w = ember.tensor([1.0, 2.0, 0.5])
    ce = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1, ignore_index=1)
    assert ce(x, y).item() == F.cross_entropy(x, y, w, ignore_index=1, label_smoothing=0.1).item()
    assert "weight" in ce.state_dict() and list(ce.parameters()) == []
    t = ember.tensor(r.random((4, 3)))
    assert nn.MSELoss(reduction="sum")(x, t).item() == F.mse_loss(x, t, reduction="sum").item()
    assert nn.L1Loss()(x, t).item() == F.l1_loss(x, t).item()
    assert nn.SmoothL1Loss(beta=0.5)(x, t).item() == F.smooth_l1_loss(x, t, beta=0.5).item()
    assert nn.HuberLoss(delta=0.5)(x, t).item() == F.huber_loss(x, t, delta=0.5).item()
    bce = nn.BCEWithLogitsLoss(pos_weight=ember.tensor([1.0, 2.0, 3.0]))
    assert bce(x, t).item() == F.binary_cross_entropy_with_logits(x, t, pos_weight=bce.pos_weight).item()
    assert nn.BCELoss()(t, t).item() == F.binary_cross_entropy(t, t).item()
    lp = F.log_softmax(x, 1)
    assert nn.NLLLoss()(lp, y).item() == F.nll_loss(lp, y).item()
    assert nn.KLDivLoss(reduction="batchmean")(lp, t).item() == F.kl_div(lp, t, reduction="batchmean").item()
    np.testing.assert_array_equal(nn.CosineSimilarity(dim=0)(x, t).numpy(), F.cosine_similarity(x, t, 0).numpy())
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert "CrossEntropyLoss" in nn.layer_registry()


def test_legacy_reduction_arguments():
    x, t = ember.ones(3), ember.zeros(3)
    assert F.mse_loss(x, t, size_average=False).item() == 3.0
    assert F.mse_loss(x, t, reduce=False).shape == (3,)
