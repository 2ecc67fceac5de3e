"""Autoregressive decoding for the zoo's language models: greedy, temperature, top-k and top-p
sampling with stop tokens, over a KV cache; and perplexity evaluation.

A model fits if ``model(input_ids, cache=cache) -> logits (B, T, V)``, it has
``make_cache()`` and (optionally) ``max_seq_len``. Each step feeds only the new token; when
the context would pass ``max_seq_len`` the cache is dropped and the last ``max_seq_len - 1``
tokens are re-encoded (a sliding window).

Sampling from logits z with temperature tau: p = softmax(z / tau); top-k keeps the k largest
p; top-p (nucleus, Holtzman et al., 2019) keeps the smallest set of largest p whose mass
reaches p; the kept p are renormalised and one token is drawn.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

import ember

__all__ = ["generate", "sample_next", "filter_logits", "perplexity"]


def filter_logits(logits: np.ndarray, top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """Set to -inf every logit outside the top-k and outside the top-p nucleus (rows of (B, V)).

    >>> filter_logits(np.array([[1.0, 3.0, 2.0]]), top_k=2).tolist()
    [[-inf, 3.0, 2.0]]
    """
    logits = np.array(logits, dtype=np.float64, copy=True)
    v = logits.shape[-1]
    if top_k is not None and 0 < top_k < v:
        kth = np.partition(logits, v - top_k, axis=-1)[..., v - top_k:v - top_k + 1]
        logits[logits < kth] = -np.inf
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-logits, axis=-1, kind="stable")
        sorted_logits = np.take_along_axis(logits, order, axis=-1)
        probs = np.exp(sorted_logits - sorted_logits[..., :1])
        probs /= probs.sum(axis=-1, keepdims=True)
        # drop a token when the mass before it already reaches top_p (the first is always kept)
        before = np.cumsum(probs, axis=-1) - probs
        drop_sorted = before >= top_p
        drop = np.zeros_like(drop_sorted)
        np.put_along_axis(drop, order, drop_sorted, axis=-1)
        logits[drop] = -np.inf
    return logits


def sample_next(logits, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """One token id per row of ``logits`` (B, V): argmax when ``temperature == 0``, else a draw.

    >>> sample_next(np.array([[0.0, 5.0, 1.0]]), temperature=0).tolist()
    [1]
    """
    logits = np.asarray(logits, dtype=np.float64)
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if temperature == 0:
        return logits.argmax(axis=-1)
    z = filter_logits(logits / temperature, top_k, top_p)
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    rng = rng if rng is not None else ember.default_generator.numpy
    u = rng.random((p.shape[0], 1))
    idx = (np.cumsum(p, axis=-1) < u).sum(axis=-1)
    return np.minimum(idx, p.shape[-1] - 1)


def model_device(model):
    """The device of a model's parameters (cpu for a model without any)."""
    for p in model.parameters() if hasattr(model, "parameters") else ():
        return p.device
    return ember.device("cpu")


def _as_ids(input_ids) -> tuple[np.ndarray, bool]:
    if isinstance(input_ids, ember.Tensor):
        arr = input_ids.numpy()
    else:
        arr = np.asarray(input_ids)
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise ValueError(f"generate: input_ids must be (T,) or (B, T) with T >= 1, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"generate: input_ids must be integers, got dtype {arr.dtype}")
    return (arr[None] if arr.ndim == 1 else arr).astype(np.int64), arr.ndim == 1


def generate(model, input_ids, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, do_sample: bool = True, stop_tokens: Iterable[int] | int | None = None,
             pad_token: int | None = None, generator: ember.Generator | None = None, use_cache: bool = True):
    """Extend ``input_ids`` by up to ``max_new_tokens`` tokens.

    Args:
        model: a language model (see the module docstring).
        input_ids: (T,) or (B, T) token ids (a Tensor, array or list).
        max_new_tokens: how many tokens to add at most.
        temperature: softmax temperature; 0 means greedy.
        top_k, top_p: keep only the k most likely tokens / the nucleus of mass p.
        do_sample: False decodes greedily (same as temperature=0).
        stop_tokens: ids that end a sequence (kept in the output); a row that has stopped is
            padded with ``pad_token`` (default: the first stop token), and decoding ends early
            once every row has stopped.
        generator: an ``ember.Generator``; default ember's global one, so ``ember.manual_seed``
            makes sampling reproducible.
        use_cache: decode with a KV cache (False re-runs the whole context each step).

    Returns:
        an int64 Tensor shaped like ``input_ids`` with the new tokens appended.

    >>> import ember
    >>> from ember_models.gpt2 import GPT2LMHeadModel, GPT2Config
    >>> model = GPT2LMHeadModel(GPT2Config(vocab_size=16, n_positions=8, n_embd=8, n_layer=1, n_head=2))
    >>> generate(model, [1, 2], max_new_tokens=3, temperature=0).shape
    (5,)
    """
    ids, flat = _as_ids(input_ids)
    if max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be >= 0, got {max_new_tokens}")
    stops = {stop_tokens} if isinstance(stop_tokens, (int, np.integer)) else set(stop_tokens or ())
    if pad_token is None:
        pad_token = min(stops) if stops else 0
    greedy = (not do_sample) or temperature == 0
    rng = (generator or ember.default_generator).numpy
    max_len = getattr(model, "max_seq_len", None)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    device = model_device(model)
    b = ids.shape[0]
    done = np.zeros(b, dtype=bool)
    out = [ids]
    try:
        with ember.no_grad():
            cache = model.make_cache() if use_cache and hasattr(model, "make_cache") else None
            context = ids if max_len is None else ids[:, -max_len:]
            feed = context
            for _ in range(max_new_tokens):
                feed_t = ember.tensor(feed, device=device)
                logits = model(feed_t, cache=cache) if cache is not None else model(feed_t)
                last = logits[:, -1].numpy()
                nxt = sample_next(last, 0 if greedy else temperature, top_k, top_p, rng).astype(np.int64)
                nxt = np.where(done, pad_token, nxt)
                out.append(nxt[:, None])
                done |= np.isin(nxt, list(stops)) if stops else False
                if done.all():
                    break
                context = np.concatenate([context, nxt[:, None]], axis=1)
                if max_len is not None and context.shape[1] > max_len:
                    context = context[:, -(max_len - 1):] if cache is not None else context[:, -max_len:]
                    if cache is not None:
                        cache = model.make_cache()
                        feed = context
                        continue
                feed = nxt[:, None] if cache is not None else context
    finally:
        if was_training:
            model.train()
    result = np.concatenate(out, axis=1)
    return ember.tensor(result[0] if flat else result, device=input_ids.device if isinstance(input_ids, ember.Tensor)
                        else device)


def perplexity(model, token_ids, block_size: int, batch_size: int = 8, max_blocks: int | None = None) -> float:
    """exp(mean next-token cross-entropy) of ``model`` on ``token_ids`` in non-overlapping blocks.

    PPL = exp(-1/N sum_i log p(x_i | x_<i)), each block predicting its tokens 2..block_size+1
    from the ones before them inside the block.

    Args:
        token_ids: a 1-D sequence of ids (at least block_size + 1 of them).
        block_size: the context length of each block.
        max_blocks: evaluate at most this many blocks (the first ones).
    """
    from ember.nn import functional as F

    ids = np.asarray(token_ids.numpy() if isinstance(token_ids, ember.Tensor) else token_ids, dtype=np.int64)
    n = (len(ids) - 1) // block_size
    if n < 1:
        raise ValueError(f"perplexity: need at least block_size + 1 = {block_size + 1} tokens, got {len(ids)}")
    if max_blocks is not None:
        n = min(n, max_blocks)
    x = ids[:n * block_size].reshape(n, block_size)
    y = ids[1:n * block_size + 1].reshape(n, block_size)
    was_training = getattr(model, "training", False)
    model.eval()
    total, count = 0.0, 0
    device = model_device(model)
    try:
        with ember.no_grad():
            for s in range(0, n, batch_size):
                logits = model(ember.tensor(x[s:s + batch_size], device=device))
                v = logits.shape[-1]
                loss = F.cross_entropy(logits.reshape(-1, v),
                                       ember.tensor(y[s:s + batch_size].reshape(-1), device=device), reduction="sum")
                total += float(loss.item())
                count += y[s:s + batch_size].size
    finally:
        if was_training:
            model.train()
    return math.exp(total / count)
