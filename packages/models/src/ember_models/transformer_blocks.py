"""Pieces shared by the zoo's decoder-only language models (GPT-2, Llama).

- :func:`causal_attention`: softmax(Q K^T / sqrt(d)) V with a causal mask aligned to the last
  key, so it is right both for a full sequence and for new steps appended to a KV cache.
- :func:`lm_loss`: next-token cross-entropy of (B, T, V) logits against (B, T) targets.
- :func:`init_gpt_weights`: GPT-2's initialisation, N(0, 0.02) with scaled residual projections.
"""

from __future__ import annotations

import math

import numpy as np

import ember
from ember import nn
from ember.nn import functional as F

__all__ = ["causal_attention", "lm_loss", "init_gpt_weights", "make_caches"]


def causal_attention(q, k, v, dropout_p: float = 0.0, enable_gqa: bool = False):
    """Causal scaled dot-product attention of L new queries over S >= L keys.

    Query i (the (S - L + i)-th position) attends keys j <= S - L + i:

        out = softmax(Q K^T / sqrt(d) + M) V,  M_ij = 0 if j <= S - L + i else -inf

    Args:
        q: (B, H, L, d); k, v: (B, H_kv, S, d) with H a multiple of H_kv when ``enable_gqa``.

    >>> q = ember.randn(1, 2, 3, 4)
    >>> causal_attention(q, q, q).shape
    (1, 2, 3, 4)
    """
    l, s = q.shape[-2], k.shape[-2]
    if l == s:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True, enable_gqa=enable_gqa)
    if l == 1:  # one new step sees every cached key
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, enable_gqa=enable_gqa)
    allowed = np.arange(s)[None, :] <= (np.arange(l)[:, None] + (s - l))
    mask = ember.tensor(allowed, device=q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, enable_gqa=enable_gqa)


def lm_loss(logits, targets, ignore_index: int = -100):
    """Mean cross-entropy of ``logits`` (B, T, V) against ``targets`` (B, T).

    loss = -1/N sum_{b,t} log softmax(logits_bt)[targets_bt], over targets != ignore_index.
    """
    v = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, v), targets.reshape(-1), ignore_index=ignore_index)


def init_gpt_weights(model: nn.Module, n_layer: int, std: float = 0.02, residual_names=("c_proj", "o_proj",
                                                                                       "down_proj")) -> None:
    """GPT-2's initialisation: Linear and Embedding weights ~ N(0, std), biases 0, norms 1;
    the projections into the residual stream get std / sqrt(2 n_layer) (Radford et al., 2019)."""
    with ember.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear):
                scaled = name.rsplit(".", 1)[-1] in residual_names
                nn.init.normal_(module.weight, 0.0, std / math.sqrt(2 * n_layer) if scaled else std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, 0.0, std)


def make_caches(n_layer: int) -> list:
    """One empty :class:`ember.nn.KVCache` per layer."""
    return [nn.KVCache() for _ in range(n_layer)]
