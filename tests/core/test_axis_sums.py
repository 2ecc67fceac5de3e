"""ember.autograd.axis_sums: the BLAS matrix-vector sums equal NumPy's sums for every kind of array."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from ember.autograd.axis_sums import leading_sum, trailing_dot, trailing_sum

_RNG = np.random.default_rng(0)


def _arrays():
    base = _RNG.standard_normal((6, 5, 7))
    yield base.astype(np.float32)
    yield base  # float64
    yield base.astype(np.float16)
    yield base.astype(ml_dtypes.bfloat16)
    yield (base * 10).astype(np.int64)
    yield base.astype(np.float32).transpose(1, 0, 2)  # strided
    yield np.zeros((0, 5, 7), np.float32)
    yield np.zeros((6, 5, 0), np.float32)


def _tol(a):
    return dict(rtol=1e-2, atol=1e-1) if a.dtype.itemsize < 4 else dict(rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("a", list(_arrays()), ids=lambda a: f"{a.dtype}{a.shape}{'C' if a.flags.c_contiguous else 'S'}")
@pytest.mark.parametrize("keepdims", [False, True])
def test_sums_equal_numpys(a, keepdims):
    for count in (0, 1, 2, 3):
        got = leading_sum(a, count, keepdims=keepdims)
        want = a.sum(axis=tuple(range(count)), keepdims=keepdims)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), **_tol(a))
    got, want = trailing_sum(a, keepdims=keepdims), a.sum(axis=-1, keepdims=keepdims)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64), **_tol(a))


def test_float32_bias_sized_sums_are_as_accurate_as_numpys():
    g = _RNG.standard_normal((4160, 576)).astype(np.float32)
    exact = g.astype(np.float64).sum(0)
    assert np.abs(leading_sum(g, 1) - exact).max() <= 2 * np.abs(g.sum(0) - exact).max() + 1e-5


def test_trailing_dot():
    a, b = _RNG.standard_normal((2, 3, 5)).astype(np.float32), _RNG.standard_normal((2, 3, 5)).astype(np.float32)
    np.testing.assert_allclose(trailing_dot(a, b), (a * b).sum(-1), rtol=1e-6, atol=1e-6)
    assert trailing_dot(a, b).shape == (2, 3)
