"""Multi-head attention (PyTorch's ``nn.MultiheadAttention`` contract) and a KV cache for decoding.

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_O,
    head_i = softmax(Q W_Q,i (K W_K,i)^T / sqrt(d_head) + mask) V W_V,i

The attention itself is the fused primitive ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

import numpy as np

from .. import creation as _creation
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from . import functional as F
from . import init
from .functional.attention import _sdpa
from .linear import Linear
from .module import Module
from .parameter import Parameter
from .rope import RotaryEmbedding

__all__ = ["MultiheadAttention", "RotaryEmbedding"]


class KVCache:
    """The keys and values of the positions decoded so far, for one attention layer.

    ``update(k, v)`` appends the new steps' keys and values, (B, H, T, D), along the
    sequence dimension and returns all of them, (B, H, S, D). Without autograd (the usual
    case when decoding) they are written into a preallocated buffer that doubles when
    full, so each step costs O(T) rather than O(S); when gradients are needed the tensors
    are concatenated instead, so they flow back into earlier steps.

    Args:
        capacity: the initial buffer length in positions (it grows as needed).

    >>> import ember
    >>> cache = KVCache()
    >>> k, v = cache.update(ember.ones(1, 2, 3, 4), ember.ones(1, 2, 3, 4))
    >>> k, v = cache.update(ember.ones(1, 2, 1, 4), ember.ones(1, 2, 1, 4))
    >>> len(cache), k.shape
    (4, (1, 2, 4, 4))
    """

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = max(int(capacity), 1)
        self.reset()

    def reset(self) -> None:
        """Forget every cached position."""
        self.key: Tensor | None = None
        self.value: Tensor | None = None
        self._kbuf = self._vbuf = None
        self._len = 0

    def __len__(self) -> int:
        return self._len

    @property
    def seq_len(self) -> int:
        return self._len

    def update(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Append ``key`` and ``value`` (B, H, T, D) and return all cached keys and values."""
        if key.ndim < 2 or key.shape[:-2] != value.shape[:-2] or key.shape[-2] != value.shape[-2]:
            raise ValueError(f"KVCache.update: key {tuple(key.shape)} and value {tuple(value.shape)} must share "
                             "their leading dimensions and sequence length")
        if self.key is not None and (self.key.shape[:-2] != key.shape[:-2] or self.key.shape[-1] != key.shape[-1]
                                     or self.value.shape[-1] != value.shape[-1]):
            raise ValueError(f"KVCache.update: new keys of shape {tuple(key.shape)} do not fit the cached keys of "
                             f"shape {tuple(self.key.shape)} (same batch, heads and head size needed; reset() the cache "
                             "for a new sequence)")
        t = key.shape[-2]
        if is_grad_enabled() and (key.requires_grad or value.requires_grad):
            from .. import ops

            if self.key is None:
                self.key, self.value = key, value
            else:
                self.key = ops.cat([self.key, key], dim=-2)
                self.value = ops.cat([self.value, value], dim=-2)
            self._kbuf = self._vbuf = None
            self._len += t
            return self.key, self.value
        n = self._len + t
        if self._kbuf is None or n > self._kbuf.shape[-2] or self._kbuf.dtype != key._data.dtype:
            self._grow(key, value, n)
        self._kbuf[..., self._len:n, :] = key._data
        self._vbuf[..., self._len:n, :] = value._data
        self._len = n
        dev = key._device
        self.key = Tensor._make(self._kbuf[..., :n, :], dev, None)
        self.value = Tensor._make(self._vbuf[..., :n, :], dev, None)
        return self.key, self.value

    def _grow(self, key: Tensor, value: Tensor, needed: int) -> None:
        size = max(self.capacity, 1)
        while size < needed:
            size *= 2
        xp = key._device.backend.xp
        kbuf = xp.empty((*key.shape[:-2], size, key.shape[-1]), dtype=key._data.dtype)
        vbuf = xp.empty((*value.shape[:-2], size, value.shape[-1]), dtype=value._data.dtype)
        if self._len:
            kbuf[..., :self._len, :] = self.key._data
            vbuf[..., :self._len, :] = self.value._data
        self._kbuf, self._vbuf, self.capacity = kbuf, vbuf, size


def _as_array(mask, what: str):
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"MultiheadAttention: {what} must be a Tensor, got {type(mask).__name__}")
    return mask._data


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017), with PyTorch's parameters, masks and layout.

    Args:
        embed_dim: the model size E (a multiple of ``num_heads``).
        num_heads: the number of heads H; each has size E / H.
        dropout: dropout on the attention probabilities, in training. Default: 0.
        bias: give the input and output projections biases. Default: True.
        kdim, vdim: the key and value sizes, if not E (separate projection weights then).
        batch_first: inputs are (N, L, E) instead of (L, N, E). Default: False.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False, cache=None)``:

    - ``key_padding_mask`` (N, S): True (or -inf) marks keys to ignore.
    - ``attn_mask`` (L, S) or (N * H, L, S): bool (True = may *not* attend, PyTorch's MHA
      convention) or float (added to the scores).
    - ``is_causal``: query i attends keys j <= i + (S - L), i.e. aligned to the last key,
      which is also right when decoding with a cache.
    - ``cache``: a :class:`KVCache`; this call's keys and values are appended to it and the
      queries attend to every cached position. Returns the same as without it.
    - Returns ``(output, weights)``; weights (N, L, S) averaged over heads (or (N, H, L, S)
      with ``average_attn_weights=False``) when ``need_weights``, else None. The weights
      come out of the fused kernel without gradient history.

    >>> import ember
    >>> mha = MultiheadAttention(16, 4, batch_first=True)
    >>> x = ember.randn(2, 5, 16)
    >>> out, w = mha(x, x, x, is_causal=True)
    >>> out.shape, w.shape
    ((2, 5, 16), (2, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be positive, got {embed_dim} and {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise ValueError("MultiheadAttention: add_bias_kv=True and add_zero_attn=True are not supported; pass False")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        kw = dict(dtype=dtype, device=device)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(_creation.empty(3 * embed_dim, embed_dim, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(_creation.empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(_creation.empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(_creation.empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(_creation.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **kw)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    # -- projections -------------------------------------------------------------------

    def _weights(self):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            return (w[:e], bq), (w[e:2 * e], bk), (w[2 * e:], bv)
        return (self.q_proj_weight, bq), (self.k_proj_weight, bk), (self.v_proj_weight, bv)

    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        """(N, L, E), (N, S, kdim), (N, S, vdim) -> q (N, L, E), k (N, S, E), v (N, S, E).

        Three GEMMs on row blocks of the packed weight rather than one GEMM and a split: the
        split's backward would scatter into three zero-filled copies of the (N, L, 3E) output,
        while slicing the weight costs only (3E, E)-sized copies."""
        (wq, bq), (wk, bk), (wv, bv) = self._weights()
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def _heads(self, x: Tensor) -> Tensor:
        n, t, _ = x.shape
        return x.reshape(n, t, self.num_heads, self.head_dim).transpose(1, 2)

    # -- masks -------------------------------------------------------------------------

    def _merge_masks(self, attn_mask, key_padding_mask, n: int, l: int, s: int, like: Tensor):
        """One mask for the fused kernel: bool (True = may attend) or float (added), broadcastable
        to (N, H, L, S); None when there is nothing to mask."""
        am = _as_array(attn_mask, "attn_mask")
        kpm = _as_array(key_padding_mask, "key_padding_mask")
        xp = like._device.backend.xp
        if am is not None:
            if am.ndim == 2:
                if am.shape != (l, s):
                    raise ValueError(f"MultiheadAttention: 2-D attn_mask must have shape ({l}, {s}), got {am.shape}")
            elif am.ndim == 3:
                if am.shape != (n * self.num_heads, l, s):
                    raise ValueError(f"MultiheadAttention: 3-D attn_mask must have shape "
                                     f"({n * self.num_heads}, {l}, {s}), got {am.shape}")
                am = am.reshape(n, self.num_heads, l, s)
            else:
                raise ValueError(f"MultiheadAttention: attn_mask must be 2-D or 3-D, got {am.ndim}-D")
        if kpm is not None:
            if kpm.shape != (n, s):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape ({n}, {s}), got {kpm.shape}")
            kpm = kpm[:, None, None, :]
        masks = [m for m in (am, kpm) if m is not None]
        if not masks:
            return None
        if all(m.dtype.kind == "b" for m in masks):
            blocked = masks[0] if len(masks) == 1 else (masks[0] | masks[1])
            return Tensor._make(~blocked, like._device, None)
        dtype = like._data.dtype
        total = None
        for m in masks:
            add = xp.where(m, -xp.inf, 0).astype(dtype) if m.dtype.kind == "b" else m.astype(dtype, copy=False)
            total = add if total is None else total + add
        return Tensor._make(total, like._device, None)

    # -- forward -----------------------------------------------------------------------

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False, cache: KVCache | None = None):
        unbatched = query.ndim == 2
        same = query is key and key is value
        if unbatched:
            query = query.unsqueeze(0)
            key = query if same else key.unsqueeze(0)
            value = query if same else value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query = query.transpose(0, 1)
            key = query if same else key.transpose(0, 1)
            value = query if same else value.transpose(0, 1)
        if query.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiheadAttention: expected query with last dimension {self.embed_dim}, "
                             f"got shape {tuple(query.shape)}")
        n, l = query.shape[0], query.shape[1]
        q, k, v = self._project(query, key, value)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        if cache is not None:
            k, v = cache.update(k, v)
        s = k.shape[-2]
        mask = self._merge_masks(attn_mask, key_padding_mask, n, l, s, q)
        weights = [] if need_weights else None
        dropout_p = self.dropout if self.training else 0.0
        out = _sdpa(q, k, v, mask, dropout_p, (s - l) if is_causal else None, None, False, weights)
        out = out.transpose(1, 2).reshape(n, l, self.embed_dim)
        out = self.out_proj(out)
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        attn = None
        if need_weights:
            w = weights[0]
            if average_attn_weights:
                w = w.mean(axis=1)
            if unbatched:
                w = w[0]
            attn = Tensor._make(np.ascontiguousarray(w) if isinstance(w, np.ndarray) else w, q._device, None)
        return out, attn

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s
