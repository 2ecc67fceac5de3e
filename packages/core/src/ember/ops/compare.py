"""Comparisons and logic: eq, ne, lt, le, gt, ge, logical_*, bitwise_*, isnan, isinf, isfinite,
isclose, allclose, equal.

None has a gradient. Comparisons broadcast and give bool tensors; a Python number is compared
directly (no tensor is made for it), in the tensor's dtype as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import _SCALARS, Tensor
from ._operands import lift, operands

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite", "isclose",
           "allclose", "equal"]


class _Binary(Function):
    """``xp.<ufunc>(a, b)``; b is a tensor, or a Python number passed as ``scalar``."""

    differentiable = False
    ufunc = ""

    def forward(self, a, *b, scalar=None):
        return getattr(self.xp, self.ufunc)(a, b[0] if b else scalar)


class _Unary(Function):
    differentiable = False
    ufunc = ""

    def forward(self, a):
        return getattr(self.xp, self.ufunc)(a)


def _binary_op(name: str, ufunc: str) -> type:
    return type(name, (_Binary,), {"ufunc": ufunc})


Eq, Ne, Lt, Le, Gt, Ge = (_binary_op(n, u) for n, u in (("Eq", "equal"), ("Ne", "not_equal"), ("Lt", "less"),
                                                       ("Le", "less_equal"), ("Gt", "greater"),
                                                       ("Ge", "greater_equal")))
LogicalAnd, LogicalOr, LogicalXor = (_binary_op(n, u) for n, u in (("LogicalAnd", "logical_and"),
                                                                  ("LogicalOr", "logical_or"),
                                                                  ("LogicalXor", "logical_xor")))
BitwiseAnd, BitwiseOr, BitwiseXor = (_binary_op(n, u) for n, u in (("BitwiseAnd", "bitwise_and"),
                                                                  ("BitwiseOr", "bitwise_or"),
                                                                  ("BitwiseXor", "bitwise_xor")))
LogicalNot = type("LogicalNot", (_Unary,), {"ufunc": "logical_not"})
BitwiseNot = type("BitwiseNot", (_Unary,), {"ufunc": "invert"})
IsNan = type("IsNan", (_Unary,), {"ufunc": "isnan"})
IsInf = type("IsInf", (_Unary,), {"ufunc": "isinf"})
IsFinite = type("IsFinite", (_Unary,), {"ufunc": "isfinite"})


class IsClose(Function):
    differentiable = False

    def forward(self, a, b, rtol, atol, equal_nan):
        return self.xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _apply(cls, input, other, promote: bool = True):
    """Run a binary op: a Python number is passed through as is, tensors are brought to one dtype."""
    if isinstance(input, Tensor):
        if isinstance(other, _SCALARS):
            # A NumPy scalar would compare in its own dtype (float64); PyTorch uses the tensor's.
            return cls.apply(input, scalar=other.item() if isinstance(other, np.generic) else other)
        if isinstance(other, Tensor) and (not promote or other._data.dtype == input._data.dtype):
            return cls.apply(input, other)
    elif not isinstance(other, Tensor):
        raise TypeError(f"{cls.__name__.lower()}: expected a Tensor, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    if promote:
        return cls.apply(*operands(input, other))
    return cls.apply(*(x if isinstance(x, Tensor) else lift(x, other if x is input else input)
                       for x in (input, other)))


def eq(input, other):
    """``input == other``, elementwise, broadcasting; a bool tensor.

    Args:
        input: a tensor.
        other: a tensor or a number.

    >>> import ember
    >>> ember.eq(ember.tensor([1, 2, 3]), 2).tolist()
    [False, True, False]
    """
    return _apply(Eq, input, other)


def ne(input, other):
    """``input != other``, elementwise, broadcasting; a bool tensor (true where either is nan).

    Args:
        input: a tensor.
        other: a tensor or a number.

    >>> import ember
    >>> ember.ne(ember.tensor([1, 2, 3]), 2).tolist()
    [True, False, True]
    """
    return _apply(Ne, input, other)


def lt(input, other):
    """``input < other``, elementwise, broadcasting; a bool tensor.

    Args:
        input: a tensor.
        other: a tensor or a number.

    >>> import ember
    >>> ember.lt(ember.tensor([1.0, 2.0, 3.0]), 2.0).tolist()
    [True, False, False]
    """
    return _apply(Lt, input, other)


def le(input, other):
    """``input <= other``, elementwise, broadcasting; a bool tensor.

    Args:
        input: a tensor.
        other: a tensor or a number.

    >>> import ember
    >>> ember.le(ember.tensor([1.0, 2.0, 3.0]), 2.0).tolist()
    [True, True, False]
    """
    return _apply(Le, input, other)


def gt(input, other):
    """``input > other``, elementwise, broadcasting; a bool tensor.

    Args:
        input: a tensor.
        other: a tensor or a number.

    >>> import ember
    >>> ember.gt(ember.tensor([1.0, 2.0, 3.0]), 2.0).tolist()
    [False, False, True]
    """
    return _apply(Gt, input, other)


def ge(input, other):
    """``input >= other``, elementwise, broadcasting; a bool tensor.

    Args:
        input: a tensor.
        other: a tensor or a number.

    >>> import ember
    >>> ember.ge(ember.tensor([1.0, 2.0, 3.0]), 2.0).tolist()
    [False, True, True]
    """
    return _apply(Ge, input, other)


def logical_and(input, other):
    """``bool(input) and bool(other)``, elementwise (nonzero is true); a bool tensor.

    Args:
        input: a tensor of any dtype.
        other: a tensor or a number.

    >>> import ember
    >>> ember.logical_and(ember.tensor([True, True]), ember.tensor([True, False])).tolist()
    [True, False]
    """
    return _apply(LogicalAnd, input, other, promote=False)


def logical_or(input, other):
    """``bool(input) or bool(other)``, elementwise (nonzero is true); a bool tensor.

    Args:
        input: a tensor of any dtype.
        other: a tensor or a number.

    >>> import ember
    >>> ember.logical_or(ember.tensor([True, False]), ember.tensor([False, False])).tolist()
    [True, False]
    """
    return _apply(LogicalOr, input, other, promote=False)


def logical_xor(input, other):
    """``bool(input) != bool(other)``, elementwise (nonzero is true); a bool tensor.

    Args:
        input: a tensor of any dtype.
        other: a tensor or a number.

    >>> import ember
    >>> ember.logical_xor(ember.tensor([True, True]), ember.tensor([True, False])).tolist()
    [False, True]
    """
    return _apply(LogicalXor, input, other, promote=False)


def logical_not(input):
    """``not bool(x)``, elementwise (nonzero is true); a bool tensor.

    Args:
        input: a tensor of any dtype.

    >>> import ember
    >>> ember.logical_not(ember.tensor([True, False])).tolist()
    [False, True]
    """
    return LogicalNot.apply(input)


def _integer_operands(name: str, *values) -> None:
    for x in values:
        if isinstance(x, Tensor):
            if x._data.dtype.kind not in "biu":
                raise TypeError(f"{name} is only defined for integer and bool tensors, got dtype {x.dtype}")
        elif not isinstance(x, (int, np.integer, np.bool_)):
            raise TypeError(f"{name} is only defined for integer and bool operands, got {type(x).__name__}")


def bitwise_and(input, other):
    """Bitwise AND of integer (or bool) tensors, elementwise, broadcasting.

    Args:
        input: an integer or bool tensor.
        other: an integer or bool tensor, or a Python int.

    >>> import ember
    >>> ember.bitwise_and(ember.tensor([12, 10]), 6).tolist()
    [4, 2]
    """
    _integer_operands("bitwise_and", input, other)
    return _apply(BitwiseAnd, input, other)


def bitwise_or(input, other):
    """Bitwise OR of integer (or bool) tensors, elementwise, broadcasting.

    Args:
        input: an integer or bool tensor.
        other: an integer or bool tensor, or a Python int.

    >>> import ember
    >>> ember.bitwise_or(ember.tensor([12, 10]), 1).tolist()
    [13, 11]
    """
    _integer_operands("bitwise_or", input, other)
    return _apply(BitwiseOr, input, other)


def bitwise_xor(input, other):
    """Bitwise XOR of integer (or bool) tensors, elementwise, broadcasting.

    Args:
        input: an integer or bool tensor.
        other: an integer or bool tensor, or a Python int.

    >>> import ember
    >>> ember.bitwise_xor(ember.tensor([12, 10]), 6).tolist()
    [10, 12]
    """
    _integer_operands("bitwise_xor", input, other)
    return _apply(BitwiseXor, input, other)


def bitwise_not(input):
    """Bitwise NOT (``~x = -x - 1`` for signed integers; logical not for bool), elementwise.

    Args:
        input: an integer or bool tensor.

    >>> import ember
    >>> ember.bitwise_not(ember.tensor([0, 5])).tolist()
    [-1, -6]
    """
    _integer_operands("bitwise_not", input)
    return BitwiseNot.apply(input)


def isnan(input):
    """Where ``x`` is nan; a bool tensor (all false for integer tensors).

    Args:
        input: a tensor.

    >>> import ember
    >>> ember.isnan(ember.tensor([1.0, float("nan")])).tolist()
    [False, True]
    """
    return IsNan.apply(input)


def isinf(input):
    """Where ``x`` is ``+inf`` or ``-inf``; a bool tensor.

    Args:
        input: a tensor.

    >>> import ember
    >>> ember.isinf(ember.tensor([1.0, float("-inf"), float("nan")])).tolist()
    [False, True, False]
    """
    return IsInf.apply(input)


def isfinite(input):
    """Where ``x`` is neither inf nor nan; a bool tensor.

    Args:
        input: a tensor.

    >>> import ember
    >>> ember.isfinite(ember.tensor([1.0, float("inf"), float("nan")])).tolist()
    [True, False, False]
    """
    return IsFinite.apply(input)


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """``|input - other| <= atol + rtol * |other|``, elementwise, broadcasting; a bool tensor.

    Args:
        input: a tensor.
        other: a tensor or a number.
        rtol: relative tolerance.
        atol: absolute tolerance.
        equal_nan: count two nans as close.

    >>> import ember
    >>> ember.isclose(ember.tensor([1.0, 1.1]), 1.0).tolist()
    [True, False]
    """
    a, b = operands(input, other)
    return IsClose.apply(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether every element satisfies ``|input - other| <= atol + rtol * |other|`` (a Python bool).

    Args:
        input: a tensor.
        other: a tensor or a number (broadcasting).
        rtol: relative tolerance.
        atol: absolute tolerance.
        equal_nan: count two nans as close.

    >>> import ember
    >>> ember.allclose(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 2.0 + 1e-7]))
    True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input, other) -> bool:
    """Whether two tensors have the same shape and the same values (a Python bool).

    Args:
        input: a tensor.
        other: a tensor.

    >>> import ember
    >>> ember.equal(ember.tensor([1, 2]), ember.tensor([1, 2])), ember.equal(ember.tensor([1]), ember.tensor([1, 1]))
    (True, False)
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"equal: expected two tensors, got {type(input).__name__} and {type(other).__name__}")
    if input.shape != other.shape:
        return False
    return bool(eq(input, other)._data.all())
