"""Flash-style attention: softmax(q k^T * scale) v without the full (L, S) score matrix.

``CudaSDPA`` replaces the core's ``SDPA`` primitive. Its fused path (no mask or a causal
one, no dropout, equal batch shapes for q/k/v, float32 / float16 / bfloat16) follows
FlashAttention (Dao et al., 2022) at the granularity of a block of query rows, with the
products on cuBLAS (tensor cores, through :func:`ember_cuda.gemm.batched_matmul`) and the
softmax in two small kernels:

- forward, for each block of query rows: S = q_b k^T (one batched GEMM), then
  ``attn_probs_fwd`` turns each row into P = softmax(scale S) and lse = log sum exp(scale S),
  and O_b = P v. Only O and lse (one float per row) are kept.
- backward, with D_i = rowsum(dO_i * O_i), for each block: S again, and dP = dO_b v^T (two
  GEMMs); ``attn_probs_bwd`` recomputes P = exp(scale S - lse) and forms
  dS = P (dP - D) scale; then dV += P^T dO_b, dQ_b = dS k, dK += dS^T q_b (three GEMMs,
  the two sums accumulated in place).

Scratch memory is one block's scores, at most 2^25 floats (2^26 for half inputs) whatever the
sequence length (the block shrinks as L grows), so memory grows linearly with the sequence length. A causal
block multiplies only the keys its last row may see. S, dP, the softmax, lse and the dK/dV
sums are float32; for float16/bfloat16 inputs cuBLAS writes S and dP in float32 from the
half inputs, and P and dS are stored in the input dtype for the products that use them.
Float32 products use TF32 when ``ember.cuda.matmul.allow_tf32`` is set, as every matmul.

Causal masking allows key j for query i when j <= i + offset (the core's ``causal_offset``).
A row with no allowed key gives zeros, as in the composed version. Everything else (boolean
or additive masks, dropout, grouped-query heads, returning the weights, float64) takes the
core's composed path. ``EMBER_CUDA_FLASH=0`` turns the fused path off.
"""

from __future__ import annotations

import os

import numpy as np
from ember.nn.functional.attention import SDPA

from ..gemm import batched_matmul
from .runtime import dtype_name, f64, function, i32, i64

TEMPLATE = r"""
#define NEG_INF __int_as_float(0xff800000)

// One block per score row: row r of a query block is query i = i0 + r % nq of batch-head r / nq.
extern "C" __global__ void attn_probs_fwd(const float* __restrict__ sc, T* __restrict__ p, float* __restrict__ lse,
                                          long long cols, int nq, int i0, int L, double scale_, int causal,
                                          int offset) {
    __shared__ float scratch[32];
    const float scale = (float)scale_;
    const long long r = blockIdx.x;
    const int i = i0 + (int)(r % nq);
    const float* row = sc + r * cols;
    long long limit = causal ? (long long)i + offset + 1 : cols;
    limit = limit < 0 ? 0 : (limit > cols ? cols : limit);
    float m = NEG_INF;
    for (long long c = threadIdx.x; c < limit; c += blockDim.x) m = fmaxf(m, row[c] * scale);
    m = block_max(m, scratch);
    float s = 0.f;
    if (m > NEG_INF)
        for (long long c = threadIdx.x; c < limit; c += blockDim.x) s += expf(row[c] * scale - m);
    s = block_sum(s, scratch);
    const float inv = s > 0.f ? 1.f / s : 0.f;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x)
        store(p + r * cols, c, c < limit ? expf(row[c] * scale - m) * inv : 0.f);
    if (threadIdx.x == 0) lse[(r / nq) * L + i] = s > 0.f ? m + logf(s) : NEG_INF;
}

// P = exp(scale S - lse) (zero where masked), dS = P (dP - D) scale, over the block's (rows, cols) scores:
// blockIdx.y walks the rows (one lse, D and mask limit per row), the threads of blockIdx.x the columns.
// p may alias sc and ds may alias dp (float32): each element is read before it is written.
extern "C" __global__ void attn_probs_bwd(const float* sc, const float* dp, const float* __restrict__ lse,
                                          const float* __restrict__ delta, T* p, T* ds, long long rows,
                                          long long cols, int nq, int i0, int L, double scale_, int causal,
                                          int offset) {
    const float scale = (float)scale_;
    for (long long r = blockIdx.y; r < rows; r += gridDim.y) {
        const int i = i0 + (int)(r % nq);
        const long long at = (r / nq) * L + i;
        const float l = lse[at], d = delta[at];
        long long limit = causal ? (long long)i + offset + 1 : cols;  // keys c < limit are allowed
        if (!(l > NEG_INF)) limit = 0;
        const long long base = r * cols;
        for (long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x; c < cols;
             c += (long long)gridDim.x * blockDim.x) {
            const float pv = c < limit ? expf(sc[base + c] * scale - l) : 0.f;
            const float dpv = dp[base + c];
            store(p, base + c, pv);
            store(ds, base + c, pv * (dpv - d) * scale);
        }
    }
}
"""

DTYPES = ("float32", "float16", "bfloat16")
VARIANTS = [(d, {}) for d in DTYPES]

#: Score elements per query block of float32 inputs: 2^25 floats = 128 MiB of scratch for S
#: (and as much for dP); float16/bfloat16 blocks hold twice as many. Larger blocks mean fewer
#: launches but, with a causal mask, more of the masked triangle multiplied: half-precision
#: products run about twice as fast, so their blocks can be twice as large for the same
#: waste. On an H200, GPT-2 124M (96 heads x 1024 queries) in bf16 ran 96.6, 67.5 and
#: 62.4 ms a step with 2^25, 2^26 and 2^27 (4, 2 and 1 blocks: that step is host-bound), while
#: TF32 steps stayed within their noise. ``EMBER_CUDA_FLASH_BLOCK`` sets another budget.
BLOCK_SCORES = int(os.environ.get("EMBER_CUDA_FLASH_BLOCK", 1 << 25))


def enabled() -> bool:
    return os.environ.get("EMBER_CUDA_FLASH", "1").strip().lower() not in ("0", "false", "no", "off")


def block_rows(batch_heads: int, keys: int, queries: int, half: bool = False) -> int:
    """Query rows per block, a multiple of 64: the fewest blocks whose scores stay within
    BLOCK_SCORES (twice that for ``half`` inputs), made equal (1024 queries in 4 blocks of
    256, not 3 of 320 and one of 64)."""
    budget = BLOCK_SCORES * (2 if half else 1)
    most = max(64, (budget // max(1, batch_heads * keys)) // 64 * 64)
    if most >= queries:
        return queries
    blocks = -(-queries // most)
    rows = -(-queries // blocks)
    return -(-rows // 64) * 64


def _threads(cols: int) -> int:
    return 64 if cols <= 64 else (128 if cols <= 512 else 256)


class _Scratch:
    """One flat buffer that every query block reuses, viewed at the block's shape."""

    def __init__(self, xp, size, dtype):
        self.array = xp.empty(size, dtype)
        self.size = size

    def view(self, *shape):
        n = 1
        for d in shape:
            n *= d
        return self.array[:n].reshape(shape)


class CudaSDPA(SDPA):
    """The core's attention primitive with a flash-style fused path (see the module docstring)."""

    def forward(self, q, k, v, mask=None, additive=None, causal_offset=None, scale=1.0, dropout_mask=None,
                groups=1, weights_out=None):
        batch = q.shape[:-2]
        self._fused = (
            enabled() and mask is None and additive is None and dropout_mask is None and weights_out is None
            and groups == 1 and q.ndim >= 2 and k.shape[:-2] == batch and v.shape[:-2] == batch
            and v.shape[-1] == q.shape[-1] and q.dtype == k.dtype == v.dtype and dtype_name(q.dtype) in DTYPES
            and q.shape[-2] > 0 and k.shape[-2] > 0 and q.shape[-1] > 0)
        if not self._fused:
            return super().forward(q, k, v, mask, additive, causal_offset, scale, dropout_mask, groups, weights_out)
        xp = self.xp
        l, e = q.shape[-2:]
        s = k.shape[-2]
        qf, kf, vf = (xp.ascontiguousarray(a).reshape(-1, a.shape[-2], e) for a in (q, k, v))
        bh = qf.shape[0]
        out = xp.empty_like(qf)
        lse = xp.empty((bh, l), np.float32)
        self._mask = (causal_offset is not None, int(causal_offset or 0))
        self._half = qf.dtype != np.float32
        fwd = function(TEMPLATE, "flash_attention", qf.dtype, "attn_probs_fwd")
        sc_buf = _Scratch(xp, bh * block_rows(bh, s, l, self._half) * s, np.float32)
        p_buf = sc_buf if qf.dtype == np.float32 else _Scratch(xp, sc_buf.size, qf.dtype)
        for i0, i1, kend in self._blocks(bh, l, s):
            if kend == 0:  # no query of the block sees a key
                out[:, i0:i1] = 0
                lse[:, i0:i1] = -np.inf
                continue
            sc = batched_matmul(qf[:, i0:i1], kf[:, :kend], sc_buf.view(bh, i1 - i0, kend), trans_b=True)
            p = p_buf.view(*sc.shape)
            fwd((bh * (i1 - i0),), (_threads(kend),),
                (sc, p, lse, i64(kend), i32(i1 - i0), i32(i0), i32(l), f64(scale), i32(self._mask[0]),
                 i32(self._mask[1])))
            batched_matmul(p, vf[:, :kend], out[:, i0:i1])
        self.save_for_backward(q, k, v)
        self.scale = scale
        self._arrays = (qf, kf, vf, out, lse)
        self._shapes = (q.shape, k.shape, v.shape)
        return out.reshape(q.shape)

    def _blocks(self, bh, l, s):
        """(i0, i1, kend) per block of query rows: the keys [0, kend) that some row of it may see."""
        causal, offset = self._mask
        rows = block_rows(bh, s, l, self._half)
        for i0 in range(0, l, rows):
            i1 = min(l, i0 + rows)
            kend = min(s, max(0, i1 + offset)) if causal else s
            yield i0, i1, kend

    def backward(self, grad):
        if not self._fused:
            return super().backward(grad)
        xp = self.xp
        qf, kf, vf, out, lse = self._arrays
        bh, l, e = qf.shape
        s = kf.shape[1]
        half = self._half
        do = xp.ascontiguousarray(grad.astype(qf.dtype, copy=False)).reshape(out.shape)
        delta = (do.astype(np.float32) * out.astype(np.float32)).sum(-1) if half else (do * out).sum(-1)
        delta = xp.ascontiguousarray(delta)
        gq = xp.empty_like(qf)
        gk = xp.zeros((bh, s, e), np.float32)
        gv = xp.zeros((bh, s, e), np.float32)
        bwd = function(TEMPLATE, "flash_attention", qf.dtype, "attn_probs_bwd")
        causal, offset = self._mask
        size = bh * block_rows(bh, s, l, half) * s
        sc_buf, dp_buf = _Scratch(xp, size, np.float32), _Scratch(xp, size, np.float32)
        p_buf, ds_buf = (sc_buf, dp_buf) if not half else (_Scratch(xp, size, qf.dtype), _Scratch(xp, size, qf.dtype))
        for i0, i1, kend in self._blocks(bh, l, s):
            if kend == 0:
                gq[:, i0:i1] = 0
                continue
            nq = i1 - i0
            sc = batched_matmul(qf[:, i0:i1], kf[:, :kend], sc_buf.view(bh, nq, kend), trans_b=True)
            dp = batched_matmul(do[:, i0:i1], vf[:, :kend], dp_buf.view(bh, nq, kend), trans_b=True)
            p, ds = p_buf.view(bh, nq, kend), ds_buf.view(bh, nq, kend)
            bwd(((kend + 255) // 256, min(bh * nq, 65535)), (256,),
                (sc, dp, lse, delta, p, ds, i64(bh * nq), i64(kend), i32(nq), i32(i0), i32(l), f64(self.scale),
                 i32(causal), i32(offset)))
            batched_matmul(p, do[:, i0:i1], gv[:, :kend], trans_a=True, beta=1.0)
            batched_matmul(ds, kf[:, :kend], gq[:, i0:i1])
            batched_matmul(ds, qf[:, i0:i1], gk[:, :kend], trans_a=True, beta=1.0)
        q_shape, k_shape, v_shape = self._shapes
        needs = self.needs_input_grad
        return (gq.reshape(q_shape) if needs[0] else None,
                gk.astype(qf.dtype, copy=False).reshape(k_shape) if needs[1] else None,
                gv.astype(qf.dtype, copy=False).reshape(v_shape) if needs[2] else None)


FUNCTIONS = {SDPA: CudaSDPA}

__all__ = ["TEMPLATE", "VARIANTS", "block_rows", "CudaSDPA", "FUNCTIONS"]
