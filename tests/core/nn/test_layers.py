"""Every layer against torch.nn with the same weights: outputs, input gradients and parameter
gradients in float64 and float32; gradcheck of the functional primitives in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck
from ember.ops import gelu_float32

from ._helpers import assert_close, compare_module

DT = ["float64", "float32"]


def rng(seed=0):
    return np.random.default_rng(seed)


def T(a, requires_grad=True):
    return ember.tensor(np.asarray(a, dtype=np.float64), dtype=ember.float64, requires_grad=requires_grad)


# -- layers with parameters ---------------------------------------------------------------

PARAM_LAYERS = {
    "linear": (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), [(2, 4, 5)]),
    "linear_1d": (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), [(5,)]),
    "linear_nobias": (lambda: nn.Linear(5, 3, bias=False), lambda: torch.nn.Linear(5, 3, bias=False), [(7, 5)]),
    "layernorm": (lambda: nn.LayerNorm(6), lambda: torch.nn.LayerNorm(6), [(2, 3, 6)]),
    "layernorm_2d": (lambda: nn.LayerNorm((3, 6)), lambda: torch.nn.LayerNorm((3, 6)), [(2, 3, 6)]),
    "layernorm_nobias": (lambda: nn.LayerNorm(6, bias=False), lambda: torch.nn.LayerNorm(6, bias=False), [(4, 6)]),
    "layernorm_noaffine": (lambda: nn.LayerNorm(6, elementwise_affine=False),
                           lambda: torch.nn.LayerNorm(6, elementwise_affine=False), [(4, 6)]),
    "rmsnorm": (lambda: nn.RMSNorm(6), lambda: torch.nn.RMSNorm(6), [(2, 3, 6)]),
    "rmsnorm_eps": (lambda: nn.RMSNorm((3, 6), eps=1e-6), lambda: torch.nn.RMSNorm((3, 6), eps=1e-6), [(2, 3, 6)]),
    "batchnorm1d_2d": (lambda: nn.BatchNorm1d(4), lambda: torch.nn.BatchNorm1d(4), [(8, 4)]),
    "batchnorm1d_3d": (lambda: nn.BatchNorm1d(4), lambda: torch.nn.BatchNorm1d(4), [(3, 4, 5)]),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), [(2, 3, 4, 5)]),
    "batchnorm2d_noaffine": (lambda: nn.BatchNorm2d(3, affine=False), lambda: torch.nn.BatchNorm2d(3, affine=False),
                             [(2, 3, 4, 5)]),
    "batchnorm_nostats": (lambda: nn.BatchNorm1d(4, track_running_stats=False),
                          lambda: torch.nn.BatchNorm1d(4, track_running_stats=False), [(6, 4)]),
    "groupnorm": (lambda: nn.GroupNorm(2, 6), lambda: torch.nn.GroupNorm(2, 6), [(3, 6, 5)]),
    "groupnorm_4d": (lambda: nn.GroupNorm(3, 6), lambda: torch.nn.GroupNorm(3, 6), [(2, 6, 3, 4)]),
    "groupnorm_noaffine": (lambda: nn.GroupNorm(1, 4, affine=False), lambda: torch.nn.GroupNorm(1, 4, affine=False),
                           [(2, 4, 3)]),
}


def _randomise(t_mod, seed=1):
    """Non-trivial weights (norms start at ones/zeros, which would hide bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in t_mod.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("name", list(PARAM_LAYERS))
def test_layer_matches_torch(name, dtype):
    make_e, make_t, shapes = PARAM_LAYERS[name]
    e_mod, t_mod = make_e(), make_t()
    _randomise(t_mod)
    arrays = [rng(2).standard_normal(s) * 2 + 0.5 for s in shapes]
    compare_module(e_mod, t_mod, arrays, dtype)


@pytest.mark.parametrize("dtype", DT)
def test_batchnorm_running_stats_and_eval(dtype):
    e_mod, t_mod = nn.BatchNorm2d(3, momentum=0.3), torch.nn.BatchNorm2d(3, momentum=0.3)
    _randomise(t_mod)
    for step in range(3):
        x = rng(step).standard_normal((4, 3, 2, 5)) * 3 + 1
        if step == 0:
            compare_module(e_mod, t_mod, [x], dtype)
        else:
            e_mod(ember.tensor(x, dtype=e_mod.weight.dtype))
            t_mod(torch.tensor(x, dtype=t_mod.weight.dtype))
    assert_close(e_mod.running_mean, t_mod.running_mean, dtype)
    assert_close(e_mod.running_var, t_mod.running_var, dtype)
    assert e_mod.num_batches_tracked.item() == t_mod.num_batches_tracked.item() == 3
    e_mod.eval()
    t_mod.eval()
    x = rng(9).standard_normal((2, 3, 2, 5))
    from ._helpers import DTYPES

    e_x = ember.tensor(x, dtype=DTYPES[dtype][0], requires_grad=True)
    t_x = torch.tensor(x, dtype=DTYPES[dtype][1], requires_grad=True)
    e_y, t_y = e_mod(e_x), t_mod(t_x)
    assert_close(e_y, t_y, dtype)
    cot = rng(3).standard_normal(x.shape)
    e_y.backward(ember.tensor(cot, dtype=DTYPES[dtype][0]))
    t_y.backward(torch.tensor(cot, dtype=DTYPES[dtype][1]))
    assert_close(e_x.grad, t_x.grad, dtype)
    assert_close(e_mod.weight.grad, t_mod.weight.grad, dtype)
    # eval does not touch the running statistics
    before = e_mod.running_mean.numpy().copy()
    e_mod(e_x.detach())
    np.testing.assert_array_equal(e_mod.running_mean.numpy(), before)


def test_batchnorm_cumulative_momentum():
    e_mod, t_mod = nn.BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    for step in range(4):
        x = rng(step).standard_normal((5, 3)) + step
        e_mod(ember.tensor(x))
        t_mod(torch.tensor(x, dtype=torch.float32))
    assert_close(e_mod.running_mean, t_mod.running_mean, "float32")
    assert_close(e_mod.running_var, t_mod.running_var, "float32")


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(ember.ones(1, 3))
    with pytest.raises(ValueError, match="4-D"):
        nn.BatchNorm2d(3)(ember.ones(2, 3))
    with pytest.raises(ValueError, match="channels"):
        nn.BatchNorm1d(3)(ember.ones(2, 4))


@pytest.mark.parametrize("dtype", DT)
def test_embedding_matches_torch(dtype):
    e_mod, t_mod = nn.Embedding(10, 4, padding_idx=1), torch.nn.Embedding(10, 4, padding_idx=1)
    idx = np.array([[1, 2, 3, 2], [9, 1, 2, 2]])
    from ._helpers import DTYPES, load_from_torch

    load_from_torch(e_mod, t_mod)
    e_mod.to(DTYPES[dtype][0])
    t_mod.to(DTYPES[dtype][1])
    e_y, t_y = e_mod(ember.tensor(idx)), t_mod(torch.tensor(idx))
    assert_close(e_y, t_y, dtype)
    cot = rng().standard_normal(e_y.shape)
    e_y.backward(ember.tensor(cot, dtype=DTYPES[dtype][0]))
    t_y.backward(torch.tensor(cot, dtype=DTYPES[dtype][1]))
    assert_close(e_mod.weight.grad, t_mod.weight.grad, dtype)
    assert not np.any(e_mod.weight.grad.numpy()[1])  # padding row: no gradient


def test_embedding_init_padding_and_errors():
    ember.manual_seed(0)
    emb = nn.Embedding(1000, 8, padding_idx=-1)
    w = emb.weight.detach().numpy()
    assert emb.padding_idx == 999 and not np.any(w[999])
    assert abs(w[:999].std() - 1) < 0.05 and abs(w[:999].mean()) < 0.05
    with pytest.raises(IndexError, match="out of range"):
        emb(ember.tensor([1000]))
    with pytest.raises(TypeError, match="integer"):
        emb(ember.tensor([1.0]))


def test_embedding_repeated_indices_accumulate():
    w = ember.zeros(5, 3, requires_grad=True)
    idx = ember.tensor([0, 3, 3, 3, 0, 4])
    F.embedding(idx, w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [2, 0, 0, 3, 1])


def test_embedding_gradient_sums_runs_of_every_length():
    """Indices repeated 1 to 40 times (a padding token, frequent words) in shuffled order: the
    weight gradient equals np.add.at's."""
    r = rng(3)
    idx = np.concatenate([np.full(count, row) for row, count in enumerate(r.integers(1, 41, 60))])
    idx = r.permutation(np.concatenate([idx, r.integers(60, 500, 300)]))
    g = r.standard_normal((idx.size, 6))
    w = ember.zeros(500, 6, dtype=ember.float64, requires_grad=True)
    F.embedding(ember.tensor(idx), w).backward(ember.tensor(g))
    expected = np.zeros((500, 6))
    np.add.at(expected, idx, g)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_embedding_from_pretrained_and_max_norm():
    table = ember.tensor([[3.0, 4.0], [0.3, 0.4]])
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    emb2 = nn.Embedding(2, 2, max_norm=1.0, _weight=table.clone())
    out = emb2(ember.tensor([0, 1]))
    np.testing.assert_allclose(out.detach().numpy(), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-5)
    np.testing.assert_allclose(emb2.weight.detach().numpy()[0], [0.6, 0.8], rtol=1e-5)  # renormalised in place


@pytest.mark.parametrize("dtype", DT)
def test_swiglu_matches_reference(dtype):
    ffn = nn.SwiGLU(6, 10)
    t_w = {k: torch.tensor(v.detach().numpy()) for k, v in ffn.state_dict().items()}

    class Ref(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = torch.nn.Linear(6, 10, bias=False)
            self.w3 = torch.nn.Linear(6, 10, bias=False)
            self.w2 = torch.nn.Linear(10, 6, bias=False)

        def forward(self, x):
            return self.w2(torch.nn.functional.silu(self.w1(x)) * self.w3(x))

    ref = Ref()
    ref.load_state_dict(t_w)
    compare_module(ffn, ref, [rng().standard_normal((2, 3, 6))], dtype)


# -- parameter-free layers --------------------------------------------------------------------

ACTIVATIONS = {
    "ReLU": (nn.ReLU(), torch.nn.ReLU()),
    "GELU": (nn.GELU(), torch.nn.GELU()),
    "GELU_tanh": (nn.GELU("tanh"), torch.nn.GELU("tanh")),
    "SiLU": (nn.SiLU(), torch.nn.SiLU()),
    "Sigmoid": (nn.Sigmoid(), torch.nn.Sigmoid()),
    "Tanh": (nn.Tanh(), torch.nn.Tanh()),
    "Softmax": (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
    "Softmax_dim1": (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
    "LogSoftmax": (nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
    "Softmin": (nn.Softmin(dim=-1), torch.nn.Softmin(dim=-1)),
    "LeakyReLU": (nn.LeakyReLU(0.1), torch.nn.LeakyReLU(0.1)),
    "ELU": (nn.ELU(0.7), torch.nn.ELU(0.7)),
    "SELU": (nn.SELU(), torch.nn.SELU()),
    "CELU": (nn.CELU(0.7), torch.nn.CELU(0.7)),
    "Hardtanh": (nn.Hardtanh(-0.5, 1.5), torch.nn.Hardtanh(-0.5, 1.5)),
    "ReLU6": (nn.ReLU6(), torch.nn.ReLU6()),
    "Hardsigmoid": (nn.Hardsigmoid(), torch.nn.Hardsigmoid()),
    "Hardswish": (nn.Hardswish(), torch.nn.Hardswish()),
    "Mish": (nn.Mish(), torch.nn.Mish()),
    "Softplus": (nn.Softplus(beta=2.0, threshold=5.0), torch.nn.Softplus(beta=2.0, threshold=5.0)),
    "LogSigmoid": (nn.LogSigmoid(), torch.nn.LogSigmoid()),
    "Softsign": (nn.Softsign(), torch.nn.Softsign()),
    "GLU": (nn.GLU(), torch.nn.GLU()),
    "GLU_dim1": (nn.GLU(dim=1), torch.nn.GLU(dim=1)),
    "Flatten": (nn.Flatten(), torch.nn.Flatten()),
    "Flatten_range": (nn.Flatten(0, 1), torch.nn.Flatten(0, 1)),
    "Unflatten": (nn.Unflatten(2, (2, 3)), torch.nn.Unflatten(2, (2, 3))),
    "Identity": (nn.Identity(), torch.nn.Identity()),
}


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_torch(name, dtype):
    e_mod, t_mod = ACTIVATIONS[name]
    # values away from the kinks (0, +-3, thresholds) so finite precision cannot flip a branch
    x = rng(4).uniform(-5, 5, (3, 4, 6))
    x[np.abs(x) < 0.05] += 0.2
    x[np.abs(np.abs(x) - 3) < 0.05] += 0.2
    compare_module(e_mod, t_mod, [x], dtype)


def test_activation_extremes_finite():
    x = ember.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], requires_grad=True)
    for fn in (F.logsigmoid, F.mish, F.selu, F.softsign, F.hardswish):
        y = fn(x)
        y.sum().backward()
        assert np.isfinite(y.detach().numpy()).all(), fn.__name__
        assert np.isfinite(x.grad.numpy()).all(), fn.__name__
        x.grad = None


def test_silu_mul_gradcheck():
    r = rng()
    a, b = T(r.standard_normal((3, 4))), T(r.standard_normal((3, 4)))
    assert gradcheck(F.silu_mul, (a, b))
    ref = torch.nn.functional.silu(torch.tensor(a.detach().numpy())) * torch.tensor(b.detach().numpy())
    np.testing.assert_allclose(F.silu_mul(a, b).detach().numpy(), ref.numpy(), rtol=1e-12)


_ROW = gelu_float32.BLOCK + 4465  # (3, _ROW): three whole blocks and a ragged one


@pytest.mark.parametrize("b_shape,grads", [((3, _ROW), "ab"), ((3, _ROW), "a"), ((3, _ROW), "b"), ((_ROW,), "ab")])
def test_silu_mul_float32_over_several_blocks_matches_torch(b_shape, grads):
    """Three blocks and a ragged one on NumPy's blocked path; a broadcast b takes the general one."""
    r = rng()
    a_np = (r.standard_normal((3, _ROW)) * 4).astype(np.float32)
    a_np[0, :4] = [-100.0, -90.0, 90.0, 100.0]  # e^-a overflows or vanishes: s is exactly 0 or 1
    b_np = r.standard_normal(b_shape).astype(np.float32)
    g_np = r.standard_normal((3, _ROW)).astype(np.float32)
    a, b = ember.tensor(a_np, requires_grad="a" in grads), ember.tensor(b_np, requires_grad="b" in grads)
    ta, tb = torch.tensor(a_np, requires_grad="a" in grads), torch.tensor(b_np, requires_grad="b" in grads)
    y, ty = F.silu_mul(a, b), torch.nn.functional.silu(ta) * tb
    y.backward(ember.tensor(g_np))
    ty.backward(torch.tensor(g_np))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    for ours, theirs in ((a, ta), (b, tb)):
        if theirs.requires_grad:
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-4)
        else:
            assert ours.grad is None


# -- dropout ------------------------------------------------------------------------------------


def test_dropout_train_eval_and_seed():
    drop = nn.Dropout(0.25)
    x = ember.ones(200, 100, requires_grad=True)
    ember.manual_seed(7)
    y = drop(x)
    values = y.detach().numpy()
    np.testing.assert_allclose(np.unique(values), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs((values == 0).mean() - 0.25) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # the gradient goes through the same mask
    ember.manual_seed(7)
    np.testing.assert_array_equal(drop(x).detach().numpy(), values)  # seeded
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).detach().numpy(), 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout2d_drops_whole_channels():
    ember.manual_seed(0)
    y = nn.Dropout2d(0.5)(ember.ones(4, 8, 3, 3)).numpy()
    per_channel = y.reshape(4, 8, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))
    assert 0 < (per_channel[..., 0] == 0).mean() < 1


# -- gradcheck of the functional primitives in float64 ---------------------------------------


def test_gradcheck_linear():
    r = rng()
    x, w, b = T(r.standard_normal((2, 3, 4))), T(r.standard_normal((5, 4))), T(r.standard_normal(5))
    assert gradcheck(F.linear, (x, w, b))
    assert gradcheck(F.linear, (x, w))
    assert gradcheck(F.linear, (T(r.standard_normal(4)), w, b))


def test_linear_skips_unneeded_grads_and_checks_shapes():
    x = ember.randn(3, 4)
    w = ember.randn(2, 4, requires_grad=True)
    F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (2, 4)
    with pytest.raises(ValueError, match="in_features=4"):
        F.linear(ember.randn(3, 5), w)
    with pytest.raises(TypeError, match="float64"):
        F.linear(ember.randn(3, 4, dtype=ember.float64), w)


def test_gradcheck_layer_norm_and_rms_norm():
    r = rng()
    x = T(r.standard_normal((3, 2, 5)))
    w, b = T(r.standard_normal(5)), T(r.standard_normal(5))
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (5,), w, b), (x, w, b))
    assert gradcheck(lambda x: F.layer_norm(x, (2, 5)), (x,))
    assert gradcheck(lambda x, w: F.layer_norm(x, (5,), w), (x, w))
    assert gradcheck(lambda x, w: F.rms_norm(x, (5,), w, eps=1e-6), (x, w))
    assert gradcheck(lambda x: F.rms_norm(x, (2, 5)), (x,))
    assert gradcheck(lambda x, b: F.layer_norm(x, (5,), None, b), (x, b))


@pytest.mark.parametrize("offset", [0.0, 100.0])
@pytest.mark.parametrize("rms", [False, True])
def test_float32_norms_match_torch_on_training_sized_rows(offset, rms):
    """float32 rows far from zero mean too: backward works from x - mean, never from x alone."""
    r = rng()
    x = (r.standard_normal((512, 192)) + offset).astype(np.float32)
    w, b = r.standard_normal(192).astype(np.float32), r.standard_normal(192).astype(np.float32)
    g = r.standard_normal(x.shape).astype(np.float32)
    ours = [ember.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    if rms:
        y = F.rms_norm(ours[0], (192,), ours[1], eps=1e-6)
        ty = torch.nn.functional.rms_norm(theirs[0], (192,), theirs[1], eps=1e-6)
        ours, theirs = ours[:2], theirs[:2]
    else:
        y = F.layer_norm(*ours[:1], (192,), *ours[1:])
        ty = torch.nn.functional.layer_norm(theirs[0], (192,), *theirs[1:])
    y.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    # float32 values near 100 are 7.6e-6 apart: both libraries' outputs (weights up to ~3)
    # are that far from the float64 result, so the tolerance grows with the offset.
    tol = 2e-5 * (1 + offset / 10)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=tol, rtol=1e-5)
    for a, ta in zip(ours, theirs):
        scale = np.abs(ta.grad.numpy()).max()
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=tol * scale, rtol=1e-4)


def test_gradcheck_batch_and_group_norm():
    r = rng()
    x = T(r.standard_normal((4, 3, 5)))
    w, b = T(r.standard_normal(3)), T(r.standard_normal(3))
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (T(r.standard_normal((6, 3))),))
    rm, rv = ember.tensor(r.standard_normal(3)), ember.tensor(r.random(3) + 0.5)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), (x, w, b))
    w6, b6 = T(r.standard_normal(6)), T(r.standard_normal(6))
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (T(r.standard_normal((2, 6, 2, 2))), w6, b6))


def test_gradcheck_embedding():
    r = rng()
    w = T(r.standard_normal((6, 3)))
    idx = ember.tensor([[1, 2, 1], [0, 5, 1]])
    assert gradcheck(lambda w: F.embedding(idx, w), (w,))


def test_gradcheck_normalize_and_pointwise():
    r = rng()
    x = T(r.standard_normal((3, 4)))
    assert gradcheck(lambda x: F.normalize(x, dim=1), (x,))
    assert gradcheck(lambda x: F.normalize(x, p=3.0, dim=0), (x,))
    np.testing.assert_allclose(F.normalize(x, dim=-1).detach().numpy(),
                               torch.nn.functional.normalize(torch.tensor(x.detach().numpy()), dim=-1).numpy())
    for fn in (F.selu, F.mish, F.logsigmoid, F.softsign, lambda t: F.celu(t, 0.5), lambda t: F.glu(t, 1)):
        assert gradcheck(fn, (x,))


def test_norms_half_precision_run_in_float32():
    x = ember.randn(4, 8).to(ember.float16)
    y = F.layer_norm(x, (8,))
    assert y.dtype == ember.float16
    ref = F.layer_norm(x.float(), (8,))
    np.testing.assert_allclose(y.float().numpy(), ref.numpy(), atol=5e-3)


def test_layer_norm_shape_errors():
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(ember.ones(2, 3), (4,))
    with pytest.raises(ValueError, match="must divide"):
        F.group_norm(ember.ones(2, 6, 3), 4)


def test_default_inits_match_pytorch_ranges():
    ember.manual_seed(0)
    lin = nn.Linear(100, 50)
    bound = 1 / math.sqrt(100)
    w = lin.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    ln = nn.LayerNorm(4)
    np.testing.assert_array_equal(ln.weight.detach().numpy(), 1)
    np.testing.assert_array_equal(ln.bias.detach().numpy(), 0)
