"""GELU (exact and tanh) and SiLU on float32 NumPy arrays, one C loop per thread.

Each is ``x s(x)`` for some s, and forward keeps s for backward, as the core's primitives
do (:mod:`ember.ops.activation`):

- exact GELU: s = Phi(x), the same rational fit as :mod:`ember.ops.gelu_float32` (within
  3.5e-7); backward ``grad (Phi(x) + x phi(x))``;
- tanh GELU (GPT-2's): s = sigmoid(2u) = (1 + tanh u) / 2, u = sqrt(2/pi) (x + 0.044715 x^3);
- SiLU: s = sigmoid(x); backward ``grad s (1 + x (1 - s))``.

Results agree with the NumPy backend to float32 rounding. Other dtypes run the core's code.
"""

from __future__ import annotations

import numpy as np
from ember.host_threads import parallel
from ember.ops.activation import GELU, GELUTanh, SiLU

from . import _kernels


def takes_kernel(a) -> bool:
    """A NumPy float32 array with at least one dimension (0-d arrays stay on the core's path)."""
    return type(a) is np.ndarray and a.dtype == np.float32 and a.ndim > 0


def run_forward(kernel, a):
    """``(out, saved)`` of ``kernel(x, out, saved)`` over ember's threads."""
    flat = np.ascontiguousarray(a).reshape(-1)
    out, saved = np.empty_like(flat), np.empty_like(flat)
    parallel(flat.size, lambda start, stop: kernel(flat[start:stop], out[start:stop], saved[start:stop]))
    return out.reshape(a.shape), saved.reshape(a.shape)


def run_backward(kernel, a, saved, grad):
    """``kernel(x, saved, grad, out)`` over ember's threads; returns out."""
    flat = np.ascontiguousarray(a).reshape(-1)
    flat_saved = np.ascontiguousarray(saved).reshape(-1)
    flat_grad = np.ascontiguousarray(grad, dtype=np.float32).reshape(-1)
    out = np.empty_like(flat)
    parallel(flat.size, lambda start, stop: kernel(flat[start:stop], flat_saved[start:stop],
                                                   flat_grad[start:stop], out[start:stop]))
    return out.reshape(a.shape)


class KernelActivation:
    """Mixin for ``x s(x)`` primitives: forward runs ``forward_kernel`` and keeps s, backward
    runs ``backward_kernel`` on it; anything but a float32 array goes to the core's class."""

    forward_kernel = backward_kernel = None

    def forward(self, a):
        if not takes_kernel(a):
            return super().forward(a)
        out, saved = run_forward(self.forward_kernel, a)
        self.save_for_backward(a, saved)
        return out

    def backward(self, grad):
        a, saved = self.saved
        if not takes_kernel(a):
            return super().backward(grad)
        return run_backward(self.backward_kernel, a, saved, grad)


class NativeGELU(KernelActivation, GELU):
    forward_kernel = staticmethod(_kernels.gelu_forward)  # keeps Phi(x)
    backward_kernel = staticmethod(_kernels.gelu_backward)


class NativeGELUTanh(KernelActivation, GELUTanh):
    # keeps s = (1 + tanh u) / 2, as the core's float32 path does, so either backward reads it
    forward_kernel = staticmethod(_kernels.gelu_tanh_forward)
    backward_kernel = staticmethod(_kernels.gelu_tanh_backward)


class NativeSiLU(KernelActivation, SiLU):
    forward_kernel = staticmethod(_kernels.silu_forward)  # keeps sigmoid(x)
    backward_kernel = staticmethod(_kernels.silu_backward)
