"""Data types: PyTorch's names over NumPy dtypes (bfloat16 through ml_dtypes).

An ``ember.dtype`` wraps one NumPy dtype, which every array namespace we target (NumPy,
CuPy) accepts directly. Promotion follows NumPy within a kind (float32 + float64 ->
float64) and PyTorch across kinds (int64 + float32 -> float32, not float64); Python
scalars never upcast a tensor (``float32_tensor * 2.0`` stays float32).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

__all__ = [
    "dtype", "float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32",
    "int64", "bool", "get_default_dtype", "set_default_dtype", "promote_types", "as_dtype",
]

_builtin_bool = bool


class dtype:
    """One element type. Compare with ``==``; ``.numpy`` is the NumPy dtype behind it."""

    __slots__ = ("name", "numpy", "is_floating_point", "itemsize", "kind")

    def __init__(self, name: str, numpy_dtype) -> None:
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.itemsize = self.numpy.itemsize
        self.is_floating_point = name in ("float16", "bfloat16", "float32", "float64")
        self.kind = 2 if self.is_floating_point else (0 if name == "bool" else 1)

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))


float16 = dtype("float16", np.float16)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool = dtype("bool", np.bool_)  # noqa: A001 - PyTorch's name

_ALL = (float16, bfloat16, float32, float64, int8, uint8, int16, int32, int64, bool)
_BY_NUMPY = {d.numpy: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"half": float16, "float": float32, "double": float64, "long": int64, "int": int32})

_default_float = [float32]


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype of a NumPy dtype; a clear error for dtypes ember does not support."""
    try:
        return _BY_NUMPY[np_dtype]
    except KeyError:
        pass
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        supported = ", ".join(d.name for d in _ALL)
        raise TypeError(f"unsupported dtype {np_dtype!r}; ember supports {supported}") from None


def as_dtype(value) -> dtype:
    """Accept an ember dtype, its name ("float32"), a NumPy dtype or a Python type."""
    if isinstance(value, dtype):
        return value
    if isinstance(value, str):
        try:
            return _BY_NAME[value.removeprefix("ember.")]
        except KeyError:
            raise TypeError(f"unknown dtype name {value!r}; expected one of {sorted(_BY_NAME)}") from None
    if value is float:
        return _default_float[0]
    if value is int:
        return int64
    if value is _builtin_bool:
        return bool
    return from_numpy_dtype(value)


def get_default_dtype() -> dtype:
    """The floating dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_float[0]


def set_default_dtype(d) -> None:
    """Set the floating dtype used for new tensors, like ``torch.set_default_dtype``."""
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"the default dtype must be a floating dtype, got {d}")
    _default_float[0] = d


_PROMOTIONS: dict = {}


def promote_types(a: dtype, b: dtype) -> dtype:
    """The dtype of ``a op b`` for tensors of dtypes ``a`` and ``b``."""
    key = (a, b)
    result = _PROMOTIONS.get(key)
    if result is None:
        if a is b:
            result = a
        elif a.kind != b.kind:
            result = a if a.kind > b.kind else b
        elif {a, b} == {float16, bfloat16}:
            result = float32
        else:
            result = from_numpy_dtype(np.promote_types(a.numpy, b.numpy))
        _PROMOTIONS[key] = result
    return result
