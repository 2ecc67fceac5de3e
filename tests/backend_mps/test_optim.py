"""Every optimizer follows the same trajectory on "mps" as on "cpu"."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import optim

from .parity import assert_close

OPTIMIZERS = {
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-3),
    "adam_amsgrad": lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    "lion": lambda ps: optim.Lion(ps, lr=1e-3, weight_decay=0.1),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1),
}


def _trajectory(name, device, steps=20):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((8, 5))
    b = rng.standard_normal(8)
    w = ember.tensor(np.zeros(5), dtype="float32", device=device, requires_grad=True)
    x, y = ember.tensor(a, dtype="float32", device=device), ember.tensor(b, dtype="float32", device=device)
    opt = OPTIMIZERS[name]([w])
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
    return w, opt


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_trajectory_matches_cpu(name):
    w_cpu, _ = _trajectory(name, "cpu")
    w_mps, opt = _trajectory(name, "mps")
    assert w_mps.device.type == "mps"
    assert_close(w_cpu, w_mps, f"{name} after 20 steps", rtol=1e-4, atol=1e-6)
    assert np.abs(w_mps.detach().cpu().numpy()).max() > 1e-2  # it moved


def test_optimizer_state_dict_moves_between_devices():
    _, opt = _trajectory("adam", "mps", steps=3)
    state = opt.state_dict()
    w = ember.zeros(5, device="mps", requires_grad=True)
    fresh = optim.Adam([w], lr=1e-2)
    fresh.load_state_dict(state)
    (exp_avg,) = [v["exp_avg"] for v in fresh.state.values()]
    assert exp_avg.device.type == "mps"
    assert_close(exp_avg, next(iter(opt.state.values()))["exp_avg"], "exp_avg")
