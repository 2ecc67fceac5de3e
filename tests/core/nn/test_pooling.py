"""Pooling against torch.nn.functional and torch.nn: values, gradients (ties included), indices,
float64 and float32, gradcheck in float64, layers and reprs, and the errors for bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck

TF = torch.nn.functional
DTYPES = {"float64": (ember.float64, torch.float64, dict(atol=1e-12, rtol=1e-10)),
          "float32": (ember.float32, torch.float32, dict(atol=1e-6, rtol=1e-5))}


def _run(fe, ft, x, dtype="float64", seed=1):
    """Call both on the same input; compare outputs (and indices) and the input gradient."""
    e_dt, t_dt, tol = DTYPES[dtype]
    ex = ember.tensor(x, dtype=e_dt, requires_grad=True)
    tx = torch.tensor(x, dtype=t_dt, requires_grad=True)
    e_out, t_out = fe(ex), ft(tx)
    if isinstance(t_out, tuple):
        e_out, e_idx = e_out
        t_out, t_idx = t_out
        assert e_idx.dtype == ember.int64
        np.testing.assert_array_equal(e_idx.numpy(), t_idx.numpy())
    assert tuple(e_out.shape) == tuple(t_out.shape)
    assert e_out.dtype == e_dt
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), **tol, err_msg="forward")
    cot = np.random.default_rng(seed).standard_normal(tuple(t_out.shape))
    e_out.backward(ember.tensor(cot, dtype=e_dt))
    t_out.backward(torch.tensor(cot, dtype=t_dt))
    assert ex.grad.dtype == e_dt
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), **tol, err_msg="gradient")
    return e_out, ex.grad


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# -- max pooling --------------------------------------------------------------------------------

MAX2D = {
    "k2": dict(kernel_size=2),
    "k2_odd_input": dict(kernel_size=2, stride=2),
    "k3_s2_p1": dict(kernel_size=3, stride=2, padding=1),
    "k3_s1_p1_overlapping": dict(kernel_size=3, stride=1, padding=1),
    "non_square": dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    "dilation": dict(kernel_size=3, stride=1, dilation=2, padding=1),
    "dilation_tuple": dict(kernel_size=(2, 3), stride=(1, 2), dilation=(3, 1), padding=(1, 1)),
    "ceil_mode": dict(kernel_size=3, stride=2, ceil_mode=True),
    "ceil_mode_padded": dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
    "ceil_mode_k3_s2_p1": dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    "stride_larger_than_kernel": dict(kernel_size=2, stride=3),
    "whole_input": dict(kernel_size=(9, 8)),
}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(MAX2D))
def test_max_pool2d_matches_torch(name, dtype):
    kw = MAX2D[name]
    _run(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), _x((2, 3, 9, 8)), dtype)


@pytest.mark.parametrize("name", list(MAX2D))
def test_max_pool2d_indices_match_torch(name):
    kw = MAX2D[name]
    _run(lambda x: F.max_pool2d(x, return_indices=True, **kw),
         lambda x: TF.max_pool2d(x, return_indices=True, **kw), _x((2, 3, 9, 8)))


def test_max_pool2d_unbatched():
    out, _ = _run(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), _x((3, 6, 7)))
    assert out.shape == (3, 3, 3)


TIE_CASES = {
    "k2": dict(kernel_size=2),
    "k3_s1_p1_overlapping": dict(kernel_size=3, stride=1, padding=1),
    "k3_s2": dict(kernel_size=3, stride=2),
    "k2_s1_dilated": dict(kernel_size=2, stride=1, dilation=2),
}


@pytest.mark.parametrize("name", list(TIE_CASES))
def test_max_pool2d_ties_route_to_one_element_like_torch(name):
    """Integer-valued inputs tie everywhere: the gradient goes to exactly one element per window
    (the first maximum in row-major window order) and matches torch element for element."""
    kw = TIE_CASES[name]
    x = np.round(np.random.default_rng(0).standard_normal((2, 3, 8, 9)))
    _run(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), x)
    _run(lambda t: F.max_pool2d(t, return_indices=True, **kw),
         lambda t: TF.max_pool2d(t, return_indices=True, **kw), x)


def test_max_pool2d_constant_input_picks_first_element():
    x = ember.ones(1, 1, 4, 4, dtype=ember.float64, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0  # the top-left element of each 2x2 window
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)
    _run(lambda t: F.max_pool2d(t, 3, 1, 1), lambda t: TF.max_pool2d(t, 3, 1, 1), np.ones((1, 2, 5, 5)))


def test_max_pool2d_gradient_is_sum_of_routed_gradients():
    """Each output's gradient lands on one input element: the total is conserved and at most
    one element per (non-overlapping) window is non-zero."""
    x = ember.tensor(np.round(_x((2, 3, 8, 8)) * 2), dtype=ember.float64, requires_grad=True)
    out = F.max_pool2d(x, 2)
    cot = np.random.default_rng(2).uniform(1, 2, out.shape)
    out.backward(ember.tensor(cot, dtype=ember.float64))
    g = x.grad.numpy().reshape(2, 3, 4, 2, 4, 2)
    assert ((g != 0).sum(axis=(3, 5)) == 1).all()
    np.testing.assert_allclose(g.sum(axis=(3, 5)), cot)


def test_max_pool2d_nan_propagates_like_torch():
    x = _x((1, 2, 4, 4))
    x[0, 0, 0, 1] = np.nan
    x[0, 1, 2, 2] = x[0, 1, 3, 3] = np.nan
    ex = ember.tensor(x, requires_grad=True, dtype=ember.float64)
    tx = torch.tensor(x, requires_grad=True)
    e_out, t_out = F.max_pool2d(ex, 2), TF.max_pool2d(tx, 2)
    np.testing.assert_array_equal(e_out.detach().numpy(), t_out.detach().numpy())  # NaN == NaN positions
    e_out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_array_equal(ex.grad.numpy(), tx.grad.numpy())


MAX1D = {
    "k2": dict(kernel_size=2),
    "k3_s2_p1_ceil": dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    "dilated": dict(kernel_size=3, stride=1, dilation=2, padding=1),
}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(MAX1D))
def test_max_pool1d_matches_torch(name, dtype):
    kw = MAX1D[name]
    _run(lambda x: F.max_pool1d(x, return_indices=True, **kw), lambda x: TF.max_pool1d(x, return_indices=True, **kw),
         _x((2, 3, 11)), dtype)
    _run(lambda x: F.max_pool1d(x, **kw), lambda x: TF.max_pool1d(x, **kw), _x((3, 11)), dtype)


def test_max_pool2d_integer_input():
    x = ember.tensor([[[[1, 5, 2, 0], [3, 4, -7, 8]]]])
    out = F.max_pool2d(x, 2)
    assert out.dtype == ember.int64
    assert out.tolist() == [[[[5, 8]]]]
    assert F.max_pool2d(x, 2, padding=1).tolist() == [[[[1, 5, 0], [3, 4, 8]]]]


# -- average pooling ----------------------------------------------------------------------------

AVG2D = {
    "k2": dict(kernel_size=2),
    "k3_s2_p1": dict(kernel_size=3, stride=2, padding=1),
    "k3_s2_p1_exclude_pad": dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    "k3_s1_p1_overlapping": dict(kernel_size=3, stride=1, padding=1),
    "non_square": dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1)),
    "ceil_mode": dict(kernel_size=3, stride=2, ceil_mode=True),
    "ceil_mode_padded": dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
    "ceil_mode_padded_exclude_pad": dict(kernel_size=2, stride=2, padding=1, ceil_mode=True,
                                         count_include_pad=False),
    "ceil_mode_k3_s2_p1": dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    "divisor_override": dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1), divisor_override=5),
    "stride_larger_than_kernel": dict(kernel_size=2, stride=3),
}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(AVG2D))
def test_avg_pool2d_matches_torch(name, dtype):
    kw = AVG2D[name]
    _run(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), _x((2, 3, 9, 8)), dtype)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
                                dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)], ids=["k2", "exclude", "ceil"])
def test_avg_pool1d_matches_torch(kw, dtype):
    _run(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw), _x((2, 3, 11)), dtype)
    _run(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw), _x((3, 11)), dtype)


def test_avg_pool2d_unbatched():
    out, _ = _run(lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: TF.avg_pool2d(x, 3, 2, 1), _x((3, 7, 6)))
    assert out.shape == (3, 4, 3)


# -- adaptive average pooling -------------------------------------------------------------------

ADAPTIVE = [1, 2, 3, (1, 1), (3, 4), (5, None), (None, 3), (7, 3), (9, 8), 12, (2, 4)]


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("size", ADAPTIVE, ids=[str(s) for s in ADAPTIVE])
def test_adaptive_avg_pool2d_matches_torch(size, dtype):
    _run(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), _x((2, 3, 9, 8)),
         dtype)
    _run(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), _x((2, 3, 8, 8)),
         dtype)


@pytest.mark.parametrize("size", [1, 3, 4, 7, 15])
def test_adaptive_avg_pool1d_matches_torch(size):
    _run(lambda x: F.adaptive_avg_pool1d(x, size), lambda x: TF.adaptive_avg_pool1d(x, size), _x((2, 3, 12)))
    _run(lambda x: F.adaptive_avg_pool1d(x, size), lambda x: TF.adaptive_avg_pool1d(x, size), _x((3, 10)),
         "float32")


def test_global_average_pool_is_the_mean():
    x = ember.randn(4, 8, 5, 7)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).numpy()[:, :, 0, 0], x.numpy().mean(axis=(2, 3)),
                               rtol=1e-5, atol=1e-6)


def test_pooling_keeps_float32():
    x = ember.randn(2, 3, 8, 8, requires_grad=True)
    for out in (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 2, 1), F.adaptive_avg_pool2d(x, 3), F.adaptive_avg_pool2d(x, 2)):
        assert out._data.dtype == np.float32
        x.grad = None
        out.sum().backward()
        assert x.grad._data.dtype == np.float32


# -- gradcheck ----------------------------------------------------------------------------------

def _distinct(shape, seed=0):
    """Well-separated values (no near-ties), so max pooling is differentiable at the point."""
    n = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1
    return ember.tensor(values, dtype=ember.float64, requires_grad=True)


GRADCHECK = {
    "max_pool2d": lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    "max_pool2d_overlapping_dilated": lambda x: F.max_pool2d(x, 2, 1, dilation=2),
    "max_pool1d": lambda x: F.max_pool1d(x.flatten(2), 3, 2, 1),
    "avg_pool2d": lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    "avg_pool2d_overlapping": lambda x: F.avg_pool2d(x, (3, 2), 1, (1, 0)),
    "avg_pool1d": lambda x: F.avg_pool1d(x.flatten(2), 4, 3, 2),
    "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
    "adaptive_avg_pool2d_divisible": lambda x: F.adaptive_avg_pool2d(x, (5, 3)),
    "adaptive_avg_pool1d": lambda x: F.adaptive_avg_pool1d(x.flatten(2), 7),
}


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck(name):
    assert gradcheck(GRADCHECK[name], (_distinct((2, 2, 5, 6)),))


# -- layers -------------------------------------------------------------------------------------

LAYERS = {
    "max_pool2d": (lambda m: m.MaxPool2d(3, stride=2, padding=1), (2, 3, 9, 8)),
    "max_pool2d_ceil_dilated": (lambda m: m.MaxPool2d((2, 3), stride=(2, 1), dilation=(1, 2), ceil_mode=True),
                                (2, 3, 9, 8)),
    "max_pool1d": (lambda m: m.MaxPool1d(3, 2, 1), (2, 3, 10)),
    "avg_pool2d": (lambda m: m.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 9, 8)),
    "avg_pool2d_divisor": (lambda m: m.AvgPool2d(2, divisor_override=3), (2, 3, 8, 8)),
    "avg_pool1d": (lambda m: m.AvgPool1d(3, 2, 1, ceil_mode=True), (2, 3, 10)),
    "adaptive_avg_pool2d": (lambda m: m.AdaptiveAvgPool2d((3, None)), (2, 3, 9, 8)),
    "adaptive_avg_pool2d_global": (lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 9, 8)),
    "adaptive_avg_pool1d": (lambda m: m.AdaptiveAvgPool1d(4), (2, 3, 10)),
}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name, dtype):
    make, shape = LAYERS[name]
    e_layer, t_layer = make(nn), make(torch.nn)
    assert list(e_layer.parameters()) == []
    _run(e_layer, t_layer, _x(shape), dtype)


def test_max_pool_layer_return_indices():
    _run(nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True), _x((2, 3, 8, 8)))


@pytest.mark.parametrize("name", list(LAYERS))
def test_repr_matches_torch(name):
    make, _ = LAYERS[name]
    assert repr(make(nn)) == repr(make(torch.nn))


# -- errors -------------------------------------------------------------------------------------

def test_wrong_input_rank_names_the_shape():
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 4-d input \(N, C, H, W\).*got input of shape \(8, 8\)"):
        F.max_pool2d(ember.randn(8, 8), 2)
    with pytest.raises(ValueError, match=r"avg_pool1d: expected a 3-d input.*got input of shape \(1, 2, 3, 8\)"):
        F.avg_pool1d(ember.randn(1, 2, 3, 8), 2)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected a 4-d input.*\(2, 3, 4, 5, 6\)"):
        F.adaptive_avg_pool2d(ember.randn(2, 3, 4, 5, 6), 2)
    with pytest.raises(ValueError, match=r"expected a 4-d input.*got input of shape \(5,\)"):
        nn.MaxPool2d(2)(ember.randn(5))


def test_bad_arguments():
    x = ember.randn(1, 2, 8, 8)
    with pytest.raises(ValueError, match=r"padding should be at most half of the kernel size.*padding=\(2, 2\)"):
        F.max_pool2d(x, 3, padding=2, dilation=3)
    with pytest.raises(ValueError, match="padding should be at most half of the kernel size"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"input of spatial size \(8, 8\) is too small for kernel_size \(9, 9\)"):
        F.max_pool2d(x, 9)
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        F.avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="stride must be positive"):
        F.max_pool2d(x, 2, stride=0)
    with pytest.raises(TypeError, match=r"kernel_size must be an int or a tuple of 2 ints, got \(2, 2, 2\)"):
        F.max_pool2d(x, (2, 2, 2))
    with pytest.raises(ValueError, match="divisor_override must be a non-zero int"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size must be positive"):
        F.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(TypeError, match="floating-point input"):
        F.avg_pool2d(ember.ones(1, 1, 4, 4, dtype=ember.int64), 2)
    with pytest.raises(ValueError, match="non-zero channels and spatial sizes"):
        F.max_pool2d(ember.randn(1, 0, 4, 4), 2)
