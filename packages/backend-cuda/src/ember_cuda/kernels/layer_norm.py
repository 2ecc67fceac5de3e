"""Layer norm and RMS norm over the last ``n`` elements of each row, forward and backward.

``CudaLayerNorm`` replaces the core's ``LayerNorm`` primitive (``backend.functions``) with
the same signature. Forward is one block per row: the mean, then the variance around it
(two passes over a row that stays in cache, more accurate than E[x^2] - E[x]^2), then the
output; it keeps the input, the row means and 1/sigma. Backward is one block per row for

    dx = (1/sigma) * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)),  g_hat = g * weight

(RMS norm drops ``mean(g_hat)``), and a column kernel for the weight and bias gradients that
sums chunks of rows in parallel and adds the chunks up with one reduction.
"""

from __future__ import annotations

import numpy as np
from ember.nn.functional.normalization import LayerNorm

from .runtime import dtype_name, f64, function, i32, i64

TEMPLATE = r"""
extern "C" __global__ void ln_fwd(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                  T* __restrict__ y, ACC* __restrict__ mean_out, ACC* __restrict__ rstd_out,
                                  long long n, double eps, int has_w, int has_b, int rms) {
    __shared__ ACC scratch[32];
    long long base = (long long)blockIdx.x * n;
    ACC mean = 0;
    if (!rms) {
        ACC s = 0;
        for (long long c = threadIdx.x; c < n; c += blockDim.x) s += to_acc(x[base + c]);
        mean = block_sum(s, scratch) / (ACC)n;
    }
    ACC q = 0;
    for (long long c = threadIdx.x; c < n; c += blockDim.x) {
        ACC d = to_acc(x[base + c]) - mean;
        q += d * d;
    }
    q = block_sum(q, scratch);
    ACC rstd = (ACC)1 / ember_sqrt(q / (ACC)n + (ACC)eps);
    for (long long c = threadIdx.x; c < n; c += blockDim.x) {
        ACC v = (to_acc(x[base + c]) - mean) * rstd;
        if (has_w) v *= to_acc(w[c]);
        if (has_b) v += to_acc(b[c]);
        store(y, base + c, v);
    }
    if (threadIdx.x == 0) {
        mean_out[blockIdx.x] = mean;
        rstd_out[blockIdx.x] = rstd;
    }
}

extern "C" __global__ void ln_bwd_dx(const T* __restrict__ x, const T* __restrict__ g, const T* __restrict__ w,
                                     const ACC* __restrict__ mean, const ACC* __restrict__ rstd, T* __restrict__ dx,
                                     long long n, int has_w, int rms) {
    __shared__ ACC scratch[32];
    long long base = (long long)blockIdx.x * n;
    ACC mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
    ACC s1 = 0, s2 = 0;  // sum(g_hat * x_hat), sum(g_hat)
    for (long long c = threadIdx.x; c < n; c += blockDim.x) {
        ACC gh = to_acc(g[base + c]);
        if (has_w) gh *= to_acc(w[c]);
        s1 += gh * (to_acc(x[base + c]) - mu) * rs;
        s2 += gh;
    }
    s1 = block_sum(s1, scratch) / (ACC)n;
    s2 = rms ? (ACC)0 : block_sum(s2, scratch) / (ACC)n;
    for (long long c = threadIdx.x; c < n; c += blockDim.x) {
        ACC gh = to_acc(g[base + c]);
        if (has_w) gh *= to_acc(w[c]);
        ACC xh = (to_acc(x[base + c]) - mu) * rs;
        store(dx, base + c, (gh - s2 - xh * s1) * rs);
    }
}

// Partial column sums over a chunk of rows: dw_part[chunk, c] = sum g * x_hat, db_part[chunk, c] = sum g.
extern "C" __global__ void ln_bwd_dwdb(const T* __restrict__ x, const T* __restrict__ g,
                                       const ACC* __restrict__ mean, const ACC* __restrict__ rstd,
                                       ACC* __restrict__ dw_part, ACC* __restrict__ db_part,
                                       long long rows, long long n, long long rows_per_chunk) {
    long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= n) return;
    long long r0 = (long long)blockIdx.y * rows_per_chunk;
    long long r1 = r0 + rows_per_chunk < rows ? r0 + rows_per_chunk : rows;
    ACC sw = 0, sb = 0;
    for (long long r = r0; r < r1; ++r) {
        ACC gv = to_acc(g[r * n + c]);
        sw += gv * (to_acc(x[r * n + c]) - mean[r]) * rstd[r];
        sb += gv;
    }
    dw_part[blockIdx.y * n + c] = sw;
    db_part[blockIdx.y * n + c] = sb;
}
"""

VARIANTS = [(d, {}) for d in ("float32", "float64", "float16", "bfloat16")]


def _threads(n: int) -> int:
    return 64 if n <= 256 else (128 if n <= 1024 else 256)


class CudaLayerNorm(LayerNorm):
    """The core's LayerNorm primitive (layer norm and RMS norm) on fused CUDA kernels."""

    def forward(self, x, *params, n, eps, has_weight, has_bias, rms):
        self._fused = bool(dtype_name(x.dtype)) and x.size > 0 and all(p.dtype == x.dtype for p in params)
        if not self._fused:
            return super().forward(x, *params, n=n, eps=eps, has_weight=has_weight, has_bias=has_bias, rms=rms)
        xp = self.xp
        xc = xp.ascontiguousarray(x)
        rows = xc.size // n
        acc = np.float64 if x.dtype == np.float64 else np.float32
        w = xp.ascontiguousarray(params[0]).reshape(-1) if has_weight else xc
        b = xp.ascontiguousarray(params[-1]).reshape(-1) if has_bias else xc
        y = xp.empty_like(xc)
        mean = xp.empty(rows, acc)
        rstd = xp.empty(rows, acc)
        fn = function(TEMPLATE, "layer_norm", x.dtype, "ln_fwd")
        fn((rows,), (_threads(n),), (xc, w, b, y, mean, rstd, i64(n), f64(eps), i32(has_weight), i32(has_bias),
                                    i32(rms)))
        self.mean, self.rstd, self.n, self.rms = mean, rstd, n, rms
        self.has_weight, self.has_bias = has_weight, has_bias
        self.param_shape = params[0].shape if params else None
        self.weight = w if has_weight else None
        self.save_for_backward(xc)
        return y.reshape(x.shape)

    def backward(self, grad):
        if not self._fused:
            return super().backward(grad)
        xp = self.xp
        (x,) = self.saved
        n, rows = self.n, x.size // self.n
        g = xp.ascontiguousarray(grad.astype(x.dtype, copy=False))
        needs = self.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            gx = xp.empty_like(x)
            fn = function(TEMPLATE, "layer_norm", x.dtype, "ln_bwd_dx")
            w = self.weight if self.weight is not None else x
            fn((rows,), (_threads(n),), (x, g, w, self.mean, self.rstd, gx, i64(n), i32(self.has_weight),
                                        i32(self.rms)))
            gx = gx.reshape(grad.shape)
        want_w = self.has_weight and needs[1]
        want_b = self.has_bias and needs[2 if self.has_weight else 1]
        if want_w or want_b:
            chunks = max(1, min(rows, 256, (rows + 31) // 32))
            per = (rows + chunks - 1) // chunks
            dw = xp.empty((chunks, n), self.rstd.dtype)
            db = xp.empty((chunks, n), self.rstd.dtype)
            fn = function(TEMPLATE, "layer_norm", x.dtype, "ln_bwd_dwdb")
            fn(((n + 127) // 128, chunks), (128,), (x, g, self.mean, self.rstd, dw, db, i64(rows), i64(n), i64(per)))
            if want_w:
                gw = dw.sum(0).reshape(self.param_shape)
            if want_b:
                gb = db.sum(0).reshape(self.param_shape)
        out = [gx]
        if self.has_weight:
            out.append(gw)
        if self.has_bias:
            out.append(gb)
        return tuple(out)


FUNCTIONS = {LayerNorm: CudaLayerNorm}

__all__ = ["TEMPLATE", "VARIANTS", "CudaLayerNorm", "FUNCTIONS"]
