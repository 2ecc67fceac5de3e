"""Property tests of softmax and log_softmax over random shapes, dims, dtypes and magnitudes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

MAGNITUDES = [1e-3, 1.0, 10.0, 100.0, 1e3, 1e4]
TOL = {"float32": 1e-5, "float64": 1e-12}


@st.composite
def cases(draw):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim)))
    dim = draw(st.integers(-ndim, ndim - 1))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    scale = draw(st.sampled_from(MAGNITUDES))
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    return x.astype(dtype), dim, dtype


def _quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_softmax_is_a_distribution_along_dim(case):
    x, dim, dtype = case
    y = _quietly(ember.softmax, ember.tensor(x), dim).numpy()
    assert y.shape == x.shape and y.dtype == x.dtype
    assert np.isfinite(y).all()
    assert (y >= 0).all() and (y <= 1).all()
    np.testing.assert_allclose(y.astype(np.float64).sum(axis=dim), 1.0, atol=TOL[dtype] * x.shape[dim])


@settings(max_examples=150, deadline=None)
@given(cases())
def test_log_softmax_is_log_of_softmax_where_finite(case):
    x, dim, dtype = case
    y = _quietly(ember.softmax, ember.tensor(x), dim).numpy().astype(np.float64)
    log_y = _quietly(ember.log_softmax, ember.tensor(x), dim).numpy().astype(np.float64)
    assert np.isfinite(log_y).all()
    assert (log_y <= TOL[dtype]).all()
    # Where softmax is a normal float, its log is finite and must agree with log_softmax.
    where = y > np.finfo(dtype).tiny
    np.testing.assert_allclose(log_y[where], np.log(y[where]), atol=10 * TOL[dtype], rtol=10 * TOL[dtype])


@settings(max_examples=100, deadline=None)
@given(cases(), st.floats(-100, 100))
def test_softmax_is_shift_invariant(case, shift):
    x, dim, dtype = case
    shift = float(np.asarray(shift, dtype=dtype))
    if np.abs(x).max() > 1e3 and dtype == "float32":
        shift = round(shift)  # keep x + shift exact where float32's spacing is coarse
    y = ember.softmax(ember.tensor(x), dim).numpy()
    y_shifted = ember.softmax(ember.tensor(x) + shift, dim).numpy()
    np.testing.assert_allclose(y_shifted, y, atol=1e-4 if dtype == "float32" else 1e-9)


@settings(max_examples=100, deadline=None)
@given(cases(), st.integers(0, 2**32 - 1))
def test_gradients_sum_to_zero_along_dim(case, seed):
    # Softmax rows sum to 1 and log_softmax rows log-sum-exp to 0, whatever the input, so the
    # gradient of either along dim is orthogonal to the all-ones vector.
    x, dim, dtype = case
    g = np.random.default_rng(seed).standard_normal(x.shape).astype(dtype)
    for fn in (ember.softmax, ember.log_softmax):
        t = ember.tensor(x, requires_grad=True)
        _quietly(fn, t, dim).backward(ember.tensor(g))
        grad = t.grad.numpy().astype(np.float64)
        assert np.isfinite(grad).all()
        scale = np.abs(g).astype(np.float64).sum(axis=dim) + 1
        np.testing.assert_array_less(np.abs(grad.sum(axis=dim)), 50 * TOL[dtype] * scale)
