"""Linear on cuBLAS: outputs with aligned rows, and the bias gradient as a GEMV.

**Aligned rows.** cuBLAS picks its fast tensor-core GEMMs only when every leading dimension
is a multiple of 16 bytes. GPT-2's vocabulary (50257) is odd, so the LM head's three GEMMs
(logits, and both products of its backward) fall back to ``align1`` kernels that run at a
third of the speed; they were 15 ms of a 75 ms GPT-2 step. A wide output whose width is not
a multiple of ``ALIGN`` elements is therefore written into a buffer whose rows are padded to
one, and returned as the view of its first ``out_features`` columns. The products that read
such a view (the gradient coming back has the same padded rows: see ``CudaCrossEntropy``)
go through :func:`ember_cuda.gemm.batched_matmul`, which takes the row stride as the leading
dimension instead of copying; since they also read the gradient along its rows, they run on
its first multiple-of-16 columns plus a small product for the rest. Every other op reads the
view as any strided CuPy array.

**Bias gradient.** CuPy reduces the rows of a (rows, features) array with one thread per
column striding down the rows, which for GPT-2's (8192, 3072) gradients runs at a fraction
of the memory bandwidth; cuBLAS reads the same matrix at full speed as db = 1^T g. The
product runs in full float32 (never TF32, which would round every term), so it is as exact
as the sum. No CUDA C here.
"""

from __future__ import annotations

from ember.nn.functional.linear import Linear

from ..gemm import batched_matmul
from ..tf32 import float32_matmuls
from .runtime import dtype_name

TEMPLATE = ""
VARIANTS: list = []

#: Outputs at least this wide whose width is not a multiple of ALIGN get rows padded to one.
ALIGN = 16
MIN_PADDED_WIDTH = 512


def padded_width(n: int) -> int:
    """The row length of the buffer an output of ``n`` columns is written into."""
    if n < MIN_PADDED_WIDTH or n % ALIGN == 0:
        return n
    return (n + ALIGN - 1) // ALIGN * ALIGN


def has_strided_rows(a) -> bool:
    """A 2-D array with contiguous rows that lie further apart than their length (a padded view)."""
    item = a.itemsize
    return (a.ndim == 2 and a.shape[0] > 1 and a.strides[1] == item and a.strides[0] % item == 0
            and a.strides[0] > a.shape[1] * item)


def _fits_gemm(x, weight) -> bool:
    """Operands ``batched_matmul`` takes as they are: one float dtype, the weight's rows contiguous."""
    return (x.dtype == weight.dtype and dtype_name(x.dtype) in ("float32", "float16", "bfloat16")
            and weight.strides[1] == weight.itemsize)


class CudaLinear(Linear):
    def forward(self, x, weight, bias=None):
        n = weight.shape[0]
        width = padded_width(n)
        if width == n or x.ndim < 2 or not _fits_gemm(x, weight):
            return super().forward(x, weight, bias)
        xp = self.xp
        self.save_for_backward(x, weight)
        x2 = xp.ascontiguousarray(x.reshape(-1, x.shape[-1]))
        out = xp.empty((x2.shape[0], width), x.dtype)[:, :n]
        batched_matmul(x2[None], weight[None], out[None], trans_b=True)
        if bias is not None:
            out += bias
        return out.reshape(*x.shape[:-1], n)

    def backward(self, grad):
        g2 = grad.reshape(-1, grad.shape[-1])
        x, weight = self.saved
        if (not has_strided_rows(g2) or g2.shape[1] < ALIGN or x.ndim < 2 or not _fits_gemm(x, weight)
                or g2.dtype != weight.dtype):
            return super().backward(grad)
        xp = self.xp
        needs = self.needs_input_grad
        has_bias = len(needs) > 2
        x2 = xp.ascontiguousarray(x.reshape(-1, x.shape[-1]))
        # Both products read g2 along its rows, so the ragged last columns (n mod ALIGN) would
        # again force align1 kernels: the aligned columns go through one product, the rest
        # through a second, small one.
        n = g2.shape[1]
        cut = n // ALIGN * ALIGN
        g_main, g_rest = g2[None, :, :cut], g2[None, :, cut:]
        gx = gw = gb = None
        if needs[0]:
            gx = batched_matmul(g_main, weight[None, :cut], xp.empty_like(x2)[None])
            if cut < n:
                batched_matmul(g_rest, weight[None, cut:], gx, beta=1.0)
            gx = gx[0].reshape(x.shape)
        if needs[1]:
            gw = xp.empty_like(weight)
            batched_matmul(g_main, x2[None], gw[None, :cut], trans_a=True)
            if cut < n:
                batched_matmul(g_rest, x2[None], gw[None, cut:], trans_a=True)
        if has_bias and needs[2]:
            gb = self.bias_grad(g2)
        return (gx, gw, gb) if has_bias else (gx, gw)

    def bias_grad(self, g2):
        xp = self.xp
        if g2.shape[0] == 0:
            return super().bias_grad(g2)
        with float32_matmuls(tf32=False):
            return _ones(xp, g2.shape[0], g2.dtype) @ g2


_ones_cache: dict = {}


def _ones(xp, n: int, dtype):
    """A ones vector of length ``n`` on the current device, made once (it is never written)."""
    key = (xp.cuda.Device().id, n, dtype)
    ones = _ones_cache.get(key)
    if ones is None:
        if len(_ones_cache) > 32:
            _ones_cache.clear()
        ones = _ones_cache[key] = xp.ones(n, dtype=dtype)
    return ones


FUNCTIONS = {Linear: CudaLinear}

__all__ = ["TEMPLATE", "VARIANTS", "ALIGN", "padded_width", "has_strided_rows", "CudaLinear", "FUNCTIONS"]
