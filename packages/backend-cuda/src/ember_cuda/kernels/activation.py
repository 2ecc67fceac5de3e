"""GELU (exact and tanh) and SiLU as single elementwise CUDA kernels, forward and backward.

The composed versions keep an intermediate (the normal CDF, tanh u, the sigmoid) for
backward and make a handful of passes over memory; these keep only the input and make one
pass each way, recomputing the intermediate from x (it is cheap next to a memory pass).
"""

from __future__ import annotations

from ember.ops.activation import GELU, GELUTanh, SiLU

from .runtime import blocks, dtype_name, function, i32, i64

TEMPLATE = r"""
#define KIND_GELU 0
#define KIND_GELU_TANH 1
#define KIND_SILU 2

__device__ __forceinline__ ACC act_clip(ACC v, ACC lim) { return v < -lim ? -lim : (v > lim ? lim : v); }

// sigmoid(z) and 1 - sigmoid(z), both to full relative precision: exp only ever of -|z|.
// (1 + tanh u)/2 = sigmoid(2u) and (1 - tanh^2 u) = 4 sigmoid(2u) (1 - sigmoid(2u)), which
// keep GELU-tanh's tails accurate where 1 + tanh u would cancel to a few bits.
__device__ __forceinline__ void sigmoid_pair(ACC z, ACC* s, ACC* one_minus_s) {
    ACC e = ember_exp(-(z < 0 ? -z : z)), inv = (ACC)1 / ((ACC)1 + e);
    *s = z >= 0 ? inv : e * inv;
    *one_minus_s = z >= 0 ? e * inv : inv;
}

extern "C" __global__ void act_fwd(const T* __restrict__ x, T* __restrict__ y, long long n, int kind) {
    const ACC k_inv_sqrt2 = (ACC)0.70710678118654752440, k_s2pi = (ACC)0.79788456080286535588;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        ACC v = to_acc(x[i]), out;
        if (kind == KIND_GELU) {
            out = v * (ACC)0.5 * ((ACC)1 + ember_erf(v * k_inv_sqrt2));
        } else if (kind == KIND_GELU_TANH) {
            ACC c = act_clip(v, (ACC)1e4), s, sm;
            sigmoid_pair((ACC)2 * k_s2pi * (c + (ACC)0.044715 * c * c * c), &s, &sm);
            out = v * s;
        } else {
            out = v / ((ACC)1 + ember_exp(-v));
        }
        store(y, i, out);
    }
}

extern "C" __global__ void act_bwd(const T* __restrict__ x, const T* __restrict__ g, T* __restrict__ dx, long long n,
                                   int kind) {
    const ACC k_inv_sqrt2 = (ACC)0.70710678118654752440, k_s2pi = (ACC)0.79788456080286535588;
    const ACC k_inv_sqrt_2pi = (ACC)0.39894228040143267794;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        ACC v = to_acc(x[i]), d;
        if (kind == KIND_GELU) {
            // Phi(x) + x phi(x)
            ACC c = act_clip(v, (ACC)40);
            d = (ACC)0.5 * ((ACC)1 + ember_erf(v * k_inv_sqrt2)) + c * ember_exp((ACC)-0.5 * c * c) * k_inv_sqrt_2pi;
        } else if (kind == KIND_GELU_TANH) {
            // (1 + tanh u)/2 + x/2 (1 - tanh^2 u) du/dx = s + 2 x s (1 - s) du/dx,  s = sigmoid(2u),
            // du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
            ACC c = act_clip(v, (ACC)1e4), s, sm;
            sigmoid_pair((ACC)2 * k_s2pi * (c + (ACC)0.044715 * c * c * c), &s, &sm);
            ACC du = k_s2pi * ((ACC)1 + (ACC)(3 * 0.044715) * c * c);
            d = s + (ACC)2 * c * s * sm * du;
        } else {
            // s (1 + x (1 - s))
            ACC s = (ACC)1 / ((ACC)1 + ember_exp(-v));
            d = s * ((ACC)1 + v * ((ACC)1 - s));
        }
        store(dx, i, d * to_acc(g[i]));
    }
}
"""

VARIANTS = [(d, {}) for d in ("float32", "float64", "float16", "bfloat16")]

_THREADS = 256


class _Elementwise:
    """Forward saves only the input; backward recomputes the derivative from it."""

    kind = -1

    def forward(self, a):
        if a.size == 0 or not dtype_name(a.dtype):
            self._fused = False
            return super().forward(a)
        self._fused = True
        xp = self.xp
        x = xp.ascontiguousarray(a)
        y = xp.empty_like(x)
        fn = function(TEMPLATE, "activation", x.dtype, "act_fwd")
        fn((blocks(x.size, _THREADS),), (_THREADS,), (x, y, i64(x.size), i32(self.kind)))
        self.save_for_backward(a)
        self._x = x
        return y

    def backward(self, grad):
        if not self._fused:
            return super().backward(grad)
        xp = self.xp
        x = self._x
        g = xp.ascontiguousarray(xp.broadcast_to(grad, x.shape).astype(x.dtype, copy=False))
        dx = xp.empty_like(x)
        fn = function(TEMPLATE, "activation", x.dtype, "act_bwd")
        fn((blocks(x.size, _THREADS),), (_THREADS,), (x, g, dx, i64(x.size), i32(self.kind)))
        return dx


class CudaGELU(_Elementwise, GELU):
    kind = 0


class CudaGELUTanh(_Elementwise, GELUTanh):
    kind = 1


class CudaSiLU(_Elementwise, SiLU):
    kind = 2


FUNCTIONS = {GELU: CudaGELU, GELUTanh: CudaGELUTanh, SiLU: CudaSiLU}

__all__ = ["TEMPLATE", "VARIANTS", "FUNCTIONS"]
