"""Learning-rate schedulers against torch.optim.lr_scheduler, step by step."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import lr_scheduler as sched

torch = pytest.importorskip("torch")
tsched = torch.optim.lr_scheduler

LRS = (0.1, 0.02)


def make_optimizers(kind="SGD", lrs=LRS):
    """The same two-group optimizer in ember and torch (no gradients: steps change nothing)."""
    e_params = [ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)]
    t_params = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    if kind == "SGD":
        kw = dict(momentum=0.9)
        return (optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(e_params, lrs)], **kw),
                torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(t_params, lrs)], **kw))
    if kind == "Adam":
        return (optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(e_params, lrs)]),
                torch.optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(t_params, lrs)]))
    raise ValueError(kind)


def _lambda(epoch):
    return 0.95 ** epoch


def _lambda2(epoch):
    return 1.0 / (1 + epoch // 10)


SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[10, 25, 25, 60], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.97),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=30, eta_min=0.001),
    "CosineAnnealingLR-no-min": lambda m, o: m.CosineAnnealingLR(o, T_max=45),
    "LambdaLR": lambda m, o: m.LambdaLR(o, _lambda),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [_lambda, _lambda2]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda epoch: 0.99),
    "LinearLR-warmup": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=20),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=40),
    "LinearLR-defaults": lambda m, o: m.LinearLR(o),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=10),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=40, power=2.0),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=150),
    "OneCycleLR-linear": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=150, anneal_strategy="linear",
                                                   pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    "OneCycleLR-three-phase": lambda m, o: m.OneCycleLR(o, max_lr=0.8, total_steps=150, three_phase=True,
                                                        base_momentum=0.8, max_momentum=[0.95, 0.9]),
    "OneCycleLR-epochs": lambda m, o: m.OneCycleLR(o, max_lr=0.3, epochs=10, steps_per_epoch=15,
                                                   cycle_momentum=False),
    "SequentialLR-linear-cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=10), m.CosineAnnealingLR(o, T_max=90)], milestones=[10]),
    "SequentialLR-constant-exponential": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.1, total_iters=5), m.ExponentialLR(o, gamma=0.9)], milestones=[5]),
    "SequentialLR-three": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.5, total_iters=5), m.StepLR(o, step_size=4, gamma=0.5),
            m.LambdaLR(o, _lambda)], milestones=[5, 20]),
}

STEPS = 149  # OneCycleLR's 150 steps


def _momenta(opt):
    out = []
    for g in opt.param_groups:
        out.append(g["betas"][0] if "betas" in g else g["momentum"])
    return out


def _run_pair(name, kind, steps=STEPS):
    e_opt, t_opt = make_optimizers(kind)
    e_s, t_s = SCHEDULERS[name](sched, e_opt), SCHEDULERS[name](tsched, t_opt)
    rows = []
    for _ in range(steps + 1):
        rows.append((e_s.get_last_lr(), t_s.get_last_lr(), [g["lr"] for g in e_opt.param_groups],
                     [g["lr"] for g in t_opt.param_groups], _momenta(e_opt), _momenta(t_opt)))
        e_opt.step()
        t_opt.step()
        if len(rows) <= steps:
            e_s.step()
            t_s.step()
    return rows


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_matches_torch_step_by_step(name, kind):
    for step, (e_last, t_last, e_lr, t_lr, e_m, t_m) in enumerate(_run_pair(name, kind)):
        np.testing.assert_allclose(e_last, t_last, rtol=1e-12, atol=1e-15, err_msg=f"get_last_lr at step {step}")
        np.testing.assert_allclose(e_lr, t_lr, rtol=1e-12, atol=1e-15, err_msg=f"group lr at step {step}")
        np.testing.assert_allclose(e_m, t_m, rtol=1e-12, atol=1e-15, err_msg=f"momentum at step {step}")


def test_the_schedules_actually_change_the_rate():
    for name in SCHEDULERS:
        lrs = {row[0][0] for row in _run_pair(name, "SGD", steps=60)}
        assert len(lrs) > 1, name


def test_the_optimizer_uses_the_scheduled_rate():
    w = ember.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    s = sched.StepLR(opt, step_size=1, gamma=0.5)
    for expected in (1.0, 0.5, 0.25):
        w.grad = ember.ones(1)
        before = w.item()
        opt.step()
        assert before - w.item() == pytest.approx(expected)
        s.step()


def test_one_cycle_raises_past_total_steps():
    e_opt, t_opt = make_optimizers()
    s = sched.OneCycleLR(e_opt, max_lr=1.0, total_steps=10)
    for _ in range(10):
        e_opt.step()
        s.step()
    with pytest.raises(ValueError, match="total steps is 10"):
        s.step()


def test_closed_form_step_with_epoch_matches_torch():
    for name in ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR-warmup",
                 "PolynomialLR", "ConstantLR"):
        e_opt, t_opt = make_optimizers()
        e_s, t_s = SCHEDULERS[name](sched, e_opt), SCHEDULERS[name](tsched, t_opt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in (3, 17, 8, 40):
                e_opt.step()
                t_opt.step()
                e_s.step(epoch)
                t_s.step(epoch)
                np.testing.assert_allclose(e_s.get_last_lr(), t_s.get_last_lr(), rtol=1e-12, err_msg=name)


# -- state_dict ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "LambdaLR", "OneCycleLR-three-phase",
                                  "SequentialLR-linear-cosine", "SequentialLR-three", "MultiStepLR"])
def test_state_dict_resume_continues_identically(name):
    opt, _ = make_optimizers("Adam")
    s = SCHEDULERS[name](sched, opt)
    for _ in range(37):
        opt.step()
        s.step()
    opt_state, sched_state = opt.state_dict(), s.state_dict()
    assert "optimizer" not in sched_state

    opt2, _ = make_optimizers("Adam", lrs=(5.0, 7.0))
    s2 = SCHEDULERS[name](sched, opt2)
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(sched_state)
    assert s2.get_last_lr() == s.get_last_lr()
    for _ in range(60):
        for o, sc in ((opt, s), (opt2, s2)):
            o.step()
            sc.step()
        assert s2.get_last_lr() == s.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
        assert _momenta(opt2) == _momenta(opt)


def test_lambda_state_keeps_callable_objects_only():
    opt, _ = make_optimizers()
    s = sched.LambdaLR(opt, [_lambda, sched._WarmupLinear(3, 10)])
    state = s.state_dict()
    assert state["lr_lambdas"][0] is None
    assert state["lr_lambdas"][1] == {"warmup_steps": 3, "total_steps": 10}


def test_resuming_with_last_epoch_needs_initial_lr():
    opt, _ = make_optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(opt, step_size=3, last_epoch=5)


# -- warm-up helpers -------------------------------------------------------------------------


def hf_cosine(step, warmup, total, min_ratio=0.0, cycles=0.5):
    """Hugging Face's get_cosine_with_min_lr_schedule_with_warmup factor."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    factor = 0.5 * (1.0 + math.cos(math.pi * cycles * 2.0 * progress))
    return max(0.0, factor * (1 - min_ratio) + min_ratio)


def hf_linear(step, warmup, total):
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


@pytest.mark.parametrize("warmup,total,min_ratio", [(10, 100, 0.0), (0, 50, 0.1), (25, 60, 0.05), (1, 2, 0.0)])
def test_linear_warmup_cosine_matches_hugging_face_and_torch_lambda(warmup, total, min_ratio):
    e_opt, t_opt = make_optimizers()
    e_s = sched.linear_warmup_cosine(e_opt, warmup, total, min_lr_ratio=min_ratio)
    t_s = tsched.LambdaLR(t_opt, lambda step: hf_cosine(step, warmup, total, min_ratio))
    assert sched.cosine_with_warmup is sched.linear_warmup_cosine
    for step in range(total + 20):
        expected = [lr * hf_cosine(min(step, total), warmup, total, min_ratio) for lr in LRS]
        np.testing.assert_allclose(e_s.get_last_lr(), expected, rtol=1e-12, atol=1e-15)
        if step <= total:
            np.testing.assert_allclose(e_s.get_last_lr(), t_s.get_last_lr(), rtol=1e-12, atol=1e-15)
        for o, s in ((e_opt, e_s), (t_opt, t_s)):
            o.step()
            s.step()
    # After total_steps it stays at the minimum.
    assert e_s.get_last_lr() == pytest.approx([lr * min_ratio for lr in LRS])
    # The warm-up starts from 0 and reaches the full rate.
    if warmup > 0:
        assert sched.linear_warmup_cosine(make_optimizers()[0], warmup, total).get_last_lr() == [0.0, 0.0]


@pytest.mark.parametrize("warmup,total", [(10, 100), (0, 30), (5, 6)])
def test_linear_with_warmup_matches_hugging_face(warmup, total):
    opt, _ = make_optimizers()
    s = sched.linear_with_warmup(opt, warmup, total)
    for step in range(total + 10):
        np.testing.assert_allclose(s.get_last_lr(), [lr * hf_linear(step, warmup, total) for lr in LRS],
                                   rtol=1e-12, atol=1e-15)
        opt.step()
        s.step()


# -- errors ------------------------------------------------------------------------------------


BAD = [
    (lambda o: sched.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: sched.StepLR(o, step_size=2.5), ValueError, "step_size"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: sched.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
    (lambda o: sched.LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
    (lambda o: sched.LinearLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: sched.ConstantLR(o, factor=2.0), ValueError, "factor"),
    (lambda o: sched.PolynomialLR(o, total_iters=-1), ValueError, "total_iters"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError, "total_steps"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="cubic"), ValueError,
     "anneal_strategy"),
    (lambda o: sched.OneCycleLR(o, max_lr=[1.0], total_steps=10), ValueError, "max_lr"),
    (lambda o: sched.LambdaLR(o, [_lambda]), ValueError, "lr_lambdas"),
    (lambda o: sched.LambdaLR(o, 0.5), TypeError, "lr_lambda"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 2), sched.StepLR(o, 3)], milestones=[]), ValueError,
     "milestones"),
    (lambda o: sched.SequentialLR(o, [], milestones=[]), ValueError, "at least one"),
    (lambda o: sched.linear_warmup_cosine(o, warmup_steps=20, total_steps=10), ValueError, "warmup_steps"),
    (lambda o: sched.linear_warmup_cosine(o, warmup_steps=-1, total_steps=10), ValueError, "warmup_steps"),
    (lambda o: sched.linear_warmup_cosine(o, warmup_steps=1, total_steps=10, min_lr_ratio=2.0), ValueError,
     "min_lr_ratio"),
    (lambda o: sched.linear_with_warmup(o, warmup_steps=1, total_steps=0), ValueError, "total_steps"),
]


@pytest.mark.parametrize("make,error,match", BAD, ids=[f"bad{i}-{m}" for i, (_, _, m) in enumerate(BAD)])
def test_bad_arguments_raise_naming_them(make, error, match):
    opt, _ = make_optimizers()
    with pytest.raises(error, match=match):
        make(opt)


def test_one_cycle_momentum_needs_an_optimizer_with_momentum():
    opt = optim.Adagrad([ember.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="cycle_momentum"):
        sched.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    sched.OneCycleLR(opt, max_lr=1.0, total_steps=10, cycle_momentum=False)


def test_needs_an_ember_optimizer():
    _, t_opt = make_optimizers()
    with pytest.raises(TypeError, match="not an Optimizer"):
        sched.StepLR(t_opt, step_size=2)
    e_opt, _ = make_optimizers()
    other, _ = make_optimizers()
    with pytest.raises(ValueError, match="same optimizer"):
        sched.SequentialLR(e_opt, [sched.StepLR(e_opt, 2), sched.StepLR(other, 2)], milestones=[3])


def test_warns_when_stepped_before_the_optimizer():
    opt, _ = make_optimizers()
    s = sched.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()
    opt2, _ = make_optimizers()
    s2 = sched.StepLR(opt2, step_size=2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2.step()
