"""The Adam / AdamW update as one CUDA kernel per parameter (``"adam_update"``, ``"adamw_update"``).

The core's ``Adam._update`` calls ``kernel(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
*, step, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize)`` and expects the parameter
and its state updated in place. The math is PyTorch's (and the core's composed version):

    p <- p (1 - lr wd)                          (AdamW only)
    d  = (-g if maximize else g) (+ wd p for Adam's L2 penalty)
    m <- b1 m + (1 - b1) d;  v <- b2 v + (1 - b2) d^2;  v_hat = max(v_hat, v) with amsgrad
    p <- p - lr / (1 - b1^t) * m / (sqrt(v_hat) / sqrt(1 - b2^t) + eps)

computed in float32 (float64 for float64 parameters), reading and writing each array once.
"""

from __future__ import annotations

from .runtime import blocks, dtype_name, f64, function, i32, i64

TEMPLATE = r"""
extern "C" __global__ void adam_update(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                                       T* __restrict__ v, T* __restrict__ vmax, long long n,
                                       double lr, double beta1, double beta2, double eps, double wd,
                                       double step_size, double bc2_sqrt, int decoupled, int amsgrad, int maximize) {
    const ACC b1 = (ACC)beta1, b2 = (ACC)beta2, e = (ACC)eps, w = (ACC)wd, ss = (ACC)step_size, bc = (ACC)bc2_sqrt;
    const ACC decay = (ACC)1 - (ACC)(lr * wd);
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        ACC pv = to_acc(p[i]);
        ACC d = to_acc(g[i]);
        if (maximize) d = -d;
        if (decoupled) {
            if (wd != 0.0) pv *= decay;
        } else if (wd != 0.0) {
            d += w * pv;
        }
        ACC mv = b1 * to_acc(m[i]) + ((ACC)1 - b1) * d;
        ACC vv = b2 * to_acc(v[i]) + ((ACC)1 - b2) * d * d;
        store(m, i, mv);
        store(v, i, vv);
        if (amsgrad) {
            ACC vm = to_acc(vmax[i]);
            vm = vm > vv ? vm : vv;
            store(vmax, i, vm);
            vv = vm;
        }
        pv -= ss * mv / (ember_sqrt(vv) / bc + e);
        store(p, i, pv);
    }
}
"""

VARIANTS = [(d, {}) for d in ("float32", "float64", "float16", "bfloat16")]

_THREADS = 256


def _update(decoupled: bool):
    def update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1, beta2, eps, weight_decay,
               amsgrad, maximize):
        import cupy as xp

        if param.size == 0:
            return
        if not dtype_name(param.dtype):
            raise TypeError(f"adam_update: parameters of dtype {param.dtype} are not supported on cuda")
        arrays = [param, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
        work = [a if a.flags.c_contiguous else xp.ascontiguousarray(a) for a in arrays]
        g = xp.ascontiguousarray(grad.astype(param.dtype, copy=False))
        p, m, v = work[:3]
        vmax = work[3] if amsgrad else p
        bc2_sqrt = (1 - beta2 ** step) ** 0.5
        step_size = lr / (1 - beta1 ** step)
        fn = function(TEMPLATE, "adam", param.dtype, "adam_update")
        fn((blocks(param.size, _THREADS),), (_THREADS,),
           (p, g, m, v, vmax, i64(param.size), f64(lr), f64(beta1), f64(beta2), f64(eps), f64(weight_decay),
            f64(step_size), f64(bc2_sqrt), i32(decoupled), i32(amsgrad), i32(maximize)))
        for original, new in zip(arrays, work):
            if new is not original:  # a non-contiguous array was updated through a copy
                original[...] = new

    update.__name__ = "adamw_update" if decoupled else "adam_update"
    return update


KERNELS = {"adam_update": _update(False), "adamw_update": _update(True)}

__all__ = ["TEMPLATE", "VARIANTS", "KERNELS"]
