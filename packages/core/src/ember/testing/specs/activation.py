"""Specs for activations, clamp, maximum, minimum and where."""

import math

import numpy as np

from ..opspec import OpSpec, register

_erf = np.vectorize(math.erf, otypes=[float])


def _f(m, name):
    """``m.<name>``, or ``torch.nn.functional.<name>`` for activations torch keeps only there."""
    fn = getattr(m, name, None)
    return fn if fn is not None else getattr(m.nn.functional, name)


def _away_from(*kinks, shape=(3, 4), low=-3.0, high=3.0):
    """Uniform values at least 0.05 away from each kink (finite differences can't cross one)."""
    def make(r):
        x = r.uniform(low, high, shape)
        for k in kinks:
            near = np.abs(x - k) < 0.05
            x = np.where(near, k + np.where(x >= k, 0.05, -0.05) + (x - k), x)
        return (x,)
    return make


def _softplus(beta=1.0, threshold=20.0):
    return lambda x: np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _ties(shape_a, shape_b):
    """Values on a coarse grid, so that many pairs are equal (max/min split ties 50/50)."""
    return lambda r: (np.round(r.standard_normal(shape_a) * 2) / 2, np.round(r.standard_normal(shape_b) * 2) / 2)


def _clamp_tensors(r):
    x = r.standard_normal((3, 4))
    lo = r.uniform(-1.0, 0.0, (4,))
    hi = np.concatenate([r.uniform(0.2, 1.0, (3,)), [-1.5]])  # the last column has min > max
    return x, lo, hi


def _where_inputs(r):
    return r.standard_normal((3, 4)) > 0, r.standard_normal((3, 4)), r.standard_normal((4,))


register(
    OpSpec("relu", lambda m, x: m.relu(x), lambda x: np.maximum(x, 0), _away_from(0.0)),
    OpSpec("relu_method", lambda m, x: x.relu(), lambda x: np.maximum(x, 0), _away_from(0.0, shape=(5,))),
    OpSpec("relu6", lambda m, x: _f(m, "relu6")(x), lambda x: np.clip(x, 0, 6), _away_from(0.0, 6.0, low=-3, high=9)),
    OpSpec("gelu", lambda m, x: _f(m, "gelu")(x), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
           lambda r: (np.concatenate([r.standard_normal(12) * 2, [-9.0, -6.0, -0.6, 0.6, 5.0]]),)),
    OpSpec("gelu_tanh", lambda m, x: _f(m, "gelu")(x, approximate="tanh"), _gelu_tanh,
           lambda r: (r.standard_normal((3, 4)) * 2,)),
    OpSpec("silu", lambda m, x: _f(m, "silu")(x), lambda x: x / (1 + np.exp(-x)),
           lambda r: (r.standard_normal((3, 4)) * 3,)),
    OpSpec("softplus", lambda m, x: _f(m, "softplus")(x), _softplus(),
           lambda r: (np.concatenate([r.standard_normal(10) * 3, [-40.0, -25.0, 25.0, 40.0]]),)),
    OpSpec("softplus_beta", lambda m, x: _f(m, "softplus")(x, beta=2.0, threshold=5.0), _softplus(2.0, 5.0),
           _away_from(2.5, shape=(4, 5), low=-4, high=6)),
    OpSpec("leaky_relu", lambda m, x: _f(m, "leaky_relu")(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x),
           _away_from(0.0)),
    OpSpec("leaky_relu_default", lambda m, x: _f(m, "leaky_relu")(x), lambda x: np.where(x > 0, x, 0.01 * x),
           _away_from(0.0, shape=(6,))),
    OpSpec("elu", lambda m, x: _f(m, "elu")(x), lambda x: np.where(x > 0, x, np.expm1(x)), _away_from(0.0)),
    OpSpec("elu_alpha", lambda m, x: _f(m, "elu")(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
           _away_from(0.0)),
    OpSpec("hardtanh", lambda m, x: _f(m, "hardtanh")(x), lambda x: np.clip(x, -1, 1), _away_from(-1.0, 1.0)),
    OpSpec("clamp", lambda m, x: m.clamp(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5), _away_from(-0.5, 0.5)),
    OpSpec("clamp_min", lambda m, x: m.clamp(x, min=0.25), lambda x: np.maximum(x, 0.25), _away_from(0.25)),
    OpSpec("clamp_max_method", lambda m, x: x.clamp(max=0.25), lambda x: np.minimum(x, 0.25), _away_from(0.25)),
    OpSpec("clip", lambda m, x: m.clip(x, -1.0, 1.0), lambda x: np.clip(x, -1, 1), _away_from(-1.0, 1.0)),
    OpSpec("clamp_tensor", lambda m, x, lo, hi: m.clamp(x, lo, hi), lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
           _clamp_tensors),
    OpSpec("maximum", lambda m, a, b: m.maximum(a, b), np.maximum, _ties((3, 4), (4,))),
    OpSpec("minimum", lambda m, a, b: m.minimum(a, b), np.minimum, _ties((3, 4), (3, 1))),
    OpSpec("maximum_scalar", lambda m, a: m.maximum(a, 0.5), lambda a: np.maximum(a, 0.5), _away_from(0.5),
           torch=False),
    OpSpec("where", lambda m, c, a, b: m.where(c, a, b), np.where, _where_inputs),
    OpSpec("where_scalar", lambda m, c, a, b: m.where(c, a, 0.0), lambda c, a, b: np.where(c, a, 0.0),
           _where_inputs),
)
