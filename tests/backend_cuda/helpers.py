"""Run one ember computation on "cpu" and on "cuda" from the same inputs, and compare."""

from __future__ import annotations

import numpy as np

import ember


def run(fn, arrays, device, dtype="float32", grad_seed=1):
    """``fn(*tensors)`` on ``device``; returns (output as float64 NumPy, [input grads as float64 NumPy]).

    The upstream gradient is a fixed random array, so backward is checked in every direction.
    """
    tensors = [ember.tensor(a, dtype=dtype, device=device, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    rng = np.random.default_rng(grad_seed)
    g = rng.standard_normal(tuple(out.shape))
    out.backward(ember.tensor(g, dtype=out.dtype, device=device))
    as64 = lambda t: np.asarray(t.detach().float().numpy() if t.dtype.itemsize < 4 else t.detach().numpy(),  # noqa: E731
                                dtype=np.float64)
    return as64(out), [as64(t.grad) for t in tensors]


def compare(fn, arrays, cuda, dtype="float32", rtol=1e-4, atol=1e-5, ref_dtype=None):
    """Forward and every input gradient of ``fn`` agree between cpu (``ref_dtype``) and cuda (``dtype``)."""
    ref_out, ref_grads = run(fn, arrays, "cpu", ref_dtype or dtype)
    out, grads = run(fn, arrays, cuda, dtype)
    np.testing.assert_allclose(out, ref_out, rtol=rtol, atol=atol, err_msg="forward")
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")
