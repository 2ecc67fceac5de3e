"""Specs for broadcasting arithmetic."""

import numpy as np

from ..opspec import OpSpec, register


def _pair(shape_a, shape_b, positive_b=False):
    def make(rng):
        b = rng.standard_normal(shape_b)
        if positive_b:
            b = np.abs(b) + 0.5
        return rng.standard_normal(shape_a), b
    return make


register(
    OpSpec("add", lambda m, a, b: a + b, np.add, _pair((3, 4), (4,))),
    OpSpec("add_scalar", lambda m, a: a + 2.5, lambda a: a + 2.5, lambda r: (r.standard_normal((2, 3)),)),
    OpSpec("radd_scalar", lambda m, a: 1.5 + a, lambda a: 1.5 + a, lambda r: (r.standard_normal((2, 3)),)),
    OpSpec("sub", lambda m, a, b: a - b, np.subtract, _pair((2, 1, 4), (3, 1))),
    OpSpec("rsub_scalar", lambda m, a: 1.0 - a, lambda a: 1.0 - a, lambda r: (r.standard_normal((5,)),)),
    OpSpec("mul", lambda m, a, b: a * b, np.multiply, _pair((3, 4), (3, 1))),
    OpSpec("div", lambda m, a, b: a / b, np.divide, _pair((3, 4), (4,), positive_b=True)),
    OpSpec("rdiv_scalar", lambda m, a: 2.0 / a, lambda a: 2.0 / a,
           lambda r: (np.abs(r.standard_normal((4,))) + 0.5,)),
    OpSpec("pow_scalar", lambda m, a: a ** 3, lambda a: a ** 3, lambda r: (r.standard_normal((3, 2)),)),
    OpSpec("pow_tensor", lambda m, a, b: a ** b, np.power,
           lambda r: (np.abs(r.standard_normal((3, 2))) + 0.5, r.standard_normal((2,)))),
    OpSpec("neg", lambda m, a: -a, np.negative, lambda r: (r.standard_normal((3,)),)),
)
