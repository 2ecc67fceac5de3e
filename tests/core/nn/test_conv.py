"""Convolutions against torch.nn.functional and torch.nn: values and gradients (input, weight,
bias) in float64 and float32, gradcheck in float64, layers with copied weights, PyTorch's
initialisation, reprs, and the errors for wrong shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
import ember.nn.functional.conv as conv_impl
from ember.autograd import gradcheck

TF = torch.nn.functional
# torch's own note that it copies the input for an even kernel with padding='same'.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
DTYPES = {"float64": (ember.float64, torch.float64, dict(atol=1e-10, rtol=1e-8)),
          "float32": (ember.float32, torch.float32, dict(atol=2e-5, rtol=2e-4))}


def _run(fe, ft, arrays, dtype, grad_inputs=None, seed=1):
    """Call ember's and torch's function on the same arrays; compare outputs and the gradient of
    every input w.r.t. a random cotangent."""
    e_dt, t_dt, tol = DTYPES[dtype]
    grad_inputs = range(len(arrays)) if grad_inputs is None else grad_inputs
    e_in = [None if a is None else ember.tensor(a, dtype=e_dt, requires_grad=i in grad_inputs)
            for i, a in enumerate(arrays)]
    t_in = [None if a is None else torch.tensor(a, dtype=t_dt, requires_grad=i in grad_inputs)
            for i, a in enumerate(arrays)]
    e_out, t_out = fe(*e_in), ft(*t_in)
    assert tuple(e_out.shape) == tuple(t_out.shape)
    assert e_out.dtype == e_dt
    scale = max(1.0, float(np.abs(t_out.detach().numpy()).max()))
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), atol=tol["atol"] * scale,
                               rtol=tol["rtol"], err_msg="forward")
    cot = np.random.default_rng(seed).standard_normal(tuple(t_out.shape))
    e_out.backward(ember.tensor(cot, dtype=e_dt))
    t_out.backward(torch.tensor(cot, dtype=t_dt))
    for i, (e, t) in enumerate(zip(e_in, t_in)):
        if t is None or not t.requires_grad:
            continue
        assert e.grad is not None, f"input {i} got no gradient"
        assert e.grad.dtype == e_dt
        g = t.grad.numpy()
        np.testing.assert_allclose(e.grad.numpy(), g, atol=tol["atol"] * max(1.0, float(np.abs(g).max())),
                                   rtol=tol["rtol"], err_msg=f"gradient of input {i}")
    return e_out


def _arrays(rng, x_shape, w_shape, bias: int | None):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape) / math.sqrt(np.prod(w_shape[1:]))
    b = None if bias is None else rng.standard_normal(bias)
    return [x, w, b]


# -- conv2d -----------------------------------------------------------------------------------

# (input shape, weight shape, kwargs)
CONV2D = {
    "basic": ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    "pad1": ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    "stride2_pad1": ((2, 3, 9, 8), (5, 3, 3, 3), dict(stride=2, padding=1)),
    "stride_tuple": ((2, 3, 9, 11), (4, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0))),
    "dilation": ((2, 3, 11, 10), (4, 3, 3, 3), dict(dilation=2, padding=2)),
    "dilation_tuple": ((1, 2, 9, 12), (3, 2, 3, 2), dict(dilation=(2, 3), stride=(1, 2), padding=(0, 2))),
    "non_square_kernel": ((2, 3, 8, 9), (4, 3, 1, 5), dict(padding=(0, 2))),
    "odd_sizes": ((3, 5, 13, 7), (7, 5, 4, 3), dict(stride=3, padding=(2, 1))),
    "same": ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding="same")),
    "same_even_kernel": ((2, 3, 7, 6), (4, 3, 4, 2), dict(padding="same")),
    "same_dilated": ((2, 3, 9, 8), (4, 3, 3, 3), dict(padding="same", dilation=(2, 3))),
    "valid": ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding="valid")),
    "groups": ((2, 6, 8, 7), (9, 2, 3, 3), dict(groups=3, padding=1)),
    "groups_strided": ((2, 4, 9, 9), (6, 2, 3, 2), dict(groups=2, stride=2, dilation=(1, 2))),
    "depthwise": ((2, 5, 8, 7), (5, 1, 3, 3), dict(groups=5, padding=1)),
    "depthwise_multiplier": ((2, 4, 8, 7), (8, 1, 3, 3), dict(groups=4, stride=2, padding=1)),
    "pointwise": ((2, 6, 5, 7), (4, 6, 1, 1), {}),
    "pointwise_strided": ((2, 6, 7, 8), (4, 6, 1, 1), dict(stride=2)),
    "pointwise_padded": ((2, 6, 5, 5), (4, 6, 1, 1), dict(padding=1)),
    "kernel_equals_input": ((2, 3, 4, 5), (2, 3, 4, 5), {}),
    "big_padding": ((1, 2, 3, 3), (3, 2, 2, 2), dict(padding=3)),
    "stride_larger_than_kernel": ((2, 3, 11, 10), (4, 3, 2, 2), dict(stride=4)),
    "single_pixel": ((3, 4, 1, 1), (2, 4, 1, 1), {}),
}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("name", list(CONV2D))
def test_conv2d_matches_torch(name, bias, dtype):
    x_shape, w_shape, kw = CONV2D[name]
    arrays = _arrays(np.random.default_rng(0), x_shape, w_shape, w_shape[0] if bias else None)
    _run(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), arrays, dtype)


def test_conv2d_unbatched_input():
    arrays = _arrays(np.random.default_rng(0), (3, 7, 6), (4, 3, 3, 3), 4)
    out = _run(lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1), arrays,
               "float64")
    assert out.shape == (4, 7, 6)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["input_only", "weight_only", "bias_only"])
def test_conv2d_gradient_of_one_input(which):
    arrays = _arrays(np.random.default_rng(0), (2, 3, 7, 6), (4, 3, 3, 3), 4)
    _run(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1),
         arrays, "float64", grad_inputs=[which])


CHUNKINGS = pytest.mark.parametrize("chunk_bytes", [1, 3000, 1 << 40], ids=["per_sample", "uneven", "one_chunk"])


@CHUNKINGS
@pytest.mark.parametrize("name", ["pad1", "stride2_pad1", "groups", "depthwise", "pointwise", "same_even_kernel"])
def test_conv2d_batch_chunking(name, chunk_bytes, monkeypatch):
    """The batch is processed in chunks sized by the columns matrix: every chunking (one sample at a
    time, uneven chunks with a remainder, everything at once) must give the same answer."""
    monkeypatch.setattr(conv_impl, "_HOST_CHUNK_BYTES", chunk_bytes)
    x_shape, w_shape, kw = CONV2D[name]
    arrays = _arrays(np.random.default_rng(0), (7, *x_shape[1:]), w_shape, w_shape[0])
    _run(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), arrays, "float64")


@CHUNKINGS
@pytest.mark.parametrize("name", ["basic", "stride2_pad1_outpad1", "groups"])
def test_conv_transpose2d_batch_chunking(name, chunk_bytes, monkeypatch):
    monkeypatch.setattr(conv_impl, "_HOST_CHUNK_BYTES", chunk_bytes)
    x_shape, w_shape, kw = CONV_T2D[name]
    arrays = _arrays(np.random.default_rng(0), (7, *x_shape[1:]), w_shape, w_shape[1] * kw.get("groups", 1))
    _run(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
         arrays, "float64")


def test_conv2d_realistic_size_float32():
    """A ResNet-sized layer (default chunking, several chunks) in float32."""
    arrays = _arrays(np.random.default_rng(0), (16, 32, 16, 16), (32, 32, 3, 3), 32)
    _run(lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1), arrays,
         "float32")
    arrays = _arrays(np.random.default_rng(1), (16, 32, 16, 16), (64, 32, 3, 3), 64)
    _run(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
         lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1), arrays, "float32")


def test_conv2d_float32_stays_float32():
    x = ember.randn(2, 3, 8, 8, requires_grad=True)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    out.sum().backward()
    assert out.dtype == ember.float32 and x.grad.dtype == ember.float32 and w.grad.dtype == ember.float32
    assert out._data.dtype == np.float32


def test_conv2d_float16_is_computed_in_float32():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)) / 3
    half = F.conv2d(ember.tensor(x, dtype=ember.float16), ember.tensor(w, dtype=ember.float16), padding=1)
    full = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    assert half.dtype == ember.float16
    np.testing.assert_allclose(half.numpy().astype(np.float64), full, atol=2e-2, rtol=2e-2)


def test_conv2d_without_grad_records_nothing():
    x = ember.randn(1, 2, 5, 5, requires_grad=True)
    w = ember.randn(3, 2, 3, 3, requires_grad=True)
    with ember.no_grad():
        out = F.conv2d(x, w)
    assert out.grad_fn is None and not out.requires_grad
    assert F.conv2d(x.detach(), w.detach()).grad_fn is None


# -- conv1d -----------------------------------------------------------------------------------

CONV1D = {
    "basic": ((2, 3, 10), (4, 3, 3), {}),
    "stride_pad_dil": ((3, 4, 11), (6, 4, 3), dict(stride=2, padding=1, dilation=2)),
    "same_even": ((2, 3, 9), (5, 3, 4), dict(padding="same")),
    "valid": ((2, 3, 9), (5, 3, 4), dict(padding="valid")),
    "groups": ((2, 6, 9), (4, 3, 5), dict(groups=2, padding=2)),
    "depthwise": ((2, 4, 9), (4, 1, 3), dict(groups=4, padding=1, stride=3)),
    "pointwise": ((2, 4, 9), (3, 4, 1), {}),
    "tuple_args": ((2, 3, 12), (2, 3, 3), dict(stride=(2,), padding=(1,), dilation=(1,))),
}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(CONV1D))
def test_conv1d_matches_torch(name, dtype):
    x_shape, w_shape, kw = CONV1D[name]
    arrays = _arrays(np.random.default_rng(0), x_shape, w_shape, w_shape[0])
    _run(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: TF.conv1d(x, w, b, **kw), arrays, dtype)


def test_conv1d_unbatched_input():
    arrays = _arrays(np.random.default_rng(0), (3, 10), (4, 3, 3), None)
    out = _run(lambda x, w, b: F.conv1d(x, w, padding=1), lambda x, w, b: TF.conv1d(x, w, padding=1), arrays,
               "float64")
    assert out.shape == (4, 10)


# -- transposed convolutions --------------------------------------------------------------------

# (input shape, weight shape (C_in, C_out/groups, k...), kwargs)
CONV_T2D = {
    "basic": ((2, 4, 5, 6), (4, 3, 3, 3), {}),
    "stride2": ((2, 4, 5, 6), (4, 3, 3, 3), dict(stride=2)),
    "stride2_pad1_outpad1": ((2, 4, 5, 6), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    "upsample_k4_s2_p1": ((2, 4, 5, 5), (4, 2, 4, 4), dict(stride=2, padding=1)),
    "non_square": ((2, 3, 4, 7), (3, 2, 2, 3), dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2))),
    "dilation": ((2, 3, 5, 4), (3, 2, 3, 3), dict(dilation=2, padding=1)),
    "dilation_outpad": ((1, 3, 4, 4), (3, 2, 3, 3), dict(dilation=3, output_padding=2)),
    "groups": ((2, 4, 5, 6), (4, 3, 3, 3), dict(groups=2, stride=2, output_padding=1)),
    "groups_dilation": ((2, 6, 4, 5), (6, 1, 3, 2), dict(groups=3, stride=2, dilation=2, output_padding=1)),
    "depthwise": ((2, 4, 5, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),
    "pointwise": ((2, 4, 5, 6), (4, 3, 1, 1), {}),
    "pointwise_strided": ((2, 4, 5, 6), (4, 3, 1, 1), dict(stride=2, output_padding=1)),
}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("name", list(CONV_T2D))
def test_conv_transpose2d_matches_torch(name, bias, dtype):
    x_shape, w_shape, kw = CONV_T2D[name]
    out_channels = w_shape[1] * kw.get("groups", 1)
    arrays = _arrays(np.random.default_rng(0), x_shape, w_shape, out_channels if bias else None)
    _run(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
         arrays, dtype)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same stride/padding/dilation/groups."""
    rng = np.random.default_rng(0)
    kw = dict(stride=2, padding=1, dilation=2, groups=2)
    x = ember.tensor(rng.standard_normal((2, 4, 9, 8)), dtype=ember.float64)
    w = ember.tensor(rng.standard_normal((6, 2, 3, 3)), dtype=ember.float64)
    y_shape = F.conv2d(x, w, **kw).shape
    y = ember.tensor(rng.standard_normal(y_shape), dtype=ember.float64)
    out_pad = tuple(xs - ((ys - 1) * 2 - 2 + 2 * 2 + 1) for xs, ys in zip(x.shape[2:], y_shape[2:]))
    back = F.conv_transpose2d(y, w, stride=2, padding=1, dilation=2, groups=2, output_padding=out_pad)
    assert back.shape == x.shape
    np.testing.assert_allclose((F.conv2d(x, w, **kw) * y).sum().item(), (x * back).sum().item(), rtol=1e-10)


CONV_T1D = {
    "basic": ((2, 4, 6), (4, 3, 3), {}),
    "stride_pad_outpad": ((2, 4, 5), (4, 3, 4), dict(stride=3, padding=1, output_padding=2)),
    "groups_dilation": ((2, 4, 5), (4, 2, 3), dict(groups=2, dilation=2, stride=2, output_padding=1)),
}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(CONV_T1D))
def test_conv_transpose1d_matches_torch(name, dtype):
    x_shape, w_shape, kw = CONV_T1D[name]
    arrays = _arrays(np.random.default_rng(0), x_shape, w_shape, w_shape[1] * kw.get("groups", 1))
    _run(lambda x, w, b: F.conv_transpose1d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose1d(x, w, b, **kw),
         arrays, dtype)


def test_conv_transpose_unbatched_input():
    arrays = _arrays(np.random.default_rng(0), (4, 5, 6), (4, 3, 3, 3), 3)
    out = _run(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2), lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2),
               arrays, "float64")
    assert out.shape == (3, 11, 13)


# -- gradcheck (finite differences, float64) ----------------------------------------------------

def _leaves(rng, *shapes):
    return [ember.tensor(rng.standard_normal(s), dtype=ember.float64, requires_grad=True) for s in shapes]


GRADCHECK = {
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
               [(2, 2, 5, 6), (3, 2, 3, 2), (3,)]),
    "conv2d_groups": (lambda x, w, b: F.conv2d(x, w, b, groups=2, padding=1), [(1, 4, 4, 4), (4, 2, 3, 3), (4,)]),
    "conv2d_depthwise": (lambda x, w, b: F.conv2d(x, w, b, groups=3, stride=2, padding=1),
                         [(2, 3, 5, 5), (6, 1, 3, 3), (6,)]),
    "conv2d_same": (lambda x, w, b: F.conv2d(x, w, b, padding="same"), [(1, 2, 4, 5), (2, 2, 2, 3), (2,)]),
    "conv1d": (lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2), [(2, 3, 9), (2, 3, 3), (2,)]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                         [(2, 3, 3, 3), (3, 2, 3, 3), (2,)]),
    "conv_transpose2d_groups": (lambda x, w, b: F.conv_transpose2d(x, w, b, groups=2, dilation=2),
                                [(1, 4, 3, 3), (4, 1, 2, 2), (2,)]),
    "conv_transpose1d": (lambda x, w, b: F.conv_transpose1d(x, w, b, stride=3, output_padding=1),
                         [(2, 2, 4), (2, 3, 2), (3,)]),
}


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck(name):
    fn, shapes = GRADCHECK[name]
    assert gradcheck(fn, _leaves(np.random.default_rng(0), *shapes))


# -- layers -------------------------------------------------------------------------------------

def _copy_weights(e_layer, t_layer):
    with ember.no_grad():
        e_layer.weight.copy_(ember.tensor(t_layer.weight.detach().numpy()))
        if t_layer.bias is not None:
            e_layer.bias.copy_(ember.tensor(t_layer.bias.detach().numpy()))


def _compare_layer(e_layer, t_layer, x_shape, dtype="float64", call=None, seed=0):
    e_dt, t_dt, tol = DTYPES[dtype]
    _copy_weights(e_layer, t_layer)
    e_layer.to(e_dt)
    t_layer.to(t_dt)
    x = np.random.default_rng(seed).standard_normal(x_shape)
    ex, tx = ember.tensor(x, dtype=e_dt, requires_grad=True), torch.tensor(x, dtype=t_dt, requires_grad=True)
    call = call or (lambda m, v: m(v))
    e_out, t_out = call(e_layer, ex), call(t_layer, tx)
    assert tuple(e_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), **tol)
    cot = np.random.default_rng(seed + 1).standard_normal(tuple(t_out.shape))
    e_out.backward(ember.tensor(cot, dtype=e_dt))
    t_out.backward(torch.tensor(cot, dtype=t_dt))
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(e_layer.weight.grad.numpy(), t_layer.weight.grad.numpy(), **tol)
    if t_layer.bias is not None:
        np.testing.assert_allclose(e_layer.bias.grad.numpy(), t_layer.bias.grad.numpy(), **tol)
    else:
        assert e_layer.bias is None


LAYERS = {
    "conv1d": (lambda m: m.Conv1d(3, 5, 3, stride=2, padding=1), (2, 3, 11)),
    "conv1d_same_nobias": (lambda m: m.Conv1d(3, 4, 4, padding="same", bias=False), (2, 3, 9)),
    "conv1d_reflect": (lambda m: m.Conv1d(3, 4, 3, padding=2, padding_mode="reflect"), (2, 3, 9)),
    "conv2d": (lambda m: m.Conv2d(3, 6, 3, padding=1), (2, 3, 8, 7)),
    "conv2d_strided_nobias": (lambda m: m.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), bias=False),
                              (2, 4, 9, 8)),
    "conv2d_dilated_groups": (lambda m: m.Conv2d(4, 6, 3, dilation=2, groups=2, padding=2), (2, 4, 8, 8)),
    "conv2d_depthwise": (lambda m: m.Conv2d(4, 4, 3, groups=4, padding=1), (2, 4, 6, 6)),
    "conv2d_same": (lambda m: m.Conv2d(3, 4, (4, 3), padding="same"), (2, 3, 7, 6)),
    "conv2d_reflect": (lambda m: m.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="reflect"), (2, 3, 6, 7)),
    "conv2d_replicate": (lambda m: m.Conv2d(3, 4, 3, padding=2, stride=2, padding_mode="replicate"), (2, 3, 6, 7)),
    "conv2d_circular": (lambda m: m.Conv2d(3, 4, 3, padding=1, padding_mode="circular"), (2, 3, 6, 7)),
    "conv2d_circular_same": (lambda m: m.Conv2d(2, 3, 4, padding="same", padding_mode="circular"), (1, 2, 6, 7)),
    "conv2d_unbatched": (lambda m: m.Conv2d(3, 4, 3), (3, 6, 7)),
    "conv_transpose1d": (lambda m: m.ConvTranspose1d(3, 4, 4, stride=2, padding=1), (2, 3, 7)),
    "conv_transpose2d": (lambda m: m.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 6)),
    "conv_transpose2d_groups_nobias": (lambda m: m.ConvTranspose2d(4, 6, 2, stride=2, groups=2, bias=False),
                                       (2, 4, 3, 5)),
}


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name, dtype):
    make, x_shape = LAYERS[name]
    _compare_layer(make(nn), make(torch.nn), x_shape, dtype)


def test_conv_transpose2d_output_size():
    e_layer = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1)
    t_layer = torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1)
    for size in [(9, 11), (10, 12), [2, 3, 10, 11]]:
        _compare_layer(e_layer, t_layer, (2, 4, 5, 6), call=lambda m, v: m(v, output_size=size))
        e_layer.zero_grad()
        t_layer.zero_grad()
    with pytest.raises(ValueError, match=r"valid sizes .* range from \(9, 11\) to \(10, 12\)"):
        e_layer(ember.ones(2, 4, 5, 6), output_size=(11, 11))


@pytest.mark.parametrize("make, fan_in, shape", [
    (lambda: nn.Conv2d(8, 16, 3), 8 * 9, (16, 8, 3, 3)),
    (lambda: nn.Conv2d(8, 16, (3, 5), groups=4), 2 * 15, (16, 2, 3, 5)),
    (lambda: nn.Conv1d(6, 12, 5), 6 * 5, (12, 6, 5)),
    # PyTorch computes a transposed conv's fan_in from weight.shape[1] (= out_channels / groups).
    (lambda: nn.ConvTranspose2d(16, 8, 3), 8 * 9, (16, 8, 3, 3)),
])
def test_default_init_is_pytorchs(make, fan_in, shape):
    """weight: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias: the same range."""
    ember.manual_seed(0)
    layer = make()
    assert tuple(layer.weight.shape) == shape
    bound = 1 / math.sqrt(fan_in)
    w = layer.weight.detach().numpy()
    assert np.abs(w).max() <= bound + 1e-7
    assert np.abs(w).max() > 0.9 * bound  # actually spans the range (not a narrower init)
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.15)
    b = layer.bias.detach().numpy()
    assert b.shape == (shape[1] * layer.groups if isinstance(layer, nn.ConvTranspose2d) else shape[0],)
    assert np.abs(b).max() <= bound + 1e-7
    assert layer.weight.requires_grad and layer.bias.requires_grad
    assert layer.weight.dtype == ember.float32


def test_layer_parameters_dtype_and_names():
    layer = nn.Conv2d(3, 4, 3, dtype=ember.float64)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.dtype == ember.float64
    assert [name for name, _ in nn.Conv2d(3, 4, 3, bias=False).named_parameters()] == ["weight"]


@pytest.mark.parametrize("make", [
    lambda m: m.Conv2d(3, 16, 3),
    lambda m: m.Conv2d(3, 16, 3, stride=2, padding=1, bias=False),
    lambda m: m.Conv2d(4, 8, (3, 5), stride=(1, 2), padding=(1, 2), dilation=2, groups=2),
    lambda m: m.Conv2d(3, 16, 3, padding="same", padding_mode="reflect"),
    lambda m: m.Conv2d(3, 16, 3, padding="valid"),
    lambda m: m.Conv1d(4, 8, 3, padding=1),
    lambda m: m.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
    lambda m: m.ConvTranspose1d(8, 4, 3, groups=2, bias=False),
])
def test_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


# -- errors -------------------------------------------------------------------------------------

def test_wrong_input_rank_names_the_shapes():
    w = ember.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-d input \(N, C, H, W\).*got input of shape \(3, 8\)"):
        F.conv2d(ember.randn(3, 8), w)
    with pytest.raises(ValueError, match=r"conv1d: expected a 3-d input.*got input of shape \(1, 2, 3, 8\)"):
        F.conv1d(ember.randn(1, 2, 3, 8), ember.randn(4, 2, 3))
    with pytest.raises(ValueError, match=r"expected a 4-d weight, got weight of shape \(4, 3, 3\)"):
        F.conv2d(ember.randn(1, 3, 8, 8), ember.randn(4, 3, 3))


def test_wrong_channels_names_expected_and_actual():
    with pytest.raises(ValueError, match=r"expected input with 3 channels \(weight of shape \(4, 3, 3, 3\), "
                                         r"groups=1\), got input of shape \(2, 5, 8, 8\)"):
        F.conv2d(ember.randn(2, 5, 8, 8), ember.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"expected input with 6 channels .*groups=2.*\(2, 3, 8, 8\)"):
        F.conv2d(ember.randn(2, 3, 8, 8), ember.randn(4, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"out_channels \(5.*divisible by groups \(2\)"):
        F.conv2d(ember.randn(2, 6, 8, 8), ember.randn(5, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: expected input with 4 channels.*\(2, 3, 5, 5\)"):
        F.conv_transpose2d(ember.randn(2, 3, 5, 5), ember.randn(4, 2, 3, 3))
    layer = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"expected input with 3 channels.*got input of shape \(1, 1, 28, 28\)"):
        layer(ember.randn(1, 1, 28, 28))


def test_other_argument_errors():
    x, w = ember.randn(1, 3, 8, 8), ember.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"expected bias of shape \(4,\), got \(3,\)"):
        F.conv2d(x, w, ember.randn(3))
    with pytest.raises(TypeError, match="same dtype"):
        F.conv2d(x.double(), w)
    with pytest.raises(TypeError, match="floating-point input"):
        F.conv2d(ember.ones(1, 3, 8, 8, dtype=ember.int64), w)
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="padding must be an int, a tuple, 'same' or 'valid'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(TypeError, match=r"stride must be an int or a tuple of 2 ints, got \(1, 2, 3\)"):
        F.conv2d(x, w, stride=(1, 2, 3))
    with pytest.raises(ValueError, match="stride must be positive"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        F.conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match=r"input of spatial size \(2, 2\) .* smaller than the dilated kernel \(3, 3\)"):
        F.conv2d(ember.randn(1, 3, 2, 2), w)
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(x, ember.randn(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="in_channels \\(3\\) must be divisible by groups \\(2\\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="only padding_mode='zeros'"):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="reflect padding of 3 needs an input size of at least 4"):
        nn.Conv2d(3, 4, 3, padding=3, padding_mode="reflect")(ember.randn(1, 3, 3, 8))
