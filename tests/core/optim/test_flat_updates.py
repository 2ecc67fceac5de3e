"""Flat updates (optim/flat.py): a group updated as one array gives exactly the per-parameter results.

Each test runs two optimizers side by side on equal parameters and equal gradients, one with
``flat_updates`` on (the default) and one with it off, and asserts bitwise equality of the
parameters and of every state tensor, through the events that must re-pack the group.
"""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import optim

SHAPES = [(7, 5), (5,), (3, 4, 2), (), (300, 200)]

OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd-nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam-amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    "lion": lambda ps: optim.Lion(ps, lr=0.01, weight_decay=0.1),
}


def _params(seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    return [ember.tensor(rng.standard_normal(s), dtype=dtype, requires_grad=True) for s in SHAPES]


def _set_grads(params, step, skip=()):
    for i, p in enumerate(params):
        if i in skip:
            p.grad = None
        else:
            g = np.random.default_rng(1000 * step + i).standard_normal(p.shape)
            p.grad = ember.tensor(g, dtype=p.dtype)


def _pair(make):
    flat_params, plain_params = _params(), _params()
    flat, plain = make(flat_params), make(plain_params)
    plain.flat_updates = False
    return (flat, flat_params), (plain, plain_params)


def _assert_same(a, b):
    (opt_a, pa), (opt_b, pb) = a, b
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for i in sa:
        assert sa[i].keys() == sb[i].keys(), i
        for key in sa[i]:
            np.testing.assert_array_equal(np.asarray(sa[i][key].numpy()), np.asarray(sb[i][key].numpy()),
                                          err_msg=f"state {i} {key}")


def _step(pair, step, skip=()):
    for opt, params in pair:
        _set_grads(params, step, skip)
        opt.step()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_flat_equals_per_parameter(name):
    pair = _pair(OPTIMIZERS[name])
    for step in range(12):
        _step(pair, step)
    _assert_same(*pair)
    (flat, params), _ = pair
    assert flat._flat_groups, "the flat path did not run"
    buffer = flat._flat_groups[0].proxy._data
    assert all(np.shares_memory(p._data, buffer) for p in params)


@pytest.mark.parametrize("name", ["adamw", "sgd-nesterov"])
def test_missing_gradient_and_repacking(name):
    """Parameters without a gradient are left out of the pack (an unused parameter stays
    untouched); a change of that set, or rebinding a parameter's array, re-packs."""
    pair = _pair(OPTIMIZERS[name])
    for step in range(3):
        _step(pair, step, skip=(4,))
    (flat, params), _ = pair
    assert [id(p) for p in flat._flat_groups[0].params] == [id(p) for i, p in enumerate(params) if i != 4]
    _step(pair, 3, skip=(1,))
    _step(pair, 4)
    _assert_same(*pair)
    for opt, params in pair:  # p.data = ...: the parameter's array is a new one
        params[0].data = ember.tensor(np.ones(SHAPES[0]), dtype="float32")
    for step in range(5, 8):
        _step(pair, step)
    _assert_same(*pair)


def test_optimizer_load_state_dict_mid_run():
    pair = _pair(OPTIMIZERS["adam-amsgrad"])
    for step in range(4):
        _step(pair, step)
    saved = pair[1][0].state_dict()
    snapshot = {i: {k: np.array(v.numpy()) for k, v in s.items()} for i, s in saved["state"].items()}
    for opt, params in pair:
        opt.load_state_dict({"state": {i: {k: ember.tensor(v) for k, v in s.items()} for i, s in snapshot.items()},
                             "param_groups": saved["param_groups"]})
    for step in range(4, 8):
        _step(pair, step)
    _assert_same(*pair)


def test_sgd_without_momentum_keeps_no_state():
    (flat, params), _ = _pair(OPTIMIZERS["sgd"])
    _set_grads(params, 0)
    flat.step()
    assert flat.state_dict()["state"] == {}


def test_mixed_dtypes_update_per_parameter():
    params = _params()[:2] + _params(1, "float64")[:2]
    plain_params = _params()[:2] + _params(1, "float64")[:2]
    flat, plain = optim.Adam(params, lr=0.01), optim.Adam(plain_params, lr=0.01)
    plain.flat_updates = False
    for step in range(3):
        _step([(flat, params), (plain, plain_params)], step)
    assert not flat._flat_groups
    _assert_same((flat, params), (plain, plain_params))


def test_module_training_is_unchanged():
    """A model trained with flat updates follows the per-parameter run exactly, and its
    state_dict still saves and loads (the parameters are views of one buffer)."""
    losses = {}
    for flat_updates in (True, False):
        ember.manual_seed(0)
        model = ember.nn.Sequential(ember.nn.Linear(6, 16), ember.nn.GELU(), ember.nn.Linear(16, 3))
        opt = optim.AdamW(model.parameters(), lr=0.01)
        opt.flat_updates = flat_updates
        x = ember.tensor(np.random.default_rng(0).standard_normal((32, 6)), dtype="float32")
        y = ember.tensor(np.random.default_rng(1).integers(0, 3, 32))
        run = []
        for _ in range(15):
            loss = ember.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.append(float(loss.item()))
        losses[flat_updates] = run
        state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        model.load_state_dict({k: ember.tensor(v) for k, v in state.items()})
        opt.step()  # re-packs from the loaded arrays
        assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())
    assert losses[True] == losses[False]
