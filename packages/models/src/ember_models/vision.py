"""Pieces the vision models share: multi-head self-attention with retrievable maps, and
loading Hugging Face / torchvision checkpoints into an ember module by name.

Attention (Vaswani et al., 2017), per head h with queries, keys and values (B, N, D / H):

    A_h = softmax(Q_h K_h^T / sqrt(D / H) + mask),    out = concat_h(A_h V_h)

The product runs through the fused ``F.scaled_dot_product_attention``; the maps A_h are
computed a second time, without gradient, only when asked for (visualization).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

import ember
from ember.nn import functional as F
from ember.serialization import load_file

__all__ = ["self_attention", "CheckpointMismatchError", "read_checkpoint", "read_hf_config", "strip_prefix",
           "load_into"]


def self_attention(q, k, v, num_heads: int, attn_mask=None, is_causal: bool = False, dropout_p: float = 0.0,
                   need_weights: bool = False):
    """Multi-head attention of already projected q, k, v (B, N, D).

    Args:
        q, k, v: (B, N, D) tensors; D is split into ``num_heads`` heads.
        num_heads: H.
        attn_mask: broadcastable to (B, H, N, N): bool (True = may attend) or additive float.
        is_causal: query i attends keys j <= i.
        dropout_p: dropout on the attention probabilities.
        need_weights: also return the maps A (B, H, N, N), detached.

    Returns:
        ``(out (B, N, D), weights or None)``.

    >>> x = ember.randn(2, 5, 8)
    >>> out, w = self_attention(x, x, x, 2, need_weights=True)
    >>> out.shape, w.shape
    ((2, 5, 8), (2, 2, 5, 5))
    """
    b, n, d = q.shape
    hd = d // num_heads

    def heads(t):
        return t.reshape(b, t.shape[1], num_heads, hd).transpose(1, 2)

    qh, kh, vh = heads(q), heads(k), heads(v)
    out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal)
    weights = None
    if need_weights:
        with ember.no_grad():
            scores = (qh.detach() @ kh.detach().transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            m = kh.shape[2]
            if is_causal:
                block = np.triu(np.ones((n, m), dtype=bool), 1)
                scores = scores.masked_fill(ember.tensor(block), float("-inf"))
            if attn_mask is not None:
                if attn_mask.dtype == ember.bool:
                    scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
                else:
                    scores = scores + attn_mask
            weights = F.softmax(scores, dim=-1)
    return out.transpose(1, 2).reshape(b, n, d), weights


# -- checkpoints ---------------------------------------------------------------------------

class CheckpointMismatchError(ValueError):
    """A checkpoint whose tensors don't fit the model: the message names each tensor and both shapes."""


def _weights_file(path) -> Path:
    path = Path(path)
    if path.is_dir():
        for name in ("model.safetensors", "pytorch_model.safetensors"):
            if (path / name).is_file():
                return path / name
        found = sorted(path.glob("*.safetensors"))
        if len(found) == 1:
            return found[0]
        raise FileNotFoundError(f"{path}: expected one model.safetensors (or a single *.safetensors file) in the "
                                f"folder, found {[p.name for p in found]}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file or folder")
    return path


def read_checkpoint(path) -> dict:
    """The tensors of a safetensors file, or of the one ``model.safetensors`` in a folder."""
    return dict(load_file(os.fspath(_weights_file(path))))


def read_hf_config(path) -> dict | None:
    """A Hugging Face ``config.json`` next to (or inside) ``path``, as a dict; None if there is none."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    config = folder / "config.json"
    if config.is_file():
        return json.loads(config.read_text())
    return None


def strip_prefix(state: dict, anchor: str) -> dict:
    """Remove whatever prefix (``"vit."``, ``"model."``, none...) the checkpoint puts before ``anchor``.

    ``anchor`` is a key the model surely has (e.g. ``"embeddings.cls_token"``); the prefix
    found in front of it is removed from every key that has it; other keys are kept as they are.
    """
    hits = [k[: -len(anchor)] for k in state if k == anchor or k.endswith("." + anchor)]
    if not hits:
        raise CheckpointMismatchError(f"the checkpoint has no tensor named {anchor!r} (with or without a prefix); "
                                      f"its first keys are {sorted(state)[:8]}")
    prefix = min(hits, key=len)
    if not prefix:
        return dict(state)
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}


def load_into(model, state: dict, ignore=(), source: str = "checkpoint", allow_missing=()) -> None:
    """Copy ``state`` into ``model`` by name; every mismatch is one line of one error.

    Args:
        model: the ember module.
        state: name -> tensor, already in the model's names.
        ignore: prefixes of checkpoint keys to skip (e.g. ``"pooler."``).
        source: the file, for messages.
        allow_missing: prefixes of model keys the checkpoint may lack (they keep their init).

    Raises:
        CheckpointMismatchError: naming each tensor whose shape differs (both shapes), each
            missing tensor and each unexpected one.
    """
    own = model.state_dict()
    problems = []
    for key, value in state.items():
        if any(key.startswith(p) for p in ignore) or key.endswith("num_batches_tracked") and key not in own:
            continue
        if key not in own:
            problems.append(f"unexpected tensor {key!r} of shape {tuple(value.shape)}")
        elif tuple(value.shape) != tuple(own[key].shape):
            problems.append(f"tensor {key!r}: the checkpoint has shape {tuple(value.shape)}, the model (config) "
                            f"expects {tuple(own[key].shape)}")
    for key in own:
        if key not in state and not any(key.startswith(p) for p in allow_missing) \
                and not key.endswith("num_batches_tracked"):
            problems.append(f"missing tensor {key!r} (shape {tuple(own[key].shape)})")
    if problems:
        raise CheckpointMismatchError(f"{source} does not fit {type(model).__name__}:\n  " + "\n  ".join(problems))
    keep = {k: v for k, v in state.items() if k in own}
    model.load_state_dict(keep, strict=False)
