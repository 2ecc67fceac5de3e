"""Flash-style attention: softmax(q k^T * scale) v without the (L, S) score matrix.

``CudaSDPA`` replaces the core's ``SDPA`` primitive. Its fused path (no mask or a causal
one, no dropout, equal batch shapes for q/k/v, head size 16, 32, 64 or 128, float32 /
float16 / bfloat16) runs three kernels in the manner of FlashAttention (Dao et al., 2022):

- forward: each thread owns one query row; key/value tiles are streamed through shared
  memory and the softmax is accumulated online (running max m and sum l, rescaling the
  output accumulator when m grows). It keeps O and lse = m + log l per row: memory is
  linear in the sequence length.
- backward, with D_i = rowsum(dO_i * O_i) and P_ij = exp(scale q_i.k_j - lse_i)
  recomputed from q, k and lse:

      dV_j = sum_i P_ij dO_i
      dS_ij = P_ij (dO_i . v_j - D_i)
      dK_j = scale sum_i dS_ij q_i        (one thread per key row)
      dQ_i = scale sum_j dS_ij k_j        (one thread per query row)

All math is float32. Causal masking allows key j for query i when j <= i + offset (the
core's ``causal_offset``), and skips the tiles that lie wholly above the diagonal. A row
with no allowed key gives zeros, as in the composed version. Everything else (boolean or
additive masks, dropout, grouped-query heads, returning the weights, float64) takes the
core's composed path. ``EMBER_CUDA_FLASH=0`` turns the fused path off.
"""

from __future__ import annotations

import os

import numpy as np
from ember.nn.functional.attention import SDPA

from .runtime import dtype_name, f64, function, i32

TEMPLATE = r"""
#define NEG_INF __int_as_float(0xff800000)

// Copies rows [row0, row0 + nrows) of a (len, HD) matrix into dst[nrows][stride] as float, coalesced.
__device__ __forceinline__ void load_rows(float* dst, int stride, const T* src, int row0, int nrows, int len,
                                          float mul) {
    for (int idx = threadIdx.x; idx < nrows * HD; idx += blockDim.x) {
        int r = idx / HD, c = idx - r * HD, g = row0 + r;
        dst[r * stride + c] = g < len ? to_acc(src[(long long)g * HD + c]) * mul : 0.f;
    }
}

// Writes staged rows src[ROWS][HD + 1] to rows [row0, row0 + ROWS) of a (len, HD) matrix, coalesced.
__device__ __forceinline__ void store_rows(T* dst, const float* src, int row0, int len) {
    for (int idx = threadIdx.x; idx < ROWS * HD; idx += blockDim.x) {
        int r = idx / HD, c = idx - r * HD, g = row0 + r;
        if (g < len) store(dst, (long long)g * HD + c, src[r * (HD + 1) + c]);
    }
}

extern "C" __global__ void __launch_bounds__(ROWS) flash_fwd(
        const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ o,
        float* __restrict__ lse, int L, int S, double scale, int causal, int offset) {
    __shared__ float qs[ROWS * (HD + 1)];
    __shared__ float ks[TILE * HD];
    __shared__ float vs[TILE * HD];
    const long long bh = blockIdx.y;
    const int row0 = blockIdx.x * ROWS, t = threadIdx.x, i = row0 + t;
    const T* kb = k + bh * S * HD;
    const T* vb = v + bh * S * HD;
    load_rows(qs, HD + 1, q + bh * L * HD, row0, ROWS, L, (float)scale);
    float acc[HD];
#pragma unroll
    for (int d = 0; d < HD; ++d) acc[d] = 0.f;
    float m = NEG_INF, l = 0.f;
    int kend = S;
    if (causal && row0 + ROWS + offset < kend) kend = row0 + ROWS + offset;  // keys j <= last row + offset
    for (int k0 = 0; k0 < kend; k0 += TILE) {
        __syncthreads();
        load_rows(ks, HD, kb, k0, TILE, S, 1.f);
        load_rows(vs, HD, vb, k0, TILE, S, 1.f);
        __syncthreads();
        // One key at a time: the running max m only moves up, and the accumulator is
        // rescaled only when it does (rarely, after the first keys of a row).
#pragma unroll 1
        for (int r = 0; r < TILE; ++r) {
            int j = k0 + r;
            if (j >= S || (causal && j > i + offset)) continue;
            float s = 0.f;
#pragma unroll
            for (int d = 0; d < HD; ++d) s += qs[t * (HD + 1) + d] * ks[r * HD + d];
            if (s > m) {
                float corr = expf(m - s);
                l *= corr;
#pragma unroll
                for (int d = 0; d < HD; ++d) acc[d] *= corr;
                m = s;
            }
            float p = expf(s - m);
            l += p;
#pragma unroll
            for (int d = 0; d < HD; ++d) acc[d] += p * vs[r * HD + d];
        }
    }
    float inv = l > 0.f ? 1.f / l : 0.f;
    __syncthreads();
#pragma unroll
    for (int d = 0; d < HD; ++d) qs[t * (HD + 1) + d] = acc[d] * inv;
    if (i < L) lse[bh * L + i] = l > 0.f ? m + logf(l) : NEG_INF;
    __syncthreads();
    store_rows(o + bh * L * HD, qs, row0, L);
}

// One thread per key row j: dK_j and dV_j over every query row that may attend it.
extern "C" __global__ void __launch_bounds__(ROWS) flash_bwd_dkdv(
        const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ dout,
        const float* __restrict__ lse, const float* __restrict__ delta, T* __restrict__ dk, T* __restrict__ dv,
        int L, int S, double scale, int causal, int offset) {
    __shared__ float kself[ROWS * (HD + 1)];
    __shared__ float vself[ROWS * (HD + 1)];
    __shared__ float qs[TILE * HD];
    __shared__ float dos[TILE * HD];
    __shared__ float ls[TILE];
    __shared__ float ds_[TILE];
    const long long bh = blockIdx.y;
    const int col0 = blockIdx.x * ROWS, t = threadIdx.x, j = col0 + t;
    const float sc = (float)scale;
    const T* qb = q + bh * L * HD;
    const T* db = dout + bh * L * HD;
    load_rows(kself, HD + 1, k + bh * S * HD, col0, ROWS, S, 1.f);
    load_rows(vself, HD + 1, v + bh * S * HD, col0, ROWS, S, 1.f);
    float gk[HD], gv[HD];
#pragma unroll
    for (int d = 0; d < HD; ++d) { gk[d] = 0.f; gv[d] = 0.f; }
    int istart = 0;
    if (causal && col0 - offset > 0) istart = col0 - offset;  // queries i >= j - offset
    for (int i0 = istart; i0 < L; i0 += TILE) {
        __syncthreads();
        load_rows(qs, HD, qb, i0, TILE, L, 1.f);
        load_rows(dos, HD, db, i0, TILE, L, 1.f);
        if (t < TILE) {
            int i = i0 + t;
            ls[t] = i < L ? lse[bh * L + i] : NEG_INF;
            ds_[t] = i < L ? delta[bh * L + i] : 0.f;
        }
        __syncthreads();
#pragma unroll 1
        for (int r = 0; r < TILE; ++r) {
            int i = i0 + r;
            bool ok = j < S && i < L && ls[r] != NEG_INF && (!causal || j <= i + offset);
            float s = 0.f, dp = 0.f;
#pragma unroll
            for (int d = 0; d < HD; ++d) {
                s += qs[r * HD + d] * kself[t * (HD + 1) + d];
                dp += dos[r * HD + d] * vself[t * (HD + 1) + d];
            }
            float p = ok ? expf(s * sc - ls[r]) : 0.f;
            float dsc = ok ? p * (dp - ds_[r]) * sc : 0.f;
#pragma unroll
            for (int d = 0; d < HD; ++d) {
                gv[d] += p * dos[r * HD + d];
                gk[d] += dsc * qs[r * HD + d];
            }
        }
    }
    __syncthreads();
#pragma unroll
    for (int d = 0; d < HD; ++d) { kself[t * (HD + 1) + d] = gk[d]; vself[t * (HD + 1) + d] = gv[d]; }
    __syncthreads();
    store_rows(dk + bh * S * HD, kself, col0, S);
    store_rows(dv + bh * S * HD, vself, col0, S);
}

// One thread per query row i: dQ_i over every key row it may attend.
extern "C" __global__ void __launch_bounds__(ROWS) flash_bwd_dq(
        const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ dout,
        const float* __restrict__ lse, const float* __restrict__ delta, T* __restrict__ dq,
        int L, int S, double scale, int causal, int offset) {
    __shared__ float qself[ROWS * (HD + 1)];
    __shared__ float doself[ROWS * (HD + 1)];
    __shared__ float ks[TILE * HD];
    __shared__ float vs[TILE * HD];
    const long long bh = blockIdx.y;
    const int row0 = blockIdx.x * ROWS, t = threadIdx.x, i = row0 + t;
    const float sc = (float)scale;
    const T* kb = k + bh * S * HD;
    const T* vb = v + bh * S * HD;
    load_rows(qself, HD + 1, q + bh * L * HD, row0, ROWS, L, 1.f);
    load_rows(doself, HD + 1, dout + bh * L * HD, row0, ROWS, L, 1.f);
    const float li = i < L ? lse[bh * L + i] : NEG_INF;
    const float di = i < L ? delta[bh * L + i] : 0.f;
    float gq[HD];
#pragma unroll
    for (int d = 0; d < HD; ++d) gq[d] = 0.f;
    int kend = S;
    if (causal && row0 + ROWS + offset < kend) kend = row0 + ROWS + offset;
    for (int k0 = 0; k0 < kend; k0 += TILE) {
        __syncthreads();
        load_rows(ks, HD, kb, k0, TILE, S, 1.f);
        load_rows(vs, HD, vb, k0, TILE, S, 1.f);
        __syncthreads();
#pragma unroll 1
        for (int r = 0; r < TILE; ++r) {
            int j = k0 + r;
            bool ok = i < L && j < S && li != NEG_INF && (!causal || j <= i + offset);
            float s = 0.f, dp = 0.f;
#pragma unroll
            for (int d = 0; d < HD; ++d) {
                s += qself[t * (HD + 1) + d] * ks[r * HD + d];
                dp += doself[t * (HD + 1) + d] * vs[r * HD + d];
            }
            float p = ok ? expf(s * sc - li) : 0.f;
            float dsc = ok ? p * (dp - di) * sc : 0.f;
#pragma unroll
            for (int d = 0; d < HD; ++d) gq[d] += dsc * ks[r * HD + d];
        }
    }
    __syncthreads();
#pragma unroll
    for (int d = 0; d < HD; ++d) qself[t * (HD + 1) + d] = gq[d];
    __syncthreads();
    store_rows(dq + bh * L * HD, qself, row0, L);
}
"""

HEAD_DIMS = (16, 32, 64, 128)
DTYPES = ("float32", "float16", "bfloat16")


def tiling(head_dim: int) -> dict:
    """Compile-time constants: HD, ROWS (threads per block, one row each), TILE (rows per shared tile).

    Sized so each kernel's static shared memory stays under 48 KB.
    """
    rows, tile = (64, 16) if head_dim <= 64 else (32, 8)
    return {"HD": head_dim, "ROWS": rows, "TILE": tile}


VARIANTS = [(d, tiling(h)) for d in DTYPES for h in HEAD_DIMS]


def enabled() -> bool:
    return os.environ.get("EMBER_CUDA_FLASH", "1").strip().lower() not in ("0", "false", "no", "off")


class CudaSDPA(SDPA):
    """The core's attention primitive with a flash-style fused path (see the module docstring)."""

    def forward(self, q, k, v, mask=None, additive=None, causal_offset=None, scale=1.0, dropout_mask=None,
                groups=1, weights_out=None):
        batch = q.shape[:-2]
        self._fused = (
            enabled() and mask is None and additive is None and dropout_mask is None and weights_out is None
            and groups == 1 and q.ndim >= 2 and k.shape[:-2] == batch and v.shape[:-2] == batch
            and q.shape[-1] in HEAD_DIMS and v.shape[-1] == q.shape[-1] and dtype_name(q.dtype) in DTYPES
            and q.shape[-2] > 0 and k.shape[-2] > 0 and int(np.prod(batch, dtype=np.int64)) <= 65535)
        if not self._fused:
            return super().forward(q, k, v, mask, additive, causal_offset, scale, dropout_mask, groups, weights_out)
        xp = self.xp
        l, e = q.shape[-2:]
        s = k.shape[-2]
        qf, kf, vf = (xp.ascontiguousarray(a).reshape(-1, a.shape[-2], e) for a in (q, k, v))
        bh = qf.shape[0]
        consts = tiling(e)
        out = xp.empty_like(qf)
        lse = xp.empty((bh, l), np.float32)
        causal = causal_offset is not None
        self._args = (i32(l), i32(s), f64(scale), i32(causal), i32(causal_offset or 0))
        fn = function(TEMPLATE, "flash_attention", q.dtype, "flash_fwd", **consts)
        fn(((l + consts["ROWS"] - 1) // consts["ROWS"], bh), (consts["ROWS"],), (qf, kf, vf, out, lse, *self._args))
        self.save_for_backward(q, k, v)
        self._arrays = (qf, kf, vf, out, lse)
        self._shapes = (q.shape, k.shape, v.shape)
        return out.reshape(q.shape)

    def backward(self, grad):
        if not self._fused:
            return super().backward(grad)
        xp = self.xp
        qf, kf, vf, out, lse = self._arrays
        bh, l, e = qf.shape
        s = kf.shape[1]
        consts = tiling(e)
        rows = consts["ROWS"]
        do = xp.ascontiguousarray(grad.astype(qf.dtype, copy=False)).reshape(out.shape)
        delta = xp.ascontiguousarray((do.astype(np.float32) * out.astype(np.float32)).sum(-1))
        needs = self.needs_input_grad
        gq = gk = gv = None
        if needs[1] or needs[2]:
            gk, gv = xp.empty_like(kf), xp.empty_like(vf)
            fn = function(TEMPLATE, "flash_attention", qf.dtype, "flash_bwd_dkdv", **consts)
            fn(((s + rows - 1) // rows, bh), (rows,), (qf, kf, vf, do, lse, delta, gk, gv, *self._args))
            gk, gv = gk.reshape(self._shapes[1]), gv.reshape(self._shapes[2])
        if needs[0]:
            gq = xp.empty_like(qf)
            fn = function(TEMPLATE, "flash_attention", qf.dtype, "flash_bwd_dq", **consts)
            fn(((l + rows - 1) // rows, bh), (rows,), (qf, kf, vf, do, lse, delta, gq, *self._args))
            gq = gq.reshape(self._shapes[0])
        return gq, gk, gv


FUNCTIONS = {SDPA: CudaSDPA}

__all__ = ["TEMPLATE", "VARIANTS", "HEAD_DIMS", "tiling", "CudaSDPA", "FUNCTIONS"]
