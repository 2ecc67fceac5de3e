"""Checking an analytic gradient against central finite differences."""

from __future__ import annotations

import numpy as np


class GradcheckError(AssertionError):
    """The analytic and numerical gradients disagree."""


def numerical_jacobian_vjp(fn, inputs, cotangent, eps):
    """d<cotangent, fn(inputs)>/d(input) for each float input, by central differences."""
    from ..autograd.grad_mode import no_grad

    grads = []
    for t in inputs:
        if t is None or not getattr(t, "requires_grad", False):
            grads.append(None)
            continue
        host = t.detach().cpu().numpy().astype(np.float64)
        g = np.zeros_like(host)
        flat, flat_g = host.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            values = []
            for delta in (eps, -eps):
                flat[i] = original + delta
                with no_grad():
                    t._data[...] = t._device.backend.from_numpy(host.astype(t._data.dtype), t._device.index or 0)
                    out = fn(*inputs)
                values.append(float((np.asarray(out.detach().cpu().numpy(), dtype=np.float64) * cotangent).sum()))
            flat[i] = original
            flat_g[i] = (values[0] - values[1]) / (2 * eps)
        with no_grad():
            t._data[...] = t._device.backend.from_numpy(host.astype(t._data.dtype), t._device.index or 0)
        grads.append(g)
    return grads


def gradcheck(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              seed: int = 0, raise_exception: bool = True) -> bool:
    """Compare ``fn``'s autograd gradients with central finite differences.

    ``fn`` maps tensors to one tensor. Float inputs with ``requires_grad=True`` are
    checked; use float64 inputs (float32 needs a larger ``eps`` and looser tolerances). A
    random cotangent (not all-ones) is used, so gradients that are wrong only in how they
    weight output elements are caught too.

    >>> import ember
    >>> x = ember.randn(3, dtype=ember.float64, requires_grad=True)
    >>> ember.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
    True
    """
    from ..tensor import Tensor

    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    rng = np.random.default_rng(seed)
    cotangent = rng.standard_normal(out.shape)
    for t in inputs:
        if isinstance(t, Tensor):
            t.grad = None
    out.backward(gradient=Tensor._make(out._device.backend.from_numpy(cotangent.astype(out._data.dtype),
                                                                     out._device.index or 0), out._device, None))
    numeric = numerical_jacobian_vjp(fn, inputs, cotangent, eps)
    for i, (t, expected) in enumerate(zip(inputs, numeric)):
        if expected is None:
            continue
        analytic = np.zeros_like(expected) if t.grad is None else t.grad.cpu().numpy().astype(np.float64)
        if not np.allclose(analytic, expected, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(analytic - expected)), expected.shape) if expected.size else ()
            message = (f"gradcheck failed for input {i} (shape {tuple(t.shape)}): largest difference at index "
                       f"{tuple(int(k) for k in worst)}: analytic {analytic[worst]!r} vs numerical {expected[worst]!r}")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
