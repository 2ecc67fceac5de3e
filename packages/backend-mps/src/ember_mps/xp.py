"""NumPy's array namespace spelled over ``mlx.core``: the ``xp`` of the MLX backend.

Every function takes and returns :class:`~ember_mps.array.MLXArray` (NumPy arrays and
scalars are accepted too), with NumPy's argument names and NumPy dtypes. ``out=`` rebinds
the output wrapper (see :mod:`ember_mps.array`). Functions MLX lacks (``unique``,
``flatnonzero``...) evaluate and run on the host: they are off the training hot path.
"""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np

from .array import MLXArray, unwrap, wrap
from .dtypes import from_numpy, to_mlx_dtype, to_numpy

ndarray = MLXArray
inf = math.inf
nan = math.nan
pi = math.pi
newaxis = None
float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, bool_ = np.int32, np.int64, np.bool_


def _out(result, out):
    return out.assign(result) if out is not None else wrap(result)


def _dt(dtype):
    return None if dtype is None else to_mlx_dtype(dtype)


# -- element-wise functions ------------------------------------------------------------


class _Ufunc:
    """An element-wise function with NumPy's ``out=`` and, for add, ``at``/``reduceat``."""

    def __init__(self, fn, name: str):
        self.fn, self.__name__ = fn, name

    def __call__(self, *args, out=None, where=None, dtype=None):
        result = self.fn(*[unwrap(a) for a in args])
        if dtype is not None:
            result = result.astype(to_mlx_dtype(dtype))
        if where is not None:
            base = out.a if out is not None else mx.zeros_like(result)
            result = mx.where(unwrap(where), result, base)
        return _out(result, out)

    def outer(self, a, b):
        a, b = unwrap(a), unwrap(b)
        return wrap(self.fn(a.reshape(*a.shape, *([1] * b.ndim)), b))

    def at(self, target, index, values=None):
        """Unbuffered ``target[index] op= values``: repeated indices all count."""
        target.check_writable()
        at = target.a.at[_key(index)]
        method = {"add": at.add, "multiply": at.multiply, "maximum": at.maximum, "minimum": at.minimum}
        target.a = method[self.__name__](unwrap(values))

    def reduceat(self, a, indices, axis=0):
        if self.__name__ != "add":
            raise TypeError(f"{self.__name__}.reduceat is not available on MLX (only add.reduceat is)")
        a = unwrap(a)
        starts = to_numpy(unwrap(indices)).astype(np.int64)
        n = a.shape[axis]
        segment = np.zeros(n, dtype=np.int64)
        segment[starts[1:]] = 1
        ids = from_numpy(np.cumsum(segment))
        moved = mx.moveaxis(a, axis, 0)
        out = mx.zeros((len(starts), *moved.shape[1:]), dtype=a.dtype).at[ids].add(moved)
        return wrap(mx.moveaxis(out, 0, axis))


def _key(index):
    from .array import _index
    return _index(index)


def _copysign(a, b):
    mag = mx.abs(a)
    b = b if isinstance(b, mx.array) else mx.array(b)
    negative = mx.logical_or(b < 0, mx.logical_and(b == 0, mx.array(1.0, dtype=mx.float32) / b < 0)) \
        if mx.issubdtype(b.dtype, mx.floating) else b < 0
    return mx.where(negative, -mag, mag)


def _sign(a):
    out = mx.sign(a)
    return mx.where(mx.isnan(a), a, out) if mx.issubdtype(a.dtype, mx.floating) else out


def _invert(a):
    return mx.logical_not(a) if a.dtype == mx.bool_ else mx.bitwise_invert(a)


_ELEMENTWISE = {
    "add": mx.add, "subtract": mx.subtract, "multiply": mx.multiply, "divide": mx.divide,
    "true_divide": mx.divide, "floor_divide": mx.floor_divide, "remainder": mx.remainder,
    "mod": mx.remainder, "power": mx.power, "maximum": mx.maximum, "minimum": mx.minimum,
    "fmax": mx.maximum, "fmin": mx.minimum, "arctan2": mx.arctan2,
    "equal": mx.equal, "not_equal": mx.not_equal, "less": mx.less, "less_equal": mx.less_equal,
    "greater": mx.greater, "greater_equal": mx.greater_equal,
    "logical_and": mx.logical_and, "logical_or": mx.logical_or,
    "logical_xor": lambda a, b: mx.not_equal(mx.array(a).astype(mx.bool_), mx.array(b).astype(mx.bool_)),
    "logical_not": mx.logical_not,
    "bitwise_and": mx.bitwise_and, "bitwise_or": mx.bitwise_or, "bitwise_xor": mx.bitwise_xor,
    "invert": _invert, "left_shift": mx.left_shift, "right_shift": mx.right_shift,
    "negative": mx.negative, "positive": lambda a: a, "abs": mx.abs, "absolute": mx.abs,
    "sign": _sign, "copysign": _copysign, "reciprocal": mx.reciprocal, "square": mx.square,
    "sqrt": mx.sqrt, "exp": mx.exp, "expm1": mx.expm1, "exp2": lambda a: mx.power(2.0, a),
    "log": mx.log, "log1p": mx.log1p, "log2": mx.log2, "log10": mx.log10,
    "sin": mx.sin, "cos": mx.cos, "tan": mx.tan, "arcsin": mx.arcsin, "arccos": mx.arccos,
    "arctan": mx.arctan, "sinh": mx.sinh, "cosh": mx.cosh, "tanh": mx.tanh,
    "arcsinh": mx.arcsinh, "arccosh": mx.arccosh, "arctanh": mx.arctanh,
    "floor": mx.floor, "ceil": mx.ceil, "trunc": lambda a: mx.where(a < 0, mx.ceil(a), mx.floor(a)),
    "rint": mx.round, "isnan": mx.isnan, "isinf": mx.isinf, "isfinite": mx.isfinite,
    "isposinf": mx.isposinf, "isneginf": mx.isneginf, "signbit": lambda a: _copysign(mx.ones_like(a), a) < 0,
    "erf": mx.erf, "erfinv": mx.erfinv, "logaddexp": mx.logaddexp,
}
for _name, _fn in _ELEMENTWISE.items():
    globals()[_name] = _Ufunc(_fn, _name)


def clip(a, a_min, a_max, out=None):
    return _out(mx.clip(unwrap(a), unwrap(a_min), unwrap(a_max)), out)


def round(a, decimals=0, out=None):  # noqa: A001 - NumPy's name
    return _out(mx.round(unwrap(a), decimals), out)


def where(condition, x=None, y=None):
    if x is None and y is None:
        return nonzero(condition)
    return wrap(mx.where(unwrap(condition), unwrap(x), unwrap(y)))


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    return wrap(mx.isclose(unwrap(a), unwrap(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def copyto(dst, src, where=True):
    if where is True:
        dst.assign(src)
    else:
        dst.assign(mx.where(unwrap(where), unwrap(src), dst.a))


# -- creation ----------------------------------------------------------------------------


def _shape(shape):
    return [int(s) for s in shape] if isinstance(shape, (tuple, list)) else [int(shape)]


def asarray(obj, dtype=None):
    if type(obj) is MLXArray:
        return obj if dtype is None else obj.astype(dtype, copy=False)
    if isinstance(obj, mx.array):
        return wrap(obj if dtype is None else obj.astype(to_mlx_dtype(dtype)))
    return wrap(from_numpy(np.asarray(obj, dtype=dtype)))


def array(obj, dtype=None, copy=True):
    return asarray(obj, dtype)


def ascontiguousarray(a, dtype=None):
    a = asarray(a, dtype)
    return wrap(a.a) if a.derived else a


def zeros(shape, dtype=float):
    return wrap(mx.zeros(_shape(shape), dtype=to_mlx_dtype(dtype)))


def ones(shape, dtype=float):
    return wrap(mx.ones(_shape(shape), dtype=to_mlx_dtype(dtype)))


empty = zeros


def full(shape, fill_value, dtype=None):
    if dtype is None:
        dtype = np.asarray(fill_value).dtype
    return wrap(mx.full(_shape(shape), unwrap(fill_value), dtype=to_mlx_dtype(dtype)))


def zeros_like(a, dtype=None):
    return zeros(a.shape, dtype or a.dtype)


def ones_like(a, dtype=None):
    return ones(a.shape, dtype or a.dtype)


empty_like = zeros_like


def full_like(a, fill_value, dtype=None):
    return full(a.shape, fill_value, dtype or a.dtype)


def arange(start, stop=None, step=1, dtype=None):
    if dtype is None:
        dtype = np.arange(0, 1 if stop is None else 1, step).dtype if all(
            isinstance(v, (int, np.integer)) for v in (start, stop or 0, step)) else np.float64
    if stop is None:
        start, stop = 0, start
    return wrap(mx.arange(start, stop, step, dtype=to_mlx_dtype(dtype)))


def eye(n, m=None, k=0, dtype=float):
    return wrap(mx.eye(n, m, k, dtype=to_mlx_dtype(dtype)))


# -- shape -------------------------------------------------------------------------------


def reshape(a, shape):
    return asarray(a).reshape(shape)


def broadcast_to(a, shape):
    return wrap(mx.broadcast_to(unwrap(a), _shape(shape)), True)


def expand_dims(a, axis):
    return wrap(mx.expand_dims(unwrap(a), list(axis) if isinstance(axis, tuple) else axis), True)


def squeeze(a, axis=None):
    return asarray(a).squeeze(axis)


def swapaxes(a, x, y):
    return wrap(mx.swapaxes(unwrap(a), x, y), True)


def moveaxis(a, source, destination):
    a = unwrap(a)
    if isinstance(source, (tuple, list)):
        order = [i for i in range(a.ndim) if i not in [s % a.ndim for s in source]]
        for dst, src in sorted(zip([d % a.ndim for d in destination], [s % a.ndim for s in source])):
            order.insert(dst, src)
        return wrap(mx.transpose(a, order), True)
    return wrap(mx.moveaxis(a, source, destination), True)


def transpose(a, axes=None):
    return asarray(a).transpose(*(axes or ()))


def flip(a, axis=None):
    a = unwrap(a)
    axes = range(a.ndim) if axis is None else (axis if isinstance(axis, (tuple, list)) else (axis,))
    index = [slice(None)] * a.ndim
    for ax in axes:
        index[ax] = slice(None, None, -1)
    return wrap(a[tuple(index)], True)


def roll(a, shift, axis=None):
    return wrap(mx.roll(unwrap(a), shift, axis))


def tile(a, reps):
    return wrap(mx.tile(unwrap(a), list(reps) if isinstance(reps, tuple) else reps))


def concatenate(arrays, axis=0):
    arrays = [unwrap(a) for a in arrays]
    if axis is None:
        return wrap(mx.concatenate([a.reshape(-1) for a in arrays]))
    return wrap(mx.concatenate(arrays, axis=axis))


def stack(arrays, axis=0):
    return wrap(mx.stack([unwrap(a) for a in arrays], axis=axis))


def split(a, indices_or_sections, axis=0):
    return [wrap(p) for p in mx.split(unwrap(a), indices_or_sections if isinstance(indices_or_sections, int)
                                      else list(indices_or_sections), axis=axis)]


def atleast_1d(a):
    a = asarray(a)
    return a.reshape(1) if a.ndim == 0 else a


def tril(a, k=0):
    return wrap(mx.tril(unwrap(a), k))


def triu(a, k=0):
    return wrap(mx.triu(unwrap(a), k))


def pad(a, pad_width, mode="constant", constant_values=0):
    if mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError(f"pad: mode {mode!r} is not available on MLX; use 'constant', 'edge', 'reflect' "
                         "or 'symmetric'")
    return wrap(mx.pad(unwrap(a), [tuple(int(v) for v in p) for p in pad_width], mode=mode,
                       constant_values=unwrap(constant_values)))


# -- reductions and indexing --------------------------------------------------------------


def sum(a, axis=None, dtype=None, keepdims=False):  # noqa: A001 - NumPy's name
    return asarray(a).sum(axis=axis, dtype=dtype, keepdims=keepdims)


def argmax(a, axis=None, keepdims=False):
    return asarray(a).argmax(axis, keepdims)


def argmin(a, axis=None, keepdims=False):
    return asarray(a).argmin(axis, keepdims)


def cumsum(a, axis=None, dtype=None):
    return asarray(a).cumsum(axis, dtype)


def cumprod(a, axis=None, dtype=None, out=None):
    a = unwrap(a)
    if dtype is not None:
        a = a.astype(to_mlx_dtype(dtype))
    return _out(mx.cumprod(a.reshape(-1) if axis is None else a, axis=0 if axis is None else axis), out)


def count_nonzero(a, axis=None):
    a = unwrap(a)
    nz = (a != 0).astype(mx.int64)
    return wrap(mx.sum(nz) if axis is None else mx.sum(nz, axis=axis))


def argsort(a, axis=-1, kind=None, stable=None):
    a = unwrap(a)
    if a.dtype == mx.bool_:
        a = a.astype(mx.int32)
    if axis is None:
        a, axis = a.reshape(-1), 0
    # MLX's argsort is not stable; break ties by position so the order matches NumPy's stable sort
    return wrap(mx.argsort(a, axis=axis).astype(mx.int64)) if not (kind == "stable" or stable) else \
        wrap(from_numpy(np.argsort(to_numpy(a), axis=axis, kind="stable")))


def take(a, indices, axis=None):
    return wrap(mx.take(unwrap(a), unwrap(indices), axis=axis) if axis is not None
                else mx.take(unwrap(a).reshape(-1), unwrap(indices)))


def take_along_axis(a, indices, axis):
    return wrap(mx.take_along_axis(unwrap(a), unwrap(indices), axis=axis))


def put_along_axis(a, indices, values, axis):
    a.check_writable()
    a.a = mx.put_along_axis(a.a, unwrap(indices), unwrap(values), axis=axis)


def nonzero(a):
    return asarray(a).nonzero()


def flatnonzero(a):
    return wrap(from_numpy(np.flatnonzero(to_numpy(unwrap(a))).astype(np.int64)))


def unique(a, return_inverse=False, return_counts=False):
    result = np.unique(to_numpy(unwrap(a)), return_inverse=return_inverse, return_counts=return_counts)
    if isinstance(result, tuple):
        return tuple(wrap(from_numpy(r)) for r in result)
    return wrap(from_numpy(result))


def may_share_memory(a, b) -> bool:
    return a is b


# -- linear algebra ----------------------------------------------------------------------


def matmul(a, b, out=None):
    return _out(mx.matmul(unwrap(a), unwrap(b)), out)


def dot(a, b):
    a, b = unwrap(a), unwrap(b)
    if a.ndim == 0 or b.ndim == 0:
        return wrap(a * b)
    if b.ndim == 1 or a.ndim <= 2:
        return wrap(mx.matmul(a, b))
    return wrap(mx.tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2])))


def einsum(subscripts, *operands, optimize=False):
    return wrap(mx.einsum(subscripts, *[unwrap(o) for o in operands]))
