"""Running the same computation on "cpu" and "mps" and comparing values and gradients."""

from __future__ import annotations

import numpy as np

import ember

from ..zoo_parity import assert_close, host

__all__ = ["assert_close", "host", "module_parity"]


def module_parity(make, inputs, *, loss=None, rtol=2e-4, atol=2e-5, train=True):
    """Build ``make()`` once on the CPU, copy it to "mps", run both on ``inputs`` (NumPy
    arrays), backpropagate ``loss(output)`` (default: a weighted sum), and compare the
    output, every parameter gradient and every input gradient."""
    ember.manual_seed(0)
    cpu_model = make()
    mps_model = make()
    mps_model.load_state_dict(cpu_model.state_dict())
    mps_model.to("mps")
    cpu_model.train(train)
    mps_model.train(train)
    results = []
    for model, device in ((cpu_model, "cpu"), (mps_model, "mps")):
        xs = [ember.tensor(x, device=device, requires_grad=np.issubdtype(x.dtype, np.floating)) for x in inputs]
        out = model(*xs)
        out = out[0] if isinstance(out, tuple) else out
        weight = ember.tensor(np.random.default_rng(1).standard_normal(out.shape).astype(np.float32), device=device)
        total = loss(out) if loss is not None else (out * weight).sum()
        total.backward()
        results.append((out, xs, dict(model.named_parameters())))
    (out_c, xs_c, params_c), (out_m, xs_m, params_m) = results
    assert out_m.device.type == "mps"
    assert_close(out_c, out_m, "output", rtol, atol)
    for name, p in params_c.items():
        if p.grad is None:
            assert params_m[name].grad is None, name
            continue
        assert_close(p.grad, params_m[name].grad, f"gradient of {name}", rtol, atol)
    for i, (a, b) in enumerate(zip(xs_c, xs_m)):
        if a.grad is not None:
            assert_close(a.grad, b.grad, f"gradient of input {i}", rtol, atol)
    return out_c, out_m
