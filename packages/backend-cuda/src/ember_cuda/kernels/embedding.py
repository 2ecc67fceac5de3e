"""Embedding backward: each looked-up row's gradient summed into its table row, in a fixed order.

The core sorts the indices and sums each run of equal indices with ``add.reduceat``. CuPy
computes reduceat from a prefix sum, which has no bfloat16 kernel and loses precision over
long runs. This kernel keeps the sort and sums each run directly: one block row per run of
equal indices, one thread per column, adding the run's gradient rows in index order in
float32 (float64 for float64). No atomics, so the result is the same on every run.
"""

from __future__ import annotations

from ember.nn.functional.embedding import Embedding

from .runtime import dtype_name, function, i64

TEMPLATE = r"""
extern "C" __global__ void embedding_bwd(const T* __restrict__ g, const long long* __restrict__ order,
                                         const long long* __restrict__ starts, const long long* __restrict__ rows,
                                         T* __restrict__ out, long long n_runs, long long n, long long dim) {
    const long long run = blockIdx.x;
    const long long col = (long long)blockIdx.y * blockDim.x + threadIdx.x;
    if (run >= n_runs || col >= dim) return;
    const long long end = run + 1 < n_runs ? starts[run + 1] : n;
    ACC s = 0;
    for (long long i = starts[run]; i < end; ++i) s += to_acc(g[order[i] * dim + col]);
    store(out, rows[run] * dim + col, s);
}
"""

VARIANTS = [(dtype, {}) for dtype in ("float32", "float64", "float16", "bfloat16")]

_THREADS = 256


class CudaEmbedding(Embedding):
    """The core's Embedding, with the gradient scatter as one deterministic kernel."""

    def backward(self, grad):
        xp = self.xp
        if grad.size == 0 or not dtype_name(grad.dtype):
            return super().backward(grad)
        flat = self.indices.reshape(-1).astype(xp.int64, copy=False)
        n = flat.shape[0]
        dim = grad.size // n
        g = xp.ascontiguousarray(grad.reshape(n, dim))
        order = xp.argsort(flat, kind="stable")  # stable: equal indices keep their order, so sums repeat exactly
        sorted_idx = flat[order]
        run_starts = xp.ones(n, dtype=bool)
        run_starts[1:] = sorted_idx[1:] != sorted_idx[:-1]
        starts = xp.flatnonzero(run_starts)
        rows = xp.ascontiguousarray(sorted_idx[starts])
        out = xp.zeros((self.num_rows, dim), dtype=grad.dtype)
        n_runs = starts.shape[0]
        fn = function(TEMPLATE, "embedding", grad.dtype, "embedding_bwd")
        fn((n_runs, (dim + _THREADS - 1) // _THREADS), (_THREADS,),
           (g, order, starts, rows, out, i64(n_runs), i64(n), i64(dim)))
        if self.padding_idx is not None:
            out[self.padding_idx] = 0
        return out.reshape(self.num_rows, *grad.shape[self.indices.ndim:]), None


FUNCTIONS = {Embedding: CudaEmbedding}

__all__ = ["TEMPLATE", "VARIANTS", "FUNCTIONS"]
