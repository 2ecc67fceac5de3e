"""Specs for softmax, log_softmax and one_hot."""

import numpy as np

from ..opspec import OpSpec, register


def _softmax(dim):
    def ref(x):
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        return e / e.sum(axis=dim, keepdims=True)
    return ref


def _log_softmax(dim):
    def ref(x):
        z = x - x.max(axis=dim, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=dim, keepdims=True))
    return ref


def _large(r):
    """Magnitudes near 1e4, where a naive exp overflows (multiples of 1/64: exact in float32 there)."""
    x = np.round(r.standard_normal((3, 5)) * 3 * 64) / 64
    return (x + np.array([[1e4], [-1e4], [0.0]]),)


def _f(m, name):
    fn = getattr(m, name, None)
    return fn if fn is not None else getattr(m.nn.functional, name)


register(
    OpSpec("softmax", lambda m, x: m.softmax(x, -1), _softmax(-1), lambda r: (r.standard_normal((3, 5)),)),
    OpSpec("softmax_dim0", lambda m, x: m.softmax(x, 0), _softmax(0), lambda r: (r.standard_normal((4, 3)),)),
    OpSpec("softmax_3d", lambda m, x: x.softmax(1), _softmax(1), lambda r: (r.standard_normal((2, 3, 4)) * 2,)),
    OpSpec("softmax_large", lambda m, x: m.softmax(x, dim=1), _softmax(1), _large),
    OpSpec("log_softmax", lambda m, x: m.log_softmax(x, -1), _log_softmax(-1), lambda r: (r.standard_normal((3, 5)),)),
    OpSpec("log_softmax_dim0", lambda m, x: m.log_softmax(x, 0), _log_softmax(0),
           lambda r: (r.standard_normal((4, 3)),)),
    OpSpec("log_softmax_3d", lambda m, x: x.log_softmax(2), _log_softmax(2),
           lambda r: (r.standard_normal((2, 3, 4)) * 2,)),
    OpSpec("log_softmax_large", lambda m, x: m.log_softmax(x, dim=1), _log_softmax(1), _large),
    OpSpec("one_hot", lambda m, x: _f(m, "one_hot")(x, 4), lambda x: np.eye(4, dtype=np.int64)[x],
           lambda r: (r.integers(0, 4, (2, 3)),), grad_inputs=()),
)
