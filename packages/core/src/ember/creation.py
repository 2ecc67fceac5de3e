"""Making tensors: tensor, as_tensor, from_numpy, zeros, ones, full, empty, arange, linspace, eye, *_like."""

from __future__ import annotations

import numpy as np

from . import dtypes
from .device import resolve
from .tensor import Tensor

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace",
           "eye", "zeros_like", "ones_like", "full_like", "empty_like"]


def _shape(size) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"a shape is a sequence of non-negative integers, got {tuple(size)!r}")
    return tuple(int(n) for n in size)


def _numpy_dtype_of_data(data, dtype):
    if dtype is not None:
        return dtypes.as_dtype(dtype).numpy
    probe = np.asarray(data)
    if probe.dtype == np.float64 and not isinstance(data, np.ndarray):
        return dtypes.get_default_dtype().numpy  # Python floats take the default dtype
    if probe.dtype.kind == "i" and not isinstance(data, np.ndarray):
        return np.dtype(np.int64)
    if probe.dtype.kind in "USO":
        raise TypeError(f"can't make a tensor from data of type {type(data).__name__} "
                        f"(NumPy sees dtype {probe.dtype}); expected numbers, booleans or nested lists of them")
    dtypes.from_numpy_dtype(probe.dtype)  # a clear error for unsupported dtypes
    return probe.dtype


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested list, NumPy array or Tensor).

    Python floats become the default dtype (float32); integers int64; a NumPy array keeps
    its dtype.

    >>> import ember
    >>> ember.tensor([[1, 2], [3, 4]]).dtype
    ember.int64
    """
    dev = resolve(device)
    if isinstance(data, Tensor):
        out = data.detach().to(dev).clone() if dtype is None else data.detach().to(dev, dtype).clone()
    else:
        np_dtype = _numpy_dtype_of_data(data, dtype)
        array = np.array(data, dtype=np_dtype, copy=True)
        out = Tensor._make(dev.backend.from_numpy(array, dev.index or 0), dev, None)
    if requires_grad:
        out.requires_grad = True
    return out


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor`, but shares memory with ``data`` where it can (same dtype and device)."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    dev = resolve(device)
    if isinstance(data, np.ndarray) and dev.type == "cpu":
        np_dtype = data.dtype if dtype is None else dtypes.as_dtype(dtype).numpy
        dtypes.from_numpy_dtype(np_dtype)
        return Tensor._make(np.asarray(data, dtype=np_dtype), dev, None)
    return tensor(data, dtype=dtype, device=dev)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    dtypes.from_numpy_dtype(array.dtype)
    return Tensor._make(array, resolve("cpu"), None)


def _filled(size, value, dtype, device, requires_grad) -> Tensor:
    dev = resolve(device)
    shape = _shape(size)
    np_dtype = (dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()).numpy
    xp = dev.backend.xp
    if value is None:
        data = xp.empty(shape, dtype=np_dtype)
    elif value == 0:
        data = xp.zeros(shape, dtype=np_dtype)
    else:
        data = xp.full(shape, value, dtype=np_dtype)
    out = Tensor._make(data, dev, None)
    if requires_grad:
        out.requires_grad = True
    return out


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0.0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 1.0, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, None, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (its dtype follows the value, as in PyTorch)."""
    if dtype is None:
        dtype = dtypes.bool if isinstance(fill_value, bool) else (
            dtypes.int64 if isinstance(fill_value, int) else dtypes.get_default_dtype())
    size = (size,) if isinstance(size, int) else tuple(size)
    return _filled(size, fill_value, dtype, device, requires_grad)


def _like(input: Tensor, value, dtype, device, requires_grad) -> Tensor:
    return _filled(input.shape, value, dtype or input.dtype, device or input.device, requires_grad)


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(input, 0.0, dtype, device, requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(input, 1.0, dtype, device, requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(input, None, dtype, device, requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(input, fill_value, dtype, device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` up to (not including) ``end``; int64 unless any bound is a float."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.get_default_dtype()
    dev = resolve(device)
    data = dev.backend.from_numpy(np.arange(start, end, step, dtype=np.float64 if dtypes.as_dtype(dtype).is_floating_point
                                            else np.int64).astype(dtypes.as_dtype(dtype).numpy), dev.index or 0)
    out = Tensor._make(data, dev, None)
    if requires_grad:
        out.requires_grad = True
    return out


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise ValueError(f"linspace: steps must be >= 0, got {steps}")
    dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    dev = resolve(device)
    data = dev.backend.from_numpy(np.linspace(start, end, steps).astype(dtype.numpy), dev.index or 0)
    out = Tensor._make(data, dev, None)
    if requires_grad:
        out.requires_grad = True
    return out


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The ``n`` x ``m`` identity matrix."""
    dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    dev = resolve(device)
    out = Tensor._make(dev.backend.xp.eye(n, m, dtype=dtype.numpy), dev, None)
    if requires_grad:
        out.requires_grad = True
    return out
