"""softmax and log_softmax, forward and backward: one CUDA block per row.

The core's ``Softmax``/``LogSoftmax`` primitives call these through ``backend.kernels``
(``"softmax"(x, axis)``, ``"softmax_backward"(grad, y, axis)``, and the log_softmax pair).
Forward makes three passes over a row that stays in L2 (max, sum of exponentials, write);
half-precision rows are computed in float32 and rounded once, as in the core.
"""

from __future__ import annotations

from .runtime import dtype_name, function, i32, i64

TEMPLATE = r"""
extern "C" __global__ void softmax_fwd(const T* __restrict__ x, T* __restrict__ y, long long cols, int log_out) {
    __shared__ ACC scratch[32];
    const T* xr = x + (long long)blockIdx.x * cols;
    T* yr = y + (long long)blockIdx.x * cols;
    ACC m = -ember_inf((ACC)0);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        ACC v = to_acc(xr[c]);
        m = (v > m || v != v) ? v : m;
    }
    m = block_max(m, scratch);
    ACC s = 0;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += ember_exp(to_acc(xr[c]) - m);
    s = block_sum(s, scratch);
    if (log_out) {
        // (x - m) - log s, not x - (m + log s): m + log s would round to m's precision (1e-3 at 1e4)
        ACC log_s = ember_log(s);
        for (long long c = threadIdx.x; c < cols; c += blockDim.x) store(yr, c, (to_acc(xr[c]) - m) - log_s);
    } else {
        ACC inv = (ACC)1 / s;
        for (long long c = threadIdx.x; c < cols; c += blockDim.x) store(yr, c, ember_exp(to_acc(xr[c]) - m) * inv);
    }
}

// softmax:     dx = y * (g - sum(g * y))
// log_softmax: dx = g - exp(y) * sum(g)
extern "C" __global__ void softmax_bwd(const T* __restrict__ g, const T* __restrict__ y, T* __restrict__ dx,
                                       long long cols, int log_out) {
    __shared__ ACC scratch[32];
    long long base = (long long)blockIdx.x * cols;
    ACC s = 0;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x)
        s += log_out ? to_acc(g[base + c]) : to_acc(g[base + c]) * to_acc(y[base + c]);
    s = block_sum(s, scratch);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        ACC gv = to_acc(g[base + c]), yv = to_acc(y[base + c]);
        store(dx, base + c, log_out ? gv - ember_exp(yv) * s : yv * (gv - s));
    }
}
"""

VARIANTS = [(d, {}) for d in ("float32", "float64", "float16", "bfloat16")]


def _threads(cols: int) -> int:
    return 128 if cols <= 512 else (256 if cols <= 4096 else 512)


def _rows(xp, a, axis):
    """``a`` with ``axis`` moved last, C-contiguous, and the row length."""
    if axis is not None and axis != a.ndim - 1:
        a = xp.moveaxis(a, axis, -1)
    return xp.ascontiguousarray(a)


def _forward(x, axis, log_out: int):
    import cupy as xp

    if x.ndim == 0 or x.size == 0 or not dtype_name(x.dtype):
        t = x - x  # 0-d: softmax 1, log_softmax 0 (NaN/inf stay NaN, as in the composed version)
        return t if log_out else xp.exp(t)
    rows = _rows(xp, x, axis)
    cols = rows.shape[-1]
    out = xp.empty_like(rows)
    fn = function(TEMPLATE, "softmax", x.dtype, "softmax_fwd")
    fn((rows.size // cols,), (_threads(cols),), (rows, out, i64(cols), i32(log_out)))
    return out if axis == x.ndim - 1 else xp.moveaxis(out, -1, axis)


def _backward(grad, y, axis, log_out: int):
    import cupy as xp

    if y.ndim == 0 or y.size == 0 or not dtype_name(y.dtype):
        g = grad.astype(y.dtype, copy=False)
        return g - xp.exp(y) * g if log_out else y * (g - g * y)
    g = _rows(xp, grad.astype(y.dtype, copy=False), axis)
    yr = _rows(xp, y, axis)
    cols = yr.shape[-1]
    out = xp.empty_like(yr)
    fn = function(TEMPLATE, "softmax", y.dtype, "softmax_bwd")
    fn((yr.size // cols,), (_threads(cols),), (g, yr, out, i64(cols), i32(log_out)))
    return out if axis == y.ndim - 1 else xp.moveaxis(out, -1, axis)


def softmax(x, axis):
    return _forward(x, axis, 0)


def log_softmax(x, axis):
    return _forward(x, axis, 1)


def softmax_backward(grad, y, axis):
    return _backward(grad, y, axis, 0)


def log_softmax_backward(grad, y, axis):
    return _backward(grad, y, axis, 1)


KERNELS = {"softmax": softmax, "log_softmax": log_softmax, "softmax_backward": softmax_backward,
           "log_softmax_backward": log_softmax_backward}

__all__ = ["TEMPLATE", "VARIANTS", "KERNELS"]
