"""Shared helpers of the nn tests: copy torch weights into ember layers, compare outputs and gradients."""

from __future__ import annotations

import numpy as np
import torch

import ember

DTYPES = {"float64": (ember.float64, torch.float64), "float32": (ember.float32, torch.float32)}
TOL = {"float64": dict(atol=1e-9, rtol=1e-7), "float32": dict(atol=2e-5, rtol=2e-4)}


def to_np(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return t.detach().numpy()


def load_from_torch(e_module, t_module) -> None:
    """Copy a torch module's state into the ember module with the same structure (by name)."""
    state = {k: ember.tensor(v.detach().numpy()) for k, v in t_module.state_dict().items()}
    e_module.load_state_dict(state)


def assert_close(actual, expected, dtype: str, scale: float = 1.0, what: str = "") -> None:
    tol = TOL[dtype]
    np.testing.assert_allclose(to_np(actual).astype(np.float64), to_np(expected).astype(np.float64),
                               atol=tol["atol"] * scale, rtol=tol["rtol"] * scale, err_msg=what)


def compare_module(e_mod, t_mod, arrays, dtype: str, *, seed: int = 0, scale: float = 1.0, grad_inputs=None,
                   call=None):
    """Run both modules on the same inputs (float arrays get grads) and compare the outputs,
    the input gradients and every parameter gradient (by name)."""
    e_dt, t_dt = DTYPES[dtype]
    load_from_torch(e_mod, t_mod)
    e_mod.to(e_dt)
    t_mod.to(t_dt)
    e_in, t_in = [], []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            rg = grad_inputs is None or i in grad_inputs
            e_in.append(ember.tensor(a, dtype=e_dt, requires_grad=rg))
            t_in.append(torch.tensor(a, dtype=t_dt, requires_grad=rg))
        else:
            e_in.append(ember.tensor(a))
            t_in.append(torch.tensor(a))
    call = call or (lambda m, *xs: m(*xs))
    e_out, t_out = call(e_mod, *e_in), call(t_mod, *t_in)
    assert tuple(e_out.shape) == tuple(t_out.shape)
    assert_close(e_out, t_out, dtype, scale, "forward")
    cot = np.random.default_rng(seed).standard_normal(tuple(t_out.shape))
    e_out.backward(ember.tensor(cot, dtype=e_dt))
    t_out.backward(torch.tensor(cot, dtype=t_dt))
    for i, (e, t) in enumerate(zip(e_in, t_in)):
        if t.requires_grad:
            assert e.grad is not None, f"input {i} got no gradient"
            assert_close(e.grad, t.grad, dtype, scale, f"grad of input {i}")
    t_params = dict(t_mod.named_parameters())
    for name, p in e_mod.named_parameters():
        tp = t_params[name]
        if tp.grad is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
            continue
        assert p.grad is not None, f"parameter {name} got no gradient"
        assert_close(p.grad, tp.grad, dtype, scale, f"grad of {name}")
    return e_out, t_out
