"""Batched matrix products on cuBLAS, with the types and the precision chosen per call.

CuPy's batched ``matmul`` has no bfloat16, ignores the TF32 setting (it reaches only 2-D
products) and copies operands that are transposed or sliced. ``batched_matmul`` calls
``cublasGemmStridedBatchedEx`` on row-major 3-D arrays instead:

- operands may be views whose rows are strided (a slice of a longer sequence);
- a transposed operand is a flag, not a copy;
- float16/bfloat16 inputs may write a float32 output (float32 accumulation either way);
- ``out = alpha op(a) op(b) + beta out``, so a product accumulates into a slice in place.

cuBLAS is column-major: a row-major (rows, cols) matrix is its column-major transpose with
the row stride as leading dimension, so C = A B is computed as C^T = B^T A^T.
"""

from __future__ import annotations

import numpy as np

from .tf32 import get_allow_tf32

__all__ = ["batched_matmul"]

#: cudaDataType codes (library_types.h) and cuBLAS constants (cublas_api.h).
_CUDA_TYPES = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 14}
_OP_N, _OP_T = 0, 1
_COMPUTE_32F, _COMPUTE_64F, _COMPUTE_32F_FAST_TF32 = 68, 70, 77
_GEMM_DEFAULT = -1
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _layout(a, name: str) -> tuple[int, int]:
    """(leading dimension, batch stride) in elements of a (batch, rows, cols) array with contiguous rows."""
    if a.ndim != 3:
        raise ValueError(f"batched_matmul: {name} must be 3-D (batch, rows, cols), got shape {a.shape}")
    item = a.itemsize
    batch_stride, row_stride, col_stride = a.strides
    if a.shape[2] > 1 and col_stride != item:
        raise ValueError(f"batched_matmul: the rows of {name} must be contiguous (strides {a.strides})")
    ld = row_stride // item if a.shape[1] > 1 else a.shape[2]
    return max(ld, a.shape[2], 1), batch_stride // item if a.shape[0] > 1 else 0


_codes: dict = {}  # dtype -> cudaDataType code; keyed by the dtype itself (its .name is slow Python)
_scalars: dict = {}  # (value, scalar type) -> the 0-d host array cuBLAS reads alpha or beta from


def _type(a, name: str) -> int:
    code = _codes.get(a.dtype)
    if code is None:
        code = _CUDA_TYPES.get(a.dtype.name)
        if code is None:
            raise TypeError(f"batched_matmul: {name} is {a.dtype}; supported: {sorted(_CUDA_TYPES)}")
        _codes[a.dtype] = code
    return code


def _scalar(value: float, scalar_type):
    """alpha or beta as a host array (cuBLAS reads it during the call); common values are made once."""
    key = (value, scalar_type)
    array = _scalars.get(key)
    if array is None:
        array = np.array(value, scalar_type)
        if len(_scalars) < 64:
            _scalars[key] = array
    return array


def batched_matmul(a, b, out, *, trans_a: bool = False, trans_b: bool = False, alpha: float = 1.0,
                   beta: float = 0.0, tf32: bool | None = None):
    """out[i] = alpha op(a[i]) @ op(b[i]) + beta out[i]; op transposes the last two axes when asked.

    ``a`` and ``b`` share a dtype; ``out`` has theirs or float32. Float32 products use TF32
    when ``tf32`` is true (default: ``ember.cuda.matmul.allow_tf32``). Returns ``out``.
    """
    import cupy
    from cupy_backends.cuda.libs import cublas

    if a.dtype != b.dtype:
        raise TypeError(f"batched_matmul: a is {a.dtype} but b is {b.dtype}")
    if out.dtype != a.dtype and out.dtype != _F32:
        raise TypeError(f"batched_matmul: out must be {a.dtype} or float32, got {out.dtype}")
    batch, m, n = out.shape
    am, ak = (a.shape[2], a.shape[1]) if trans_a else (a.shape[1], a.shape[2])
    bk, bn = (b.shape[2], b.shape[1]) if trans_b else (b.shape[1], b.shape[2])
    if a.shape[0] != batch or b.shape[0] != batch or am != m or bn != n or ak != bk:
        raise ValueError(f"batched_matmul: op(a) {(a.shape[0], am, ak)} @ op(b) {(b.shape[0], bk, bn)} "
                         f"does not fit out {out.shape}")
    lda, stride_a = _layout(a, "a")
    ldb, stride_b = _layout(b, "b")
    ldc, stride_c = _layout(out, "out")
    if a.dtype == _F64:
        compute, scalar = _COMPUTE_64F, np.float64
    else:
        use_tf32 = get_allow_tf32() if tf32 is None else tf32
        compute = _COMPUTE_32F_FAST_TF32 if use_tf32 and a.dtype == _F32 else _COMPUTE_32F
        scalar = np.float32
    alpha_, beta_ = _scalar(alpha, scalar), _scalar(beta, scalar)
    if batch == 0 or m == 0 or n == 0:
        return out
    handle = cupy.cuda.device.get_cublas_handle()
    cublas.setPointerMode(handle, getattr(cublas, "CUBLAS_POINTER_MODE_HOST", 0))  # alpha, beta on the host
    cublas.gemmStridedBatchedEx(
        handle, _OP_T if trans_b else _OP_N, _OP_T if trans_a else _OP_N, n, m, ak,
        alpha_.ctypes.data, b.data.ptr, _type(b, "b"), ldb, stride_b,
        a.data.ptr, _type(a, "a"), lda, stride_a,
        beta_.ctypes.data, out.data.ptr, _type(out, "out"), ldc, stride_c,
        batch, compute, _GEMM_DEFAULT)
    return out
