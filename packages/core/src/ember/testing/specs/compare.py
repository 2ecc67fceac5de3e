"""Specs for comparisons and logic (no gradients: grad_inputs=())."""

import numpy as np

from ..opspec import OpSpec, register


def _ties(shape_a, shape_b):
    return lambda r: (np.round(r.standard_normal(shape_a)), np.round(r.standard_normal(shape_b)))


def _bools(r):
    return r.random((3, 4)) < 0.5, r.random((4,)) < 0.5


def _ints(r):
    return r.integers(0, 64, (3, 4)), r.integers(0, 64, (4,))


def _specials(r):
    return (np.array([0.0, -1.5, np.nan, np.inf, -np.inf, 3.0, np.nan]),)


register(
    OpSpec("eq", lambda m, a, b: a == b, np.equal, _ties((3, 4), (4,)), grad_inputs=()),
    OpSpec("ne", lambda m, a, b: a != b, np.not_equal, _ties((3, 4), (4,)), grad_inputs=()),
    OpSpec("lt", lambda m, a, b: a < b, np.less, _ties((3, 4), (3, 1)), grad_inputs=()),
    OpSpec("le", lambda m, a, b: m.le(a, b), np.less_equal, _ties((3, 4), (3, 1)), grad_inputs=()),
    OpSpec("gt", lambda m, a, b: m.gt(a, b), np.greater, _ties((2, 3), (3,)), grad_inputs=()),
    OpSpec("ge", lambda m, a, b: a >= b, np.greater_equal, _ties((2, 3), (3,)), grad_inputs=()),
    OpSpec("lt_scalar", lambda m, a: a < 0.5, lambda a: a < 0.5, lambda r: (r.standard_normal((5,)),),
           grad_inputs=()),
    OpSpec("gt_scalar_reflected", lambda m, a: 0.5 < a, lambda a: a > 0.5, lambda r: (r.standard_normal((5,)),),
           grad_inputs=()),
    OpSpec("eq_int", lambda m, a, b: m.eq(a, b), np.equal, lambda r: (r.integers(0, 3, (4, 3)),
                                                                     r.integers(0, 3, (3,))), grad_inputs=()),
    OpSpec("logical_and", lambda m, a, b: m.logical_and(a, b), np.logical_and, _bools, grad_inputs=()),
    OpSpec("logical_or", lambda m, a, b: a | b, np.logical_or, _bools, grad_inputs=()),
    OpSpec("logical_xor", lambda m, a, b: m.logical_xor(a, b), np.logical_xor, _bools, grad_inputs=()),
    OpSpec("logical_not", lambda m, a, b: m.logical_not(a), lambda a, b: np.logical_not(a), _bools,
           grad_inputs=()),
    OpSpec("bitwise_and", lambda m, a, b: a & b, np.bitwise_and, _ints, grad_inputs=()),
    OpSpec("bitwise_or", lambda m, a, b: m.bitwise_or(a, b), np.bitwise_or, _ints, grad_inputs=()),
    OpSpec("isnan", lambda m, x: m.isnan(x), np.isnan, _specials, grad_inputs=()),
    OpSpec("isinf", lambda m, x: m.isinf(x), np.isinf, _specials, grad_inputs=()),
    OpSpec("isfinite", lambda m, x: m.isfinite(x), np.isfinite, _specials, grad_inputs=()),
)
