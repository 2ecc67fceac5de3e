"""``scaled_dot_product_attention``: softmax(q k^T * scale + mask) v as one fused primitive.

Forward keeps only the attention probabilities P (and the dropout mask); backward is

    dV = P^T dO,   dP = dO V^T,   dS = P * (dP - rowsum(dP * P)) * scale,
    dQ = dS K,     dK = dS^T Q

with no softmax, masking or scaling nodes in the graph. Scores are shifted by their row
maximum before the exponential, so any magnitude is safe; a row whose every key is
masked gives zeros (not NaN).
"""

from __future__ import annotations

import math

import numpy as np

from ...autograd.axis_sums import trailing_dot, trailing_sum
from ...autograd.function import Function
from ...host_threads import MIN_FLOPS, matmul, split
from ...tensor import Tensor

__all__ = ["scaled_dot_product_attention", "apply_rotary_emb", "rotary_cos_sin"]


def _swap(a):
    return a.swapaxes(-1, -2)


def causal_mask(xp, l: int, s: int, offset: int = 0):
    """(l, s) bool mask, True where query i may attend key j: j <= i + offset."""
    return xp.arange(s)[None, :] <= (xp.arange(l)[:, None] + offset)


class SDPA(Function):
    """The attention primitive. On NumPy, when q, k and v share their batch axis, each of
    ember's threads runs the whole computation, products and softmax, on its share of that
    axis: one hand-off between threads for the forward and one for the backward, instead of
    one for each of the 3 and 5 steps (fwd+bwd at ViT-tiny's shape: 21.5-22.8 -> 18.4-18.6 ms).
    A share runs in chunks of at most about :data:`CHUNK_BYTES` of scores, which bounds the
    backward's temporaries."""

    def forward(self, q, k, v, mask=None, additive=None, causal_offset=None, scale=1.0, dropout_mask=None,
                groups=1, weights_out=None):
        xp = self.xp
        self.save_for_backward(q, k, v)
        self.groups, self.scale, self.dropout_mask = groups, scale, dropout_mask
        n = _chunked_batch(xp, q, k, v)
        out = None
        if n:
            out = _heads_like(q, q.shape[:-1] + (v.shape[-1],), np.result_type(q, v))
        if groups > 1:
            q, k, v = _grouped(q, k, v, groups)
        l, s = q.shape[-2], k.shape[-2]
        allowed = None
        if causal_offset is not None:
            allowed = causal_mask(xp, l, s, causal_offset)
        if mask is not None:
            allowed = mask if allowed is None else (allowed & mask)
        masked = allowed is not None or additive is not None
        ndim = max(q.ndim, k.ndim)
        chunks = []  # (start, stop, probabilities, output) of each chunk of the batch axis
        heads = math.prod(q.shape[1:-2])  # score matrices per batch row

        def attend(start, stop):
            for a, b in _chunks(start, stop, n, l * s * heads * q.dtype.itemsize):
                sc = matmul(_rows(q, a, b, n, ndim), _swap(_rows(k, a, b, n, ndim)))
                add, keep = _rows(additive, a, b, n, ndim), _rows(allowed, a, b, n, ndim)
                rows = sc.shape[0] if sc.ndim > 2 else 1  # a split here runs only outside a share
                split(xp, rows, lambda i, j: _softmax_(xp, _rows(sc, i, j, rows, sc.ndim), scale,
                                                       _rows(add, i, j, rows, sc.ndim),
                                                       _rows(keep, i, j, rows, sc.ndim), masked),
                      work_per_item=sc.size // rows)
                pd = sc if dropout_mask is None else sc * _rows(dropout_mask, a, b, n, ndim)
                o = _product(pd, _rows(v, a, b, n, ndim), None if out is None else out[a:b], groups, ungroup=True)
                chunks.append((a, b, sc, o))

        split(xp, max(n, 1), attend, work_per_item=2 * l * s * q.shape[-1] * heads, minimum=MIN_FLOPS)
        chunks.sort(key=lambda c: c[0])
        self.chunks = chunks
        if weights_out is not None:
            p = chunks[0][2] if len(chunks) == 1 else xp.concatenate([c[2] for c in chunks])
            pd = p * dropout_mask if dropout_mask is not None else p
            weights_out.append(_ungroup(pd) if groups > 1 else pd)
        return chunks[0][3] if out is None else out

    def backward(self, grad):
        q, k, v = self.saved
        groups, dropout_mask, chunks = self.groups, self.dropout_mask, self.chunks
        needs = self.needs_input_grad
        xp = self.xp
        n = _chunked_batch(xp, q, k, v)
        outs = [None, None, None]
        if n:
            dtype = np.result_type(q, k, v, grad)
            outs = [(_heads_like(t, t.shape, dtype) if need else None) for t, need in zip((q, k, v), needs[:3])]
        if groups > 1:
            q, k, v = _grouped(q, k, v, groups)
            grad = grad.reshape(*q.shape[:-1], grad.shape[-1])
        ndim = max(q.ndim, k.ndim)
        results = []

        def chunk_grads(first, last):
            for a, b, p, _ in chunks[first:last]:
                g = _rows(grad, a, b, n, ndim)
                gq_out, gk_out, gv_out = (None if o is None else o[a:b] for o in outs)
                gq = gk = gv = None
                if needs[2]:
                    pd = p * _rows(dropout_mask, a, b, n, ndim) if dropout_mask is not None else p
                    gv = _product(_swap(pd), g, gv_out, groups, ungroup=False)
                if needs[0] or needs[1]:
                    dp = matmul(g, _swap(_rows(v, a, b, n, ndim)))
                    if dropout_mask is not None:
                        dp *= _rows(dropout_mask, a, b, n, ndim)
                    rows = dp.shape[0] if dp.ndim > 2 else 1
                    split(xp, rows, lambda i, j: _softmax_backward_(_rows(dp, i, j, rows, dp.ndim),
                                                                    _rows(p, i, j, rows, p.ndim), self.scale),
                          work_per_item=dp.size // rows)
                    if needs[0]:
                        gq = _product(dp, _rows(k, a, b, n, ndim), gq_out, groups, ungroup=True)
                    if needs[1]:
                        gk = _product(_swap(dp), _rows(q, a, b, n, ndim), gk_out, groups, ungroup=False)
                results.append((gq, gk, gv))

        flops = 4 * q.shape[-2] * k.shape[-2] * q.shape[-1] * math.prod(q.shape[1:-2]) * max(n, 1)  # 4 products
        split(xp, len(chunks), chunk_grads, work_per_item=flops / len(chunks), minimum=MIN_FLOPS)
        if n:
            return tuple(outs)
        return results[0]


def _softmax_(xp, sc, scale, additive, allowed, masked):
    """Scores -> probabilities in place: softmax over the last axis of ``sc * scale + additive``,
    with ``allowed`` False set to -inf; a row with every key masked gives zeros, not NaN."""
    sc *= scale
    if additive is not None:
        sc += additive
    if allowed is not None:
        xp.copyto(sc, -xp.inf, where=~allowed)
    m = sc.max(axis=-1, keepdims=True)
    if masked:  # a row with every key masked: no shift, and a zero denominator becomes 1
        m = xp.where(xp.isfinite(m), m, 0)
    sc -= m
    xp.exp(sc, out=sc)
    denom = trailing_sum(sc, keepdims=True)
    if masked:
        denom[denom == 0] = 1
    sc /= denom


def _softmax_backward_(dp, p, scale):
    """dP -> dS in place: p * (dp - rowsum(dp * p)), then the scale."""
    dp -= trailing_dot(dp, p)[..., None]
    dp *= p
    dp *= scale


#: Bytes of scores a chunk of the batch axis holds at most (unless one batch row holds more).
CHUNK_BYTES = 1 << 20


def _chunked_batch(xp, q, k, v) -> int:
    """The batch size that attention's chunks share out (NumPy, q, k and v of one rank with
    the same batch axis), or 0: then the computation is one chunk of whole arrays."""
    if xp is not np or not q.ndim == k.ndim == v.ndim or q.ndim < 3 or not q.shape[0] == k.shape[0] == v.shape[0]:
        return 0
    return q.shape[0]


def _chunks(start, stop, n, row_bytes):
    """Equal ranges of ``start:stop`` with at most CHUNK_BYTES of scores each (one range when n is 0)."""
    if not n:
        yield start, stop
        return
    count = max(1, min(stop - start, -(-(stop - start) * row_bytes // CHUNK_BYTES)))
    bounds = [start + (stop - start) * i // count for i in range(count + 1)]
    yield from zip(bounds, bounds[1:])


def _rows(a, start, stop, n, ndim):
    """The part of ``a`` (None, an operand or a mask broadcast against a rank-``ndim`` result)
    that rows ``start:stop`` of the batch axis see: ``a`` itself when it covers them all or is
    broadcast along that axis."""
    if a is None or (start == 0 and stop == n) or a.ndim != ndim or a.shape[0] != n or n <= 1:
        return a
    return a[start:stop]


def _heads_like(ref, shape, dtype):
    """An uninitialised NumPy (*, H, L, E) array, stored as (*, L, H, E) where ``ref`` is stored
    so: heads split from (*, L, H * E) activations by ``reshape`` and ``transpose(1, 2)``, as
    every model does; the transpose back to (*, L, H * E) is then a view instead of a copy.
    C order for other layouts."""
    if len(shape) < 3 or ref.ndim != len(shape) or ref.strides[-2] <= ref.strides[-3]:
        return np.empty(shape, dtype)
    return np.empty(shape[:-3] + (shape[-2], shape[-3], shape[-1]), dtype).swapaxes(-3, -2)


def _product(a, b, out, groups, ungroup):
    """``a @ b`` into ``out`` (None: a new array) for the 4-D result of one attention product.

    With grouped heads the product is 5-D (*, H/G, G, L, E): ``ungroup`` merges its two head
    axes, otherwise it is summed over the group axis.
    """
    if groups == 1:
        return matmul(a, b, out=out)
    if not ungroup:
        return matmul(a, b).sum(axis=-3) if out is None else np.sum(matmul(a, b), axis=-3, out=out)
    if out is None:
        return _ungroup(matmul(a, b))
    grouped = out.reshape(*out.shape[:-3], out.shape[-3] // groups, groups, *out.shape[-2:])
    if np.may_share_memory(grouped, out):  # a view: the product's writes reach out
        matmul(a, b, out=grouped)
    else:
        out[...] = _ungroup(matmul(a, b))
    return out


def _grouped(q, k, v, groups):
    """Views for grouped-query attention: q (*, H, L, E) -> (*, H/G, G, L, E); k, v gain a size-1 group axis."""
    q = q.reshape(*q.shape[:-3], q.shape[-3] // groups, groups, *q.shape[-2:])
    return q, k[..., None, :, :], v[..., None, :, :]


def _ungroup(a):
    return a.reshape(*a.shape[:-4], a.shape[-4] * a.shape[-3], *a.shape[-2:])


def _mask_arrays(attn_mask, like: Tensor, what: str):
    """(bool mask or None, additive float mask or None) as backend arrays."""
    if attn_mask is None:
        return None, None
    data = attn_mask._data if isinstance(attn_mask, Tensor) else like._device.backend.asarray(attn_mask, None)
    if data.dtype.kind == "b":
        return data, None
    if data.dtype.kind in "fV":
        return None, data.astype(like._data.dtype, copy=False)
    raise TypeError(f"{what}: attn_mask must be a bool or floating-point tensor, got dtype {data.dtype}")


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + mask) V, one fused primitive (PyTorch's signature).

    Args:
        query: (*, L, E).
        key: (*, S, E).
        value: (*, S, Ev).
        attn_mask: broadcastable to (*, L, S): a bool mask (True = may attend) or a float
            mask added to the scores (-inf blocks).
        dropout_p: dropout on the attention probabilities (pass 0.0 in evaluation).
        is_causal: query i attends keys j <= i (top-left aligned, as in PyTorch).
        scale: default 1 / sqrt(E).
        enable_gqa: allow fewer key/value heads than query heads (dimension -3), each
            shared by ``H_q / H_kv`` query heads.

    Returns:
        (*, L, Ev).

    >>> import ember
    >>> q = k = v = ember.ones(1, 2, 4)
    >>> scaled_dot_product_attention(q, k, v, is_causal=True).shape
    (1, 2, 4)
    """
    return _sdpa(query, key, value, attn_mask, dropout_p, 0 if is_causal else None, scale, enable_gqa)


def _sdpa(query, key, value, attn_mask=None, dropout_p=0.0, causal_offset=None, scale=None, enable_gqa=False,
          weights_out=None):
    what = "scaled_dot_product_attention"
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"{what}: query, key and value need at least 2 dimensions (*, L, E)")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"{what}: query and key must have the same last dimension, got {tuple(query.shape)} "
                         f"and {tuple(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{what}: key and value must have the same sequence length, got {tuple(key.shape)} "
                         f"and {tuple(value.shape)}")
    dtypes = {query._data.dtype, key._data.dtype, value._data.dtype}
    if len(dtypes) != 1:
        raise TypeError(f"{what}: query, key and value must have one dtype, got {sorted(map(str, dtypes))}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"{what}: dropout_p must be in [0, 1), got {dropout_p}")
    groups = 1
    if query.ndim >= 3 and key.ndim >= 3 and query.shape[-3] != key.shape[-3] and not (key.shape[-3] == 1):
        if not enable_gqa:
            raise ValueError(f"{what}: query has {query.shape[-3]} heads but key has {key.shape[-3]}; pass "
                             "enable_gqa=True for grouped-query attention")
        if query.shape[-3] % key.shape[-3] or key.shape[-3] != value.shape[-3]:
            raise ValueError(f"{what}: the number of query heads ({query.shape[-3]}) must be a multiple of the "
                             f"number of key/value heads ({key.shape[-3]}, {value.shape[-3]})")
        groups = query.shape[-3] // key.shape[-3]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    mask, additive = _mask_arrays(attn_mask, query, what)
    if groups > 1:
        mask = _group_mask(mask, groups)
        additive = _group_mask(additive, groups)
    l, s = query.shape[-2], key.shape[-2]
    drop = None
    if dropout_p > 0.0:
        from .dropout import dropout_mask

        batch = tuple(query.shape[:-2]) if groups > 1 else \
            np.broadcast_shapes(tuple(query.shape[:-2]), tuple(key.shape[:-2]))
        shape = (*batch, l, s)
        drop = dropout_mask(shape, dropout_p, query.dtype, query.device)
        if groups > 1:
            drop = _group_mask(drop, groups)
    return SDPA.apply(query, key, value, mask=mask, additive=additive, causal_offset=causal_offset,
                      scale=float(scale), dropout_mask=drop, groups=groups,
                      weights_out=weights_out)


def _group_mask(mask, groups):
    """A mask over (*, H_q, L, S) reshaped to the grouped layout (*, H_kv, G, L, S)."""
    if mask is None:
        return None
    if mask.ndim < 3:
        return mask
    if mask.shape[-3] == 1:
        return mask[..., None, :, :]
    return mask.reshape(*mask.shape[:-3], mask.shape[-3] // groups, groups, *mask.shape[-2:])


from ..rope import apply_rotary_emb, rotary_cos_sin  # noqa: E402  (F.apply_rotary_emb, F.rotary_cos_sin)
