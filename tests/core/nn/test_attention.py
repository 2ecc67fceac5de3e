"""Scaled dot-product attention, MultiheadAttention (vs torch), KV-cache decoding, rotary embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck
from ember.nn.attention import KVCache
from ember.nn.functional import attention as attention_module

from ._helpers import DTYPES, assert_close, load_from_torch

DT = ["float64", "float32"]


def rng(seed=0):
    return np.random.default_rng(seed)


def T(a, requires_grad=True):
    return ember.tensor(np.asarray(a, dtype=np.float64), dtype=ember.float64, requires_grad=requires_grad)


# -- scaled_dot_product_attention -----------------------------------------------------------


def _masks(r, l, s):
    return {
        "none": (None, None),
        "causal": (None, None),
        "bool": (r.random((l, s)) > 0.3, None),
        "bool_batched": (r.random((2, 1, l, s)) > 0.3, None),
        "float": (r.standard_normal((l, s)), None),
        "float_neg_inf": (np.where(r.random((2, 3, l, s)) > 0.3, 0.0, -np.inf), None),
    }


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("mask", ["none", "causal", "bool", "bool_batched", "float", "float_neg_inf"])
def test_sdpa_matches_torch(mask, dtype):
    r = rng(1)
    l, s = 5, 7
    q, k, v = r.standard_normal((2, 3, l, 8)), r.standard_normal((2, 3, s, 8)), r.standard_normal((2, 3, s, 6))
    m, _ = _masks(r, l, s)[mask]
    if m is not None and m.dtype == bool:
        m[..., 0] = True  # no fully masked row (torch returns NaN there)
    if m is not None and m.dtype != bool:
        m[..., 0] = 0.0
    causal = mask == "causal"
    e_dt, t_dt = DTYPES[dtype]
    eq, ek, ev = (ember.tensor(a, dtype=e_dt, requires_grad=True) for a in (q, k, v))
    tq, tk, tv = (torch.tensor(a, dtype=t_dt, requires_grad=True) for a in (q, k, v))
    em = None if m is None else (ember.tensor(m) if m.dtype == bool else ember.tensor(m, dtype=e_dt))
    tm = None if m is None else (torch.tensor(m) if m.dtype == bool else torch.tensor(m, dtype=t_dt))
    eo = F.scaled_dot_product_attention(eq, ek, ev, attn_mask=em, is_causal=causal, scale=0.3)
    to = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, is_causal=causal, scale=0.3)
    assert_close(eo, to, dtype)
    cot = r.standard_normal(eo.shape)
    eo.backward(ember.tensor(cot, dtype=e_dt))
    to.backward(torch.tensor(cot, dtype=t_dt))
    for e, t in ((eq, tq), (ek, tk), (ev, tv)):
        assert_close(e.grad, t.grad, dtype)


def test_sdpa_gradcheck():
    r = rng(2)
    q, k, v = T(r.standard_normal((2, 2, 3, 4))), T(r.standard_normal((2, 2, 5, 4))), T(r.standard_normal((2, 2, 5, 3)))
    assert gradcheck(F.scaled_dot_product_attention, (q, k, v))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v))
    bool_mask = ember.tensor(r.random((3, 5)) > 0.4)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=bool_mask), (q, k, v))
    float_mask = ember.tensor(r.standard_normal((2, 1, 3, 5)), dtype=ember.float64)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=float_mask, scale=0.7),
                     (q, k, v))


def test_sdpa_stable_for_large_scores_and_fully_masked_rows():
    q = ember.tensor([[[1e4, 0.0], [0.0, 1e4]]], requires_grad=True)
    k = ember.tensor([[[1e4, 0.0], [0.0, 1e4]]], requires_grad=True)
    v = ember.tensor([[[1.0, 2.0], [3.0, 4.0]]], requires_grad=True)
    out = F.scaled_dot_product_attention(q, k, v)
    out.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), [[[1.0, 2.0], [3.0, 4.0]]])
    assert all(np.isfinite(t.grad.numpy()).all() for t in (q, k, v))
    mask = ember.tensor([[False, False], [True, True]])
    out = F.scaled_dot_product_attention(q.detach(), k.detach(), v.detach(), attn_mask=mask)
    np.testing.assert_array_equal(out.numpy()[0, 0], [0.0, 0.0])  # nothing to attend: zeros, not NaN


@pytest.mark.parametrize("dtype", DT)
def test_sdpa_grouped_query_attention(dtype):
    r = rng(3)
    q, k, v = r.standard_normal((2, 6, 4, 8)), r.standard_normal((2, 2, 5, 8)), r.standard_normal((2, 2, 5, 8))
    e_dt, t_dt = DTYPES[dtype]
    eq, ek, ev = (ember.tensor(a, dtype=e_dt, requires_grad=True) for a in (q, k, v))
    tq, tk, tv = (torch.tensor(a, dtype=t_dt, requires_grad=True) for a in (q, k, v))
    eo = F.scaled_dot_product_attention(eq, ek, ev, is_causal=True, enable_gqa=True)
    to = TF.scaled_dot_product_attention(tq, tk, tv, is_causal=True, enable_gqa=True)
    assert_close(eo, to, dtype)
    cot = r.standard_normal(eo.shape)
    eo.backward(ember.tensor(cot, dtype=e_dt))
    to.backward(torch.tensor(cot, dtype=t_dt))
    for e, t in ((eq, tq), (ek, tk), (ev, tv)):
        assert_close(e.grad, t.grad, dtype)
    with pytest.raises(ValueError, match="enable_gqa"):
        F.scaled_dot_product_attention(eq, ek, ev)


@pytest.mark.parametrize("groups", [1, 3])
def test_sdpa_on_heads_split_from_tokens_matches_torch_and_keeps_their_layout(groups):
    """Heads split as the models split them (``reshape`` then ``transpose(1, 2)``): the output and
    the gradients come back stored token-major, so merging the heads again is a view, not a copy."""
    r = rng(5)
    b, l, h, e = 2, 5, 6, 4
    kv = h // groups
    arrays = r.standard_normal((b, l, h * e)), r.standard_normal((b, l, kv * e)), r.standard_normal((b, l, kv * e))
    cot = r.standard_normal((b, l, h * e))

    def run(leaf, sdpa, grad_of):
        q, k, v = (leaf(a) for a in arrays)
        heads = [t.reshape(b, l, n, e).transpose(1, 2) for t, n in ((q, h), (k, kv), (v, kv))]
        out = sdpa(*heads, is_causal=True, enable_gqa=groups > 1)
        merged = out.transpose(1, 2).reshape(b, l, h * e)
        merged.backward(leaf(cot, grad=False))
        return out, merged, [grad_of(t) for t in (q, k, v)]

    out, merged, grads = run(lambda a, grad=True: ember.tensor(a, dtype=ember.float64, requires_grad=grad),
                             F.scaled_dot_product_attention, lambda t: t.grad)
    t_out, t_merged, t_grads = run(lambda a, grad=True: torch.tensor(a, dtype=torch.float64, requires_grad=grad),
                                   TF.scaled_dot_product_attention, lambda t: t.grad)
    assert_close(merged, t_merged, "float64")
    for g, tg in zip(grads, t_grads):
        assert_close(g, tg, "float64")
    assert out._data.swapaxes(1, 2).flags.c_contiguous  # stored (b, l, h, e)
    assert np.shares_memory(merged._data, out._data)  # merged without a copy


@pytest.fixture
def one_row_chunks(monkeypatch):
    """Attention in chunks of one batch row each (at most one byte of scores a chunk)."""
    monkeypatch.setattr(attention_module, "CHUNK_BYTES", 1)


@pytest.mark.parametrize("case", ["plain", "per-batch bool", "shared additive", "causal", "gqa", "c-order",
                                  "broadcast key"])
def test_sdpa_in_many_chunks_matches_torch(one_row_chunks, case):
    r = rng(6)
    b, h, l, s, e = 5, 4, 6, 7, 8
    kv = 2 if case == "gqa" else h
    token_major = case != "c-order"

    def heads(n, length, k_batch=b):
        a = r.standard_normal((k_batch, length, n, e))
        return a.swapaxes(1, 2) if token_major else np.ascontiguousarray(a.swapaxes(1, 2))

    q, k, v = heads(h, l), heads(kv, s, 1 if case == "broadcast key" else b), heads(kv, s)
    mask = {"per-batch bool": r.random((b, 1, l, s)) > 0.3,
            "shared additive": np.where(r.random((l, s)) > 0.3, 0.0, -np.inf)}.get(case)
    if mask is not None:
        mask[..., 0] = True if mask.dtype == bool else 0.0
    cot = r.standard_normal((b, h, l, e))
    kw = dict(is_causal=case == "causal", enable_gqa=case == "gqa")
    eq, ek, ev = (ember.tensor(a, dtype=ember.float64, requires_grad=True) for a in (q, k, v))
    tq, tk, tv = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (q, k, v))
    eo = F.scaled_dot_product_attention(eq, ek, ev, attn_mask=None if mask is None else ember.tensor(mask), **kw)
    to = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=None if mask is None else torch.tensor(mask), **kw)
    eo.backward(ember.tensor(cot))
    to.backward(torch.tensor(cot))
    assert_close(eo, to, "float64")
    for ours, theirs in ((eq, tq), (ek, tk), (ev, tv)):
        assert_close(ours.grad, theirs.grad, "float64")


@pytest.mark.parametrize("masks", ["causal_padding_bool", "is_causal"])
def test_mha_weights_and_dropout_in_many_chunks_match_one_chunk(monkeypatch, masks):
    """The attention maps are put together from the chunks; dropout masks are cut along with them."""
    n, l, e = 3, 6, 16
    x = ember.tensor(rng(7).standard_normal((n, l, e)), dtype=ember.float64)
    kw = {"is_causal": True, "attn_mask": ember.tensor(np.triu(np.ones((l, l), dtype=bool), 1))}
    if masks == "causal_padding_bool":
        padding = np.zeros((n, l), dtype=bool)
        padding[0, -2:] = True
        kw = {"attn_mask": kw["attn_mask"], "key_padding_mask": ember.tensor(padding)}
    results = []
    for chunk_bytes in (1 << 30, 1):
        monkeypatch.setattr(attention_module, "CHUNK_BYTES", chunk_bytes)
        ember.manual_seed(0)
        mha = nn.MultiheadAttention(e, 4, dropout=0.3, batch_first=True).to(ember.float64)
        xx = x.detach().requires_grad_()
        out, weights = mha(xx, xx, xx, need_weights=True, average_attn_weights=False, **kw)
        out.sum().backward()
        results.append([out.detach().numpy(), weights.detach().numpy(), xx.grad.numpy()])
    for one, many in zip(*results):
        np.testing.assert_allclose(many, one, rtol=1e-12, atol=1e-12)


def test_sdpa_gqa_gradcheck():
    r = rng(4)
    q, k, v = T(r.standard_normal((1, 4, 3, 2))), T(r.standard_normal((1, 2, 3, 2))), T(r.standard_normal((1, 2, 3, 2)))
    mask = ember.tensor(r.random((1, 4, 3, 3)) > 0.3)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True),
                     (q, k, v))


def test_sdpa_dropout_is_seeded_and_differentiable():
    r = rng(5)
    q, k, v = (ember.tensor(r.standard_normal((2, 4, 6)), requires_grad=True) for _ in range(3))
    ember.manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    ember.manual_seed(3)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert not np.allclose(a.detach().numpy(), F.scaled_dot_product_attention(q, k, v).detach().numpy())
    # with a fixed mask the op is a smooth function: check it numerically
    qd, kd, vd = (T(t.detach().numpy()) for t in (q, k, v))

    def f(q, k, v):
        ember.manual_seed(11)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)

    assert gradcheck(f, (qd, kd, vd))


def test_sdpa_errors():
    with pytest.raises(ValueError, match="same last dimension"):
        F.scaled_dot_product_attention(ember.ones(2, 3), ember.ones(2, 4), ember.ones(2, 4))
    with pytest.raises(ValueError, match="same sequence length"):
        F.scaled_dot_product_attention(ember.ones(2, 3), ember.ones(2, 3), ember.ones(4, 3))


# -- MultiheadAttention vs torch ----------------------------------------------------------------


def _mha_pair(batch_first, bias=True, kdim=None, vdim=None, e=16, h=4):
    t_mod = torch.nn.MultiheadAttention(e, h, bias=bias, batch_first=batch_first, kdim=kdim, vdim=vdim)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in t_mod.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    e_mod = nn.MultiheadAttention(e, h, bias=bias, batch_first=batch_first, kdim=kdim, vdim=vdim)
    load_from_torch(e_mod, t_mod)
    return e_mod, t_mod


def _run_mha(e_mod, t_mod, dtype, q, k, v, self_attn, need_weights=True, average=True, e_kw=None, t_kw=None,
             seed=0):
    e_dt, t_dt = DTYPES[dtype]
    e_mod.to(e_dt)
    t_mod.to(t_dt)
    eq = ember.tensor(q, dtype=e_dt, requires_grad=True)
    tq = torch.tensor(q, dtype=t_dt, requires_grad=True)
    if self_attn:
        ek = ev = eq
        tk = tv = tq
    else:
        ek, ev = (ember.tensor(a, dtype=e_dt, requires_grad=True) for a in (k, v))
        tk, tv = (torch.tensor(a, dtype=t_dt, requires_grad=True) for a in (k, v))
    eo, ew = e_mod(eq, ek, ev, need_weights=need_weights, average_attn_weights=average, **(e_kw or {}))
    to, tw = t_mod(tq, tk, tv, need_weights=need_weights, average_attn_weights=average, **(t_kw or {}))
    assert_close(eo, to, dtype, what="output")
    if need_weights:
        assert_close(ew, tw, dtype, what="weights")
    else:
        assert ew is None and tw is None
    cot = rng(seed).standard_normal(tuple(to.shape))
    eo.backward(ember.tensor(cot, dtype=e_dt))
    to.backward(torch.tensor(cot, dtype=t_dt))
    pairs = [(eq, tq)] if self_attn else [(eq, tq), (ek, tk), (ev, tv)]
    for e, t in pairs:
        assert_close(e.grad, t.grad, dtype, what="input grad")
    t_params = dict(t_mod.named_parameters())
    for name, p in e_mod.named_parameters():
        assert_close(p.grad, t_params[name].grad, dtype, what=f"grad of {name}")


def _convert(mask, kind, e_dt, t_dt):
    if kind == "bool":
        return ember.tensor(mask), torch.tensor(mask)
    f = np.where(mask, -np.inf, 0.0)
    return ember.tensor(f, dtype=e_dt), torch.tensor(f, dtype=t_dt)


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("masks", ["none", "causal_padding_bool", "causal_padding_float", "attn3d", "is_causal"])
def test_mha_self_attention_matches_torch(masks, batch_first, dtype):
    n, l, e = 3, 6, 16
    e_mod, t_mod = _mha_pair(batch_first)
    x = rng(1).standard_normal((n, l, e) if batch_first else (l, n, e))
    e_dt, t_dt = DTYPES[dtype]
    e_kw, t_kw = {}, {}
    causal = np.triu(np.ones((l, l), dtype=bool), 1)
    padding = np.zeros((n, l), dtype=bool)
    padding[0, -2:] = True
    padding[2, -1] = True
    if masks.startswith("causal_padding"):
        kind = masks.rsplit("_", 1)[1]
        e_kw["attn_mask"], t_kw["attn_mask"] = _convert(causal, kind, e_dt, t_dt)
        e_kw["key_padding_mask"], t_kw["key_padding_mask"] = _convert(padding, kind, e_dt, t_dt)
    elif masks == "attn3d":
        m = rng(2).random((n * 4, l, l)) > 0.5
        m[..., 0] = False
        e_kw["attn_mask"], t_kw["attn_mask"] = ember.tensor(m), torch.tensor(m)
    elif masks == "is_causal":
        e_kw["is_causal"] = True
        t_kw["attn_mask"], t_kw["is_causal"] = torch.tensor(causal), True
    _run_mha(e_mod, t_mod, dtype, x, None, None, True, e_kw=e_kw, t_kw=t_kw)


@pytest.mark.parametrize("dtype", DT)
def test_mha_cross_attention_kdim_vdim_and_options(dtype):
    e_mod, t_mod = _mha_pair(True, kdim=10, vdim=7)
    r = rng(3)
    q, k, v = r.standard_normal((2, 4, 16)), r.standard_normal((2, 6, 10)), r.standard_normal((2, 6, 7))
    padding = np.zeros((2, 6), dtype=bool)
    padding[1, 4:] = True
    _run_mha(e_mod, t_mod, dtype, q, k, v, False, average=False,
             e_kw={"key_padding_mask": ember.tensor(padding)}, t_kw={"key_padding_mask": torch.tensor(padding)})
    e_mod, t_mod = _mha_pair(False, bias=False)
    q, kv = r.standard_normal((4, 2, 16)), r.standard_normal((5, 2, 16))
    _run_mha(e_mod, t_mod, dtype, q, kv, kv, False, need_weights=False)


def test_mha_unbatched_and_state_dict_names_match_torch():
    e_mod, t_mod = _mha_pair(False)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    x = rng(4).standard_normal((5, 16)).astype(np.float32)
    eo, ew = e_mod(ember.tensor(x), ember.tensor(x), ember.tensor(x))
    to, tw = t_mod(torch.tensor(x, dtype=torch.float32), torch.tensor(x, dtype=torch.float32),
                   torch.tensor(x, dtype=torch.float32))
    assert_close(eo, to, "float32")
    assert_close(ew, tw, "float32")


def test_mha_dropout_train_eval():
    mha = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = ember.randn(2, 5, 8)
    mha.eval()
    a, _ = mha(x, x, x)
    b, _ = mha(x, x, x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    mha.train()
    c, _ = mha(x, x, x)
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())


def test_mha_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = ember.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 5\)"):
        mha(x, x, x, key_padding_mask=ember.zeros(2, 4).bool())
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(5, 5\)"):
        mha(x, x, x, attn_mask=ember.zeros(4, 5).bool())


# -- KV cache ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefill", [1, 4])
def test_kv_cache_decoding_equals_full_causal_forward(prefill):
    ember.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    x = ember.randn(2, 9, 16)
    full, _ = mha(x, x, x, is_causal=True, need_weights=False)
    cache = KVCache(capacity=2)  # small, so it has to grow
    with ember.no_grad():
        steps = [mha(x[:, :prefill], x[:, :prefill], x[:, :prefill], is_causal=True, cache=cache)[0]]
        for t in range(prefill, 9):
            xt = x[:, t:t + 1]
            out, w = mha(xt, xt, xt, is_causal=True, cache=cache)
            assert w.shape == (2, 1, t + 1)
            steps.append(out)
    decoded = ember.cat(steps, dim=1)
    assert len(cache) == 9
    np.testing.assert_allclose(decoded.numpy(), full.detach().numpy(), atol=1e-5, rtol=1e-5)


def test_kv_cache_with_grad_concatenates_and_backprops():
    ember.manual_seed(1)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = ember.randn(1, 4, 8, requires_grad=True)
    cache = KVCache()
    outs = []
    for t in range(4):
        xt = x[:, t:t + 1]
        outs.append(mha(xt, xt, xt, is_causal=True, cache=cache, need_weights=False)[0])
    decoded = ember.cat(outs, dim=1)
    full, _ = mha(x, x, x, is_causal=True, need_weights=False)
    np.testing.assert_allclose(decoded.detach().numpy(), full.detach().numpy(), atol=1e-5)
    decoded.sum().backward()
    g_dec = x.grad.numpy().copy()
    x.grad = None
    full.sum().backward()
    np.testing.assert_allclose(g_dec, x.grad.numpy(), atol=1e-5)


def test_kv_cache_shape_errors_and_reset():
    cache = KVCache()
    cache.update(ember.ones(1, 2, 3, 4), ember.ones(1, 2, 3, 4))
    with pytest.raises(ValueError, match="reset"):
        cache.update(ember.ones(2, 2, 1, 4), ember.ones(2, 2, 1, 4))
    cache.reset()
    k, _ = cache.update(ember.ones(2, 2, 1, 4), ember.ones(2, 2, 1, 4))
    assert k.shape == (2, 2, 1, 4) and len(cache) == 1


# -- rotary embeddings ---------------------------------------------------------------------------


def _rope_reference(x, base, interleaved, rot, offset=0):
    """Hugging Face / Meta reference, in float64 torch."""
    x = torch.tensor(x, dtype=torch.float64)
    t = x.shape[-2]
    inv = 1.0 / (base ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot))
    ang = torch.arange(offset, offset + t, dtype=torch.float64)[:, None] * inv[None]
    xr, rest = x[..., :rot], x[..., rot:]
    if interleaved:
        pairs = torch.view_as_complex(xr.reshape(*xr.shape[:-1], -1, 2).contiguous())
        rotated = torch.view_as_real(pairs * torch.polar(torch.ones_like(ang), ang)).flatten(-2)
    else:
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        x1, x2 = xr[..., : rot // 2], xr[..., rot // 2:]
        rotated = xr * cos + torch.cat([-x2, x1], -1) * sin
    return torch.cat([rotated, rest], -1).numpy()


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("rot", [8, 4])
def test_rope_matches_reference(interleaved, rot):
    x = rng(6).standard_normal((2, 3, 5, 8))
    cos, sin = F.rotary_cos_sin(rot, 16, base=100.0, dtype=ember.float64)
    y = F.apply_rotary_emb(ember.tensor(x), cos, sin, offset=3, interleaved=interleaved)
    np.testing.assert_allclose(y.numpy(), _rope_reference(x, 100.0, interleaved, rot, offset=3), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("interleaved", [False, True])
def test_rope_gradcheck_and_norm_preserving(interleaved):
    x = T(rng(7).standard_normal((1, 2, 4, 6)))
    cos, sin = F.rotary_cos_sin(4, 8, dtype=ember.float64)
    assert gradcheck(lambda x: F.apply_rotary_emb(x, cos, sin, offset=2, interleaved=interleaved), (x,))
    y = F.apply_rotary_emb(x, cos, sin, interleaved=interleaved).detach().numpy()
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x.detach().numpy(), axis=-1))


def test_rotary_embedding_module_grows_and_relative_positions():
    rope = nn.RotaryEmbedding(8, max_seq_len=4)
    assert list(rope.state_dict()) == []  # tables are not saved
    q = ember.randn(1, 1, 10, 8)
    y = rope(q)
    assert rope.cos.shape[0] >= 10
    step = rope(q[:, :, 7:8], offset=7)
    np.testing.assert_allclose(step.numpy(), y.numpy()[:, :, 7:8], rtol=1e-5, atol=1e-6)
    # q_m . k_n depends only on m - n
    a, b = ember.randn(1, 1, 1, 8), ember.randn(1, 1, 1, 8)
    s1 = (rope(a, offset=2) * rope(b, offset=5)).sum().item()
    s2 = (rope(a, offset=6) * rope(b, offset=9)).sum().item()
    assert abs(s1 - s2) < 1e-4
