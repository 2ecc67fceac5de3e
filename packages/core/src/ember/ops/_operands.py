"""Turning operands into tensors of one dtype before an elementwise op.

Python scalars take the tensor's dtype (so ``float32 * 2.0`` stays float32, as in
PyTorch), except a float scalar with an integer tensor, which gives the default float
dtype. Two tensors of different dtypes are cast, differentiably, to their promoted dtype.
"""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import _SCALARS, Tensor


def scalar_dtype(value, like: Tensor):
    """The NumPy dtype a Python scalar takes next to tensor ``like``."""
    kind = like._data.dtype.kind
    if isinstance(value, (bool, np.bool_)):
        return like._data.dtype
    if isinstance(value, (int, np.integer)):
        return like._data.dtype if kind != "b" else np.dtype(np.int64)
    if isinstance(value, (float, np.floating)):
        return like._data.dtype if kind in "fV" else dtypes.get_default_dtype().numpy
    raise TypeError(f"unsupported operand type {type(value).__name__}; expected a Tensor or a Python number")


def lift(value, like: Tensor) -> Tensor:
    """A scalar, array or nested list as a constant tensor on ``like``'s device."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, _SCALARS):
        dtype = scalar_dtype(value, like)
    elif isinstance(value, (np.ndarray, list, tuple)):
        dtype = None
    else:
        raise TypeError(f"unsupported operand type {type(value).__name__}; expected a Tensor or a Python number")
    device = like._device
    data = device.backend.asarray(value, dtype, device.index or 0)
    if dtype is None and data.dtype == np.float64 and like._data.dtype.kind in "fV":
        data = data.astype(like._data.dtype)
    return Tensor._make(data, device, None)


def operands(a, b) -> tuple[Tensor, Tensor]:
    """``a`` and ``b`` as tensors of one dtype on one device (at least one is a tensor)."""
    if not isinstance(a, Tensor):
        a = lift(a, b)
    elif not isinstance(b, Tensor):
        b = lift(b, a)
    da, db = a._data.dtype, b._data.dtype
    if da is not db and da != db:
        target = dtypes.promote_types(dtypes.from_numpy_dtype(da), dtypes.from_numpy_dtype(db))
        if da != target.numpy:
            a = a.to(target)
        if db != target.numpy:
            b = b.to(target)
    return a, b


def floating(x: Tensor) -> Tensor:
    """``x`` itself if floating, else ``x`` cast to the default float dtype (for exp, sqrt...)."""
    if x._data.dtype.kind in "fV":
        return x
    return x.to(dtypes.get_default_dtype())
