"""Layer norm and RMS norm on float32 NumPy arrays, one row at a time in C.

Each row of n elements is read twice for its statistics and once to write the output
(the core's NumPy version makes 6 passes over the whole array, and 11 in backward). The
rows are shared out over ember's threads; each thread adds its rows' weight and bias
gradients into its own vectors, summed afterwards in a fixed order (so results do not
depend on which thread finished first). The math is in :class:`ember.nn.functional.normalization.LayerNorm`.
"""

from __future__ import annotations

import numpy as np
from ember.host_threads import parallel
from ember.nn.functional.normalization import LayerNorm

from . import _kernels
from .activations import takes_kernel


class NativeLayerNorm(LayerNorm):
    native = False  # whether forward ran the C kernel (else backward runs the core's)

    def forward(self, x, *params, n, eps, has_weight, has_bias, rms):
        if not (n > 0 and takes_kernel(x) and all(takes_kernel(p) for p in params)):
            return super().forward(x, *params, n=n, eps=eps, has_weight=has_weight, has_bias=has_bias, rms=rms)
        work = np.ascontiguousarray(x).reshape(-1, n)
        rows = work.shape[0]
        weight = np.ascontiguousarray(params[0]).reshape(-1) if has_weight else None
        bias = np.ascontiguousarray(params[-1]).reshape(-1) if has_bias else None
        mean = None if rms else np.empty(rows, np.float32)
        rstd = np.empty(rows, np.float32)
        out = np.empty_like(work)

        def part(start, stop):
            _kernels.norm_forward(work[start:stop], weight, bias, out[start:stop],
                                  None if rms else mean[start:stop], rstd[start:stop], n, eps, rms)

        parallel(rows, part, work_per_item=n)
        self.native = True
        self.mean, self.rstd, self.n, self.rms, self.in_shape = mean, rstd, n, rms, x.shape
        self.has_weight, self.has_bias = has_weight, has_bias
        self.param_shape = params[0].shape if params else None
        self.weight = weight
        self.save_for_backward(x)
        return out.reshape(x.shape)

    def backward(self, grad):
        if not self.native:
            return super().backward(grad)
        (x,) = self.saved
        n, mean, rstd, weight, rms = self.n, self.mean, self.rstd, self.weight, self.rms
        needs = self.needs_input_grad
        work = np.ascontiguousarray(x).reshape(-1, n)
        g = np.ascontiguousarray(grad, dtype=np.float32).reshape(-1, n)
        rows = work.shape[0]
        want_w = self.has_weight and needs[1]
        want_b = self.has_bias and needs[2 if self.has_weight else 1]
        dx = np.empty_like(work)
        partial_sums = {}  # first row of a part -> (dweight, dbias) over its rows

        def part(start, stop):
            dw = np.zeros(n, np.float32) if want_w else None
            db = np.zeros(n, np.float32) if want_b else None
            _kernels.norm_backward(work[start:stop], g[start:stop], weight, None if rms else mean[start:stop],
                                   rstd[start:stop], dx[start:stop], dw, db, n, rms)
            partial_sums[start] = (dw, db)

        parallel(rows, part, work_per_item=n)
        ordered = [partial_sums[start] for start in sorted(partial_sums)]
        result = [dx.reshape(grad.shape) if needs[0] else None]
        if self.has_weight:
            result.append(sum(p[0] for p in ordered).reshape(self.param_shape) if want_w else None)
        if self.has_bias:
            result.append(sum(p[1] for p in ordered).reshape(self.param_shape) if want_b else None)
        return tuple(result)
