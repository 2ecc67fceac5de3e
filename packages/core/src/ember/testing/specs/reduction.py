"""Specs for reductions."""

import numpy as np

from ..opspec import OpSpec, register


def _x(*shape):
    return lambda r: (r.standard_normal(shape),)


def _ties(r):
    """Values with pairs of ties at the extremes (finite differences give 1/2 each, as does the even split)."""
    x = r.standard_normal((3, 4))
    x[:, 1] = x[:, 0] = x.max(axis=1) + 1.0
    x[0, 3] = x[0, 2] = x[0].min() - 1.0
    x[1, 3] = x[1, 2] = x[1].min() - 1.0
    x[2, 3] = x[2, 2] = x[2].min() - 1.0
    return (x,)


def _with_zeros(r):
    x = r.standard_normal((3, 4))
    x[0, 1] = 0.0          # one zero in row 0
    x[1, 0] = x[1, 2] = 0.0  # two zeros in row 1
    return (x,)


def _bools(r):
    return (r.standard_normal((3, 4)) > 0,)


def _var(x, axis=None, ddof=1, keepdims=False):
    return np.var(x, axis=axis, ddof=ddof, keepdims=keepdims)


def _lse(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def _norm(x, p, axis=None, keepdims=False):
    a = np.abs(x)
    if p == np.inf:
        return a.max(axis=axis, keepdims=keepdims)
    if p == -np.inf:
        return a.min(axis=axis, keepdims=keepdims)
    return (a ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)


register(
    OpSpec("sum", lambda m, x: x.sum(), np.sum, _x(3, 4)),
    OpSpec("sum_dim", lambda m, x: x.sum(dim=1), lambda x: x.sum(axis=1), _x(3, 4)),
    OpSpec("sum_dims_keepdim", lambda m, x: m.sum(x, dim=(0, 2), keepdim=True),
           lambda x: x.sum(axis=(0, 2), keepdims=True), _x(2, 3, 4)),
    OpSpec("sum_neg_dim", lambda m, x: x.sum(-1), lambda x: x.sum(axis=-1), _x(2, 3, 4)),
    OpSpec("sum_int", lambda m, x: x.sum(dim=0), lambda x: x.sum(axis=0),
           lambda r: (r.integers(-5, 5, (3, 4)),)),
    OpSpec("mean", lambda m, x: x.mean(), np.mean, _x(3, 4)),
    OpSpec("mean_dim_keepdim", lambda m, x: x.mean(dim=(1,), keepdim=True),
           lambda x: x.mean(axis=1, keepdims=True), _x(3, 4)),
    OpSpec("var", lambda m, x: x.var(), lambda x: _var(x), _x(3, 4)),
    OpSpec("var_dim_correction0", lambda m, x: m.var(x, dim=1, correction=0),
           lambda x: _var(x, 1, 0), _x(3, 5)),
    OpSpec("var_unbiased_false_keepdim", lambda m, x: x.var(0, unbiased=False, keepdim=True),
           lambda x: _var(x, 0, 0, True), _x(4, 3)),
    OpSpec("std", lambda m, x: x.std(), lambda x: np.std(x, ddof=1), _x(3, 4)),
    OpSpec("std_dim_keepdim", lambda m, x: m.std(x, dim=(0, 2), keepdim=True),
           lambda x: np.std(x, axis=(0, 2), ddof=1, keepdims=True), _x(2, 3, 4)),
    OpSpec("max", lambda m, x: x.max(), np.max, _x(3, 4)),
    OpSpec("max_dim_values", lambda m, x: m.max(x, dim=1).values, lambda x: x.max(axis=1), _x(3, 4)),
    OpSpec("max_dim_indices", lambda m, x: m.max(x, dim=1).indices, lambda x: x.argmax(axis=1), _x(3, 4),
           grad_inputs=()),
    OpSpec("max_dim_keepdim", lambda m, x: x.max(dim=0, keepdim=True)[0],
           lambda x: x.max(axis=0, keepdims=True), _x(3, 4)),
    OpSpec("max_ties", lambda m, x: x.max(), np.max, _ties),
    OpSpec("min", lambda m, x: x.min(), np.min, _x(3, 4)),
    OpSpec("min_dim_values", lambda m, x: x.min(-1).values, lambda x: x.min(axis=-1), _x(2, 3, 4)),
    OpSpec("amax_ties", lambda m, x: x.amax(dim=1), lambda x: x.max(axis=1), _ties),
    OpSpec("amax_dims", lambda m, x: m.amax(x, dim=(0, 2), keepdim=True),
           lambda x: x.max(axis=(0, 2), keepdims=True), _x(2, 3, 4)),
    OpSpec("amin_ties", lambda m, x: x.amin(dim=1), lambda x: x.min(axis=1), _ties),
    OpSpec("argmax", lambda m, x: x.argmax(), np.argmax, _x(3, 4), grad_inputs=()),
    OpSpec("argmax_dim", lambda m, x: m.argmax(x, dim=1), lambda x: x.argmax(axis=1), _x(3, 4), grad_inputs=()),
    OpSpec("argmin_dim_keepdim", lambda m, x: x.argmin(dim=0, keepdim=True),
           lambda x: x.argmin(axis=0)[None], _x(3, 4), grad_inputs=()),
    OpSpec("prod", lambda m, x: x.prod(), np.prod, _x(2, 3)),
    OpSpec("prod_dim_zeros", lambda m, x: x.prod(1), lambda x: x.prod(axis=1), _with_zeros),
    OpSpec("prod_dim0_keepdim_zeros", lambda m, x: m.prod(x, 0, keepdim=True),
           lambda x: x.prod(axis=0, keepdims=True), _with_zeros),
    OpSpec("prod_all_zeros", lambda m, x: x.prod(), np.prod,
           lambda r: (np.array([[1.5, 0.0], [2.0, -0.5]]),)),
    OpSpec("logsumexp", lambda m, x: m.logsumexp(x, dim=1), lambda x: _lse(x, 1), _x(3, 4)),
    OpSpec("logsumexp_large", lambda m, x: x.logsumexp(0), lambda x: _lse(x, 0),
           lambda r: (1e4 + r.standard_normal((4, 3)),)),
    OpSpec("logsumexp_dims_keepdim", lambda m, x: x.logsumexp(dim=(0, 1), keepdim=True),
           lambda x: np.log(np.exp(x).sum(axis=(0, 1), keepdims=True)), _x(2, 3, 2)),
    OpSpec("cumsum", lambda m, x: x.cumsum(1), lambda x: x.cumsum(axis=1), _x(3, 4)),
    OpSpec("cumsum_dim0", lambda m, x: m.cumsum(x, dim=0), lambda x: x.cumsum(axis=0), _x(4, 2, 3)),
    OpSpec("norm", lambda m, x: x.norm(), lambda x: np.sqrt((x * x).sum()), _x(3, 4)),
    OpSpec("norm_dim_keepdim", lambda m, x: m.norm(x, dim=1, keepdim=True),
           lambda x: _norm(x, 2, 1, True), _x(3, 4)),
    OpSpec("norm_p1", lambda m, x: x.norm(p=1, dim=0), lambda x: _norm(x, 1, 0), _x(3, 4)),
    OpSpec("norm_p3", lambda m, x: x.norm(p=3, dim=(0, 1)), lambda x: _norm(x, 3, (0, 1)), _x(3, 4, 2)),
    OpSpec("norm_inf", lambda m, x: x.norm(p=float("inf"), dim=1), lambda x: _norm(x, np.inf, 1), _x(3, 4)),
    OpSpec("norm_ninf", lambda m, x: x.norm(p=float("-inf")), lambda x: _norm(x, -np.inf), _x(3, 4)),
    OpSpec("all", lambda m, x: x.all(), np.all, _bools),
    OpSpec("all_dim", lambda m, x: m.all(x, dim=1), lambda x: x.all(axis=1), _bools),
    OpSpec("any_dim_keepdim", lambda m, x: x.any(dim=0, keepdim=True), lambda x: x.any(axis=0, keepdims=True),
           _bools),
)
