"""Exact GELU ``x Phi(x)`` on float32 NumPy arrays, in one C loop per thread.

Forward keeps Phi(x) for backward, as the core's :class:`ember.ops.activation.GELU` does;
backward is ``grad * (Phi(x) + x phi(x))``. Phi is the same rational fit as
:mod:`ember.ops.gelu_float32` (within 3.5e-7 of the true value), so results agree with
the NumPy backend to float32 rounding. Other dtypes run the core's code.
"""

from __future__ import annotations

import numpy as np
from ember.host_threads import parallel
from ember.ops.activation import GELU

from . import _kernels


def takes_kernel(a) -> bool:
    """A NumPy float32 array with at least one dimension (0-d arrays stay on the core's path)."""
    return type(a) is np.ndarray and a.dtype == np.float32 and a.ndim > 0


class NativeGELU(GELU):
    def forward(self, a):
        if not takes_kernel(a):
            return super().forward(a)
        flat = np.ascontiguousarray(a).reshape(-1)
        out, cdf = np.empty_like(flat), np.empty_like(flat)
        parallel(flat.size, lambda start, stop: _kernels.gelu_forward(flat[start:stop], out[start:stop],
                                                                      cdf[start:stop]))
        self.save_for_backward(a, cdf.reshape(a.shape))
        return out.reshape(a.shape)

    def backward(self, grad):
        a, cdf = self.saved
        if not takes_kernel(a):
            return super().backward(grad)
        flat = np.ascontiguousarray(a).reshape(-1)
        flat_cdf = np.ascontiguousarray(cdf).reshape(-1)
        flat_grad = np.ascontiguousarray(grad, dtype=np.float32).reshape(-1)
        out = np.empty_like(flat)
        parallel(flat.size, lambda start, stop: _kernels.gelu_backward(
            flat[start:stop], flat_cdf[start:stop], flat_grad[start:stop], out[start:stop]))
        return out.reshape(a.shape)
