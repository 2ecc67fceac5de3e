"""The CUDA C prelude every ember kernel shares, and the builder of one source per dtype.

Kernel files hold CUDA C templates written against two macros: ``T`` (the storage type
of the arrays) and ``ACC`` (the type math is done in: float for float32/float16/bfloat16,
double for float64). ``build(template, dtype)`` prepends this prelude and the macros, so
each (kernel, dtype) pair is one small module that NVRTC compiles without any header.

NOTE: half and bfloat16 are plain 16-bit structs here, converted with one PTX instruction
(half) or a bit shift (bfloat16, rounding to nearest even on the way back). That keeps the
sources free of ``cuda_fp16.h``/``cuda_bf16.h``, whose availability to NVRTC varies between
CUDA versions, and makes the same source compile on CUDA 12 and 13.
"""

from __future__ import annotations

__all__ = ["PRELUDE", "DTYPES", "build"]

PRELUDE = r"""
struct ember_half { unsigned short x; };
struct ember_bf16 { unsigned short x; };

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(ember_half v) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.x));
    return f;
}
__device__ __forceinline__ float to_acc(ember_bf16 v) { return __uint_as_float(((unsigned int)v.x) << 16); }

__device__ __forceinline__ void store(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void store(double* p, long long i, double v) { p[i] = v; }
__device__ __forceinline__ void store(ember_half* p, long long i, float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    p[i].x = h;
}
__device__ __forceinline__ void store(ember_bf16* p, long long i, float v) {
    unsigned int u = __float_as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) { p[i].x = (unsigned short)((u >> 16) | 0x40u); return; }  // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    p[i].x = (unsigned short)(u >> 16);
}

__device__ __forceinline__ float ember_exp(float x) { return expf(x); }
__device__ __forceinline__ double ember_exp(double x) { return exp(x); }
__device__ __forceinline__ float ember_log(float x) { return logf(x); }
__device__ __forceinline__ double ember_log(double x) { return log(x); }
__device__ __forceinline__ float ember_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double ember_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float ember_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double ember_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float ember_erf(float x) { return erff(x); }
__device__ __forceinline__ double ember_erf(double x) { return erf(x); }
__device__ __forceinline__ float ember_inf(float) { return __int_as_float(0x7f800000); }
__device__ __forceinline__ double ember_inf(double) { return __longlong_as_double(0x7ff0000000000000LL); }

// Warp and block reductions (blockDim.x a multiple of 32, at most 1024).
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ double warp_max(double v) {
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
// Every thread of the block gets the result; `scratch` holds 32 values of the type.
template <typename V> __device__ __forceinline__ V block_sum(V v, V* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : (V)0;
    return warp_sum(v);
}
template <typename V> __device__ __forceinline__ V block_max(V v, V* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : -ember_inf(v);
    return warp_max(v);
}
"""

#: ember dtype name -> (storage type T, accumulation type ACC)
DTYPES = {
    "float32": ("float", "float"),
    "float64": ("double", "double"),
    "float16": ("ember_half", "float"),
    "bfloat16": ("ember_bf16", "float"),
}


def build(template: str, dtype: str, **defines) -> str:
    """The full CUDA C source of ``template`` for arrays of ``dtype`` (plus integer ``defines``)."""
    if dtype not in DTYPES:
        raise TypeError(f"ember's CUDA kernels support {sorted(DTYPES)}, got {dtype!r}")
    t, acc = DTYPES[dtype]
    head = [f"#define T {t}", f"#define ACC {acc}"] + [f"#define {k} {int(v)}" for k, v in defines.items()]
    return "\n".join(head) + "\n" + PRELUDE + "\n" + template
