"""``MLXArray``: an ``mlx.core.array`` behind the small part of NumPy's ``ndarray`` interface
that ember's ops use (NumPy dtypes, ``astype``, reductions with ``axis``/``keepdims``,
indexing and assignment).

MLX arrays are values, not views: ``b = a[0]`` is a new array, never a window onto ``a``.
Assigning into ``a`` (``a[i] = v``, or ``out=a`` in an ``xp`` function) rebinds the MLX
array inside this wrapper, so everything holding the wrapper sees the change, exactly as with
NumPy. Assigning into a *derived* array (a slice, a reshape, a transpose) would silently miss
its source, so it raises instead: ember's ops never rely on writing through a view. (``x += y``
on a derived array gives the name ``x`` a new array; ember's ops use ``+=`` on their own temporaries only.)
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from .dtypes import from_numpy, to_mlx_dtype, to_numpy, to_numpy_dtype


def unwrap(x):
    """The MLX value of an operand: MLXArray, NumPy array or scalar, Python scalar or list."""
    if type(x) is MLXArray:
        return x.a
    if isinstance(x, np.ndarray):
        return from_numpy(x)
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (list, tuple)):
        return from_numpy(np.asarray([to_numpy(unwrap(v)) if isinstance(v, MLXArray) else v for v in x]))
    return x


def wrap(a, derived: bool = False) -> "MLXArray":
    out = MLXArray.__new__(MLXArray)
    out.a = a
    out.derived = derived
    return out


def _index(key):
    """An index MLX understands: arrays become MLX int arrays; boolean masks become positions."""
    if isinstance(key, tuple):
        if any(_is_bool_mask(k) for k in key):
            return _bool_tuple(key)
        return tuple(_index_one(k) for k in key)
    if _is_bool_mask(key):
        return _bool_tuple((key,))
    return _index_one(key)


def _is_bool_mask(k) -> bool:
    if type(k) is MLXArray:
        return k.a.dtype == mx.bool_
    if isinstance(k, np.ndarray):
        return k.dtype == np.bool_
    return isinstance(k, list) and k and isinstance(k[0], (bool, np.bool_))


def _index_one(k):
    if type(k) is MLXArray:
        return k.a
    if isinstance(k, (np.ndarray, list)):
        return from_numpy(np.asarray(k))
    if isinstance(k, np.integer):
        return int(k)
    return k


def _bool_tuple(key):
    """A key with boolean masks: each mask becomes the integer positions of its True entries
    (MLX has no data-dependent shapes, so this evaluates the mask)."""
    out = []
    for k in key:
        if _is_bool_mask(k):
            mask = to_numpy(k.a) if type(k) is MLXArray else np.asarray(k)
            out.extend(from_numpy(i.astype(np.int64)) for i in np.nonzero(mask))
        else:
            out.append(_index_one(k))
    return tuple(out)


def _is_basic(key) -> bool:
    """Whether NumPy would return a view for ``key`` (ints, slices, None, Ellipsis only)."""
    keys = key if isinstance(key, tuple) else (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice, np.integer)) for k in keys)


def _axis(axis):
    return list(axis) if isinstance(axis, tuple) else axis


class _Flags:
    c_contiguous = True
    f_contiguous = False
    writeable = True


class MLXArray:
    """An MLX array with NumPy's ndarray interface (the subset ember's ops use)."""

    __slots__ = ("a", "derived")
    __array_ufunc__ = None  # NumPy operators defer to ours: ndarray * MLXArray -> MLXArray
    flags = _Flags()

    def __init__(self, a, derived: bool = False):
        self.a = a
        self.derived = derived

    # -- metadata ----------------------------------------------------------------------

    @property
    def dtype(self) -> np.dtype:
        return to_numpy_dtype(self.a.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.a.shape)

    @property
    def ndim(self) -> int:
        return self.a.ndim

    @property
    def size(self) -> int:
        return self.a.size

    @property
    def itemsize(self) -> int:
        return self.a.itemsize

    @property
    def nbytes(self) -> int:
        return self.a.nbytes

    def __len__(self) -> int:
        if not self.a.ndim:
            raise TypeError("len() of a 0-d array")
        return self.a.shape[0]

    def __repr__(self) -> str:
        return f"MLXArray({self.a})"

    # -- conversion --------------------------------------------------------------------

    def __array__(self, dtype=None, copy=None):
        out = to_numpy(self.a)
        return out if dtype is None else out.astype(dtype, copy=False)

    def item(self):
        return self.a.item()

    def tolist(self):
        return to_numpy(self.a).tolist()

    def __float__(self):
        return float(self.a.item())

    def __int__(self):
        return int(self.a.item())

    def __index__(self):
        return int(self.a.item())

    def __bool__(self):
        return bool(self.a.item())

    def astype(self, dtype, copy: bool = True) -> "MLXArray":
        target = to_mlx_dtype(dtype)
        if target == self.a.dtype:
            return wrap(self.a) if copy else self
        return wrap(self.a.astype(target))

    def copy(self) -> "MLXArray":
        return wrap(self.a)

    # -- shape -------------------------------------------------------------------------

    def reshape(self, *shape, order="C") -> "MLXArray":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return wrap(mx.reshape(self.a, [int(s) for s in shape]), True)

    def transpose(self, *axes) -> "MLXArray":
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return wrap(mx.transpose(self.a, list(axes)) if axes else self.a.T, True)

    @property
    def T(self) -> "MLXArray":
        return wrap(self.a.T, True)

    def swapaxes(self, a, b) -> "MLXArray":
        return wrap(mx.swapaxes(self.a, a, b), True)

    def ravel(self) -> "MLXArray":
        return wrap(self.a.reshape(-1), True)

    def flatten(self) -> "MLXArray":
        return wrap(self.a.reshape(-1))

    def squeeze(self, axis=None) -> "MLXArray":
        return wrap(mx.squeeze(self.a, _axis(axis)) if axis is not None else mx.squeeze(self.a), True)

    # -- reductions --------------------------------------------------------------------

    def _reduce(self, fn, axis, keepdims, dtype=None):
        a = self.a if dtype is None else self.a.astype(to_mlx_dtype(dtype))
        return wrap(fn(a, axis=_axis(axis), keepdims=keepdims) if axis is not None else fn(a, keepdims=keepdims))

    def sum(self, axis=None, dtype=None, keepdims=False, out=None):
        a = self.a
        if dtype is None and a.dtype in (mx.bool_, mx.int8, mx.int16, mx.int32, mx.uint8, mx.uint16, mx.uint32):
            dtype = np.int64 if a.dtype in (mx.bool_, mx.int8, mx.int16, mx.int32) else np.uint64
        return self._reduce(mx.sum, axis, keepdims, dtype)

    def mean(self, axis=None, dtype=None, keepdims=False):
        if dtype is None and not mx.issubdtype(self.a.dtype, mx.inexact):
            dtype = np.float64
        return self._reduce(mx.mean, axis, keepdims, dtype)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return self._reduce(mx.prod, axis, keepdims, dtype)

    def max(self, axis=None, keepdims=False):
        return self._reduce(mx.max, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return self._reduce(mx.min, axis, keepdims)

    def any(self, axis=None, keepdims=False):
        return self._reduce(mx.any, axis, keepdims)

    def all(self, axis=None, keepdims=False):
        return self._reduce(mx.all, axis, keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        a = self.a
        return wrap(mx.var(a, axis=_axis(axis), keepdims=keepdims, ddof=ddof))

    def std(self, axis=None, ddof=0, keepdims=False):
        return wrap(mx.std(self.a, axis=_axis(axis), keepdims=keepdims, ddof=ddof))

    def argmax(self, axis=None, keepdims=False):
        return wrap(mx.argmax(self.a, axis=axis, keepdims=keepdims).astype(mx.int64))

    def argmin(self, axis=None, keepdims=False):
        return wrap(mx.argmin(self.a, axis=axis, keepdims=keepdims).astype(mx.int64))

    def cumsum(self, axis=None, dtype=None):
        a = self.a if dtype is None else self.a.astype(to_mlx_dtype(dtype))
        return wrap(mx.cumsum(a.reshape(-1) if axis is None else a, axis=0 if axis is None else axis))

    def nonzero(self):
        return tuple(wrap(from_numpy(i.astype(np.int64))) for i in np.nonzero(to_numpy(self.a)))

    # -- indexing ----------------------------------------------------------------------

    def __getitem__(self, key):
        return wrap(self.a[_index(key)], _is_basic(key))

    def __setitem__(self, key, value) -> None:
        self.check_writable()
        value = unwrap(value)
        if (type(key) is MLXArray and key.a.dtype == mx.bool_ and key.a.shape == self.a.shape
                and not isinstance(value, mx.array)):  # a[mask] = scalar
            self.a = mx.where(key.a, value, self.a).astype(self.a.dtype)
            return
        if key is Ellipsis or (isinstance(key, slice) and key == slice(None)):
            value = mx.broadcast_to(mx.array(value, dtype=self.a.dtype) if not isinstance(value, mx.array)
                                    else value.astype(self.a.dtype), self.a.shape)
            self.a = value
            return
        a = self.a
        if isinstance(value, mx.array) and value.dtype != a.dtype:
            value = value.astype(a.dtype)
        a[_index(key)] = value
        self.a = a

    def check_writable(self) -> None:
        if self.derived:
            raise TypeError("MLX has no views: this array (or tensor) is a slice, reshape or transpose of "
                            "another, and writing into it in place would not reach the original. Write into "
                            "the original with an index (x[idx] = value) or use an out-of-place op.")

    def assign(self, value) -> "MLXArray":
        """``self[...] = value`` as NumPy's ``out=`` does it: same shape, this array's dtype."""
        self.check_writable()
        value = unwrap(value)
        value = value if isinstance(value, mx.array) else mx.array(value)
        if tuple(value.shape) != tuple(self.a.shape):
            value = mx.broadcast_to(value, self.a.shape)
        self.a = value.astype(self.a.dtype) if value.dtype != self.a.dtype else value
        return self

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # -- operators ---------------------------------------------------------------------

    def __neg__(self):
        return wrap(-self.a)

    def __pos__(self):
        return self

    def __abs__(self):
        return wrap(mx.abs(self.a))

    def __invert__(self):
        a = self.a
        return wrap(mx.logical_not(a) if a.dtype == mx.bool_ else mx.bitwise_invert(a))

    def __matmul__(self, other):
        return wrap(mx.matmul(self.a, unwrap(other)))

    def __rmatmul__(self, other):
        return wrap(mx.matmul(unwrap(other), self.a))

    def __eq__(self, other):
        return wrap(mx.equal(self.a, unwrap(other)))

    def __ne__(self, other):
        return wrap(mx.not_equal(self.a, unwrap(other)))

    __hash__ = None


def _binary(fn, reflected=False, inplace=False):
    if inplace:
        def op(self, other):
            result = fn(self.a, unwrap(other))
            if result.dtype != self.a.dtype:
                result = result.astype(self.a.dtype)
            if self.derived:  # ``x += y`` rebinds the name x: a slice or reshape just gets a new value
                return wrap(result)
            self.a = result
            return self
    elif reflected:
        def op(self, other):
            return wrap(fn(unwrap(other), self.a))
    else:
        def op(self, other):
            return wrap(fn(self.a, unwrap(other)))
    return op


def _logical_or_bitwise(logical, bitwise):
    def fn(a, b):
        if getattr(a, "dtype", None) == mx.bool_ and (getattr(b, "dtype", mx.bool_) == mx.bool_
                                                       or isinstance(b, bool)):
            return logical(a, b)
        return bitwise(a, b)
    return fn


_OPS = {
    "add": mx.add, "sub": mx.subtract, "mul": mx.multiply, "truediv": mx.divide,
    "floordiv": mx.floor_divide, "mod": mx.remainder, "pow": mx.power,
    "and": _logical_or_bitwise(mx.logical_and, mx.bitwise_and),
    "or": _logical_or_bitwise(mx.logical_or, mx.bitwise_or),
    "xor": _logical_or_bitwise(mx.not_equal, mx.bitwise_xor),
}
for _name, _fn in _OPS.items():
    setattr(MLXArray, f"__{_name}__", _binary(_fn))
    setattr(MLXArray, f"__r{_name}__", _binary(_fn, reflected=True))
    setattr(MLXArray, f"__i{_name}__", _binary(_fn, inplace=True))
for _name, _fn in {"lt": mx.less, "le": mx.less_equal, "gt": mx.greater, "ge": mx.greater_equal}.items():
    setattr(MLXArray, f"__{_name}__", _binary(_fn))
