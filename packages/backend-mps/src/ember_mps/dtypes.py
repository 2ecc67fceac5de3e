"""NumPy dtypes <-> MLX dtypes, and moving arrays between NumPy and MLX without losing bits."""

from __future__ import annotations

import ml_dtypes
import mlx.core as mx
import numpy as np

_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)

TO_MLX = {
    np.dtype(np.bool_): mx.bool_,
    np.dtype(np.uint8): mx.uint8, np.dtype(np.uint16): mx.uint16,
    np.dtype(np.uint32): mx.uint32, np.dtype(np.uint64): mx.uint64,
    np.dtype(np.int8): mx.int8, np.dtype(np.int16): mx.int16,
    np.dtype(np.int32): mx.int32, np.dtype(np.int64): mx.int64,
    np.dtype(np.float16): mx.float16, np.dtype(np.float32): mx.float32,
    np.dtype(np.float64): mx.float64, _BFLOAT16: mx.bfloat16,
    np.dtype(np.complex64): mx.complex64,
}
TO_NUMPY = {v: k for k, v in TO_MLX.items()}


def to_mlx_dtype(dtype) -> mx.Dtype:
    """The MLX dtype of a NumPy dtype (or anything ``np.dtype`` accepts, or an MLX dtype)."""
    if isinstance(dtype, mx.Dtype):
        return dtype
    key = np.dtype(getattr(dtype, "numpy", dtype))
    try:
        return TO_MLX[key]
    except KeyError:
        raise TypeError(f"MLX has no dtype for {key}; supported: "
                        f"{', '.join(sorted(str(d) for d in TO_MLX))}") from None


def to_numpy_dtype(dtype: mx.Dtype) -> np.dtype:
    return TO_NUMPY[dtype]


def from_numpy(array: np.ndarray) -> mx.array:
    """An MLX array holding exactly ``array``'s values and dtype (float64 and bfloat16 included)."""
    array = np.asarray(array)
    if array.dtype == _BFLOAT16:
        return mx.array(array.view(np.uint16)).view(mx.bfloat16)
    if array.dtype not in TO_MLX:
        raise TypeError(f"cannot move a {array.dtype} array to MLX; supported: "
                        f"{', '.join(sorted(str(d) for d in TO_MLX))}")
    return mx.array(array, dtype=TO_MLX[array.dtype])


def to_numpy(array: mx.array) -> np.ndarray:
    """A NumPy copy of an MLX array (evaluates it)."""
    if array.dtype == mx.bfloat16:
        return np.array(array.view(mx.uint16)).view(_BFLOAT16)
    return np.array(array, copy=True)
