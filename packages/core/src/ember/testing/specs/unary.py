"""Specs for elementwise math of one tensor (exp, log, trigonometry, sigmoid, erf, rounding)."""

import math

import numpy as np

from ..opspec import OpSpec, register

_erf = np.vectorize(math.erf, otypes=[float])


def _normal(shape, scale=1.0):
    return lambda r: (r.standard_normal(shape) * scale,)


def _positive(shape):
    return lambda r: (np.abs(r.standard_normal(shape)) + 0.5,)


def _nonzero(shape):
    """Values at least 0.1 away from 0 (abs, sign and reciprocal have a kink or pole there)."""
    def make(r):
        x = r.standard_normal(shape)
        return (np.sign(x) * (np.abs(x) + 0.1),)
    return make


def _grid(shape):
    """Multiples of 1/8 (exact in float32) with halves among them, for floor, ceil and round."""
    return lambda r: (np.round(r.standard_normal(shape) * 8) / 8 + np.where(r.random(shape) < 0.5, 0.0, 0.5),)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


register(
    OpSpec("exp", lambda m, x: m.exp(x), np.exp, _normal((3, 4))),
    OpSpec("exp_method", lambda m, x: x.exp(), np.exp, _normal((5,))),
    # Integer tensors become the default dtype (float32) whatever the test's float dtype is.
    OpSpec("exp_int", lambda m, x: m.exp(x), lambda x: np.exp(x.astype(np.float32)).astype(np.float64),
           lambda r: (r.integers(-3, 4, (6,)),), grad_inputs=(), torch=False),
    OpSpec("log", lambda m, x: m.log(x), np.log, _positive((3, 4))),
    OpSpec("log1p", lambda m, x: m.log1p(x), np.log1p, lambda r: (r.uniform(-0.5, 2.0, (4, 3)),)),
    OpSpec("expm1", lambda m, x: m.expm1(x), np.expm1, _normal((3, 4))),
    OpSpec("sqrt", lambda m, x: m.sqrt(x), np.sqrt, _positive((3, 4))),
    OpSpec("rsqrt", lambda m, x: m.rsqrt(x), lambda x: 1 / np.sqrt(x), _positive((3, 4))),
    OpSpec("sin", lambda m, x: m.sin(x), np.sin, _normal((3, 4), 2.0)),
    OpSpec("cos", lambda m, x: m.cos(x), np.cos, _normal((3, 4), 2.0)),
    OpSpec("tanh", lambda m, x: m.tanh(x), np.tanh, _normal((3, 4), 2.0)),
    OpSpec("sigmoid", lambda m, x: m.sigmoid(x), _sigmoid, _normal((3, 4), 3.0)),
    OpSpec("sigmoid_method", lambda m, x: x.sigmoid(), _sigmoid, _normal((2, 3), 3.0)),
    OpSpec("erf", lambda m, x: m.erf(x), _erf,
           lambda r: (np.concatenate([r.standard_normal(10), [0.0, 0.3, -0.46, 0.47, -3.9, 4.1, 6.0, -30.0]]),)),
    OpSpec("abs", lambda m, x: m.abs(x), np.abs, _nonzero((3, 4))),
    OpSpec("abs_operator", lambda m, x: abs(x), np.abs, _nonzero((5,))),
    OpSpec("reciprocal", lambda m, x: m.reciprocal(x), lambda x: 1 / x, _nonzero((3, 4))),
    OpSpec("sign", lambda m, x: m.sign(x), np.sign,
           lambda r: (np.concatenate([r.standard_normal(6), [0.0]]),), grad_inputs=()),
    OpSpec("floor", lambda m, x: m.floor(x), np.floor, _grid((3, 4)), grad_inputs=()),
    OpSpec("ceil", lambda m, x: m.ceil(x), np.ceil, _grid((3, 4)), grad_inputs=()),
    OpSpec("round", lambda m, x: m.round(x), np.round, _grid((3, 4)), grad_inputs=()),
    OpSpec("round_decimals", lambda m, x: m.round(x, decimals=2), lambda x: np.round(x, 2),
           _normal((3, 4), 3.0), grad_inputs=()),
    OpSpec("floor_int", lambda m, x: m.floor(x), lambda x: x, lambda r: (r.integers(-5, 5, (4,)),), grad_inputs=()),
)
