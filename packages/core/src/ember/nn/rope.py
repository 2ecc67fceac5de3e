"""Rotary position embeddings (RoPE, Su et al., 2021): rotate feature pairs by position-dependent angles.

Pair i of a vector at position t is rotated by the angle t * theta_i with
theta_i = base^(-2i / dim), so q . k depends only on the offset between the positions:

    (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)

Two layouts pair the features differently: ``interleaved=False`` (GPT-NeoX / Hugging Face
LLaMA: feature i pairs with feature i + dim/2) and ``interleaved=True`` (the original
LLaMA / GPT-J: features 2i and 2i + 1). With a KV cache, new queries and keys start at
position ``offset`` (the number of cached positions).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dtypes
from ..autograd.function import Function
from ..device import resolve
from ..tensor import Tensor
from .module import Module

__all__ = ["RotaryEmbedding", "apply_rotary_emb", "rotary_cos_sin"]


def rotary_cos_sin(dim: int, seq_len: int, base: float = 10000.0, dtype=None, device=None,
                   start: int = 0) -> tuple[Tensor, Tensor]:
    """cos and sin of the rotation angles t * base^(-2i/dim), each of shape (seq_len, dim // 2).

    Args:
        dim: the number of rotated features (even).
        seq_len: how many positions, starting at ``start``.
        base: the frequency base (10000 in the paper; larger for long contexts).

    >>> cos, sin = rotary_cos_sin(4, 3)
    >>> cos.shape, [round(v, 4) for v in sin.tolist()[1]]
    ((3, 2), [0.8415, 0.01])
    """
    if dim <= 0 or dim % 2:
        raise ValueError(f"rotary_cos_sin: dim must be a positive even number, got {dim}")
    dtype = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()
    inv_freq = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    angles = np.arange(start, start + seq_len, dtype=np.float64)[:, None] * inv_freq[None, :]
    dev = resolve(device)
    make = lambda a: Tensor._make(dev.backend.from_numpy(a.astype(dtype.numpy), dev.index or 0), dev, None)  # noqa: E731
    return make(np.cos(angles)), make(np.sin(angles))


def _halves(x, rot: int, interleaved: bool):
    if interleaved:
        return x[..., 0:rot:2], x[..., 1:rot:2]
    half = rot // 2
    return x[..., :half], x[..., half:rot]


def _rotate(xp, x, cos, sin, interleaved: bool):
    """Rotate the first 2 * cos.shape[-1] features of x by the angles (sin < 0 undoes it)."""
    rot = 2 * cos.shape[-1]
    if not interleaved and rot == x.shape[-1]:
        return _rotate_halves(xp, x, cos, sin)
    out = xp.empty_like(x)
    x1, x2 = _halves(x, rot, interleaved)
    o1, o2 = _halves(out, rot, interleaved)
    xp.multiply(x1, cos, out=o1)
    o1 -= x2 * sin
    xp.multiply(x2, cos, out=o2)
    o2 += x1 * sin
    if rot < x.shape[-1]:
        out[..., rot:] = x[..., rot:]
    return out


def _rotate_halves(xp, x, cos, sin):
    """The same rotation when the halves of every feature vector pair up (the usual case), as
    out = x * [cos, cos] + [x2, x1] * [-sin, sin]: the same products and sums, but on whole rows,
    which NumPy walks as one long loop instead of a short one per half row (about 3x faster)."""
    half = cos.shape[-1]
    swapped = xp.empty_like(x)
    swapped[..., :half] = x[..., half:]
    swapped[..., half:] = x[..., :half]
    swapped *= xp.concatenate([-sin, sin], axis=-1)
    out = x * xp.concatenate([cos, cos], axis=-1)
    out += swapped
    return out


class Rotary(Function):
    """Rotation by precomputed cos/sin tables. ``base`` and ``offset`` describe the same angles
    (``offset + t`` times ``base ** (-2i / rot)``) for backends that compute them on the fly."""

    def forward(self, x, cos, sin, interleaved, base=None, offset=0):
        self.cos, self.sin, self.interleaved = cos, sin, interleaved
        return _rotate(self.xp, x, cos, sin, interleaved)

    def backward(self, grad):
        # the transpose of a rotation is the rotation by the opposite angle
        return _rotate(self.xp, grad, self.cos, -self.sin, self.interleaved)


def apply_rotary_emb(x: Tensor, cos: Tensor, sin: Tensor, offset: int = 0, interleaved: bool = False, *,
                     base: float | None = None) -> Tensor:
    """Rotate x (*, T, D) for positions offset .. offset + T - 1.

    Args:
        x: queries or keys, (B, H, T, D) or any (*, T, D).
        cos, sin: (T_max, R/2) tables from :func:`rotary_cos_sin`, R <= D the rotated
            features (the rest pass through unchanged); T_max >= offset + T.
        offset: the position of x's first step (the KV cache length when decoding).
        interleaved: pair features (2i, 2i+1) instead of (i, i + R/2).
        base: the frequency base the tables were made with, if known: a backend with a fused
            rotary kernel (MLX's ``mx.fast.rope``) then computes the angles itself.

    >>> import ember
    >>> cos, sin = rotary_cos_sin(4, 8)
    >>> x = ember.ones(1, 1, 2, 4)
    >>> y = apply_rotary_emb(x, cos, sin)
    >>> bool((y[0, 0, 0] == x[0, 0, 0]).all())   # position 0 is not rotated
    True
    """
    t = x.shape[-2]
    half = cos.shape[-1]
    if 2 * half > x.shape[-1]:
        raise ValueError(f"apply_rotary_emb: tables rotate {2 * half} features but x has only {x.shape[-1]}")
    if offset + t > cos.shape[0]:
        raise ValueError(f"apply_rotary_emb: positions up to {offset + t} need tables of at least that length, "
                         f"got {cos.shape[0]}")
    dtype = x._data.dtype
    c = cos._data[offset:offset + t].astype(dtype, copy=False)
    s = sin._data[offset:offset + t].astype(dtype, copy=False)
    return Rotary.apply(x, cos=c, sin=s, interleaved=bool(interleaved), base=base, offset=offset)


class RotaryEmbedding(Module):
    """Applies rotary position embeddings to queries or keys of shape (B, H, T, D).

    The cos/sin tables are non-persistent buffers (not in ``state_dict``), grown on demand
    when a longer sequence arrives.

    Args:
        dim: the number of rotated features per head (even, at most the head size).
        max_seq_len: the initial table length.
        base: the frequency base.
        interleaved: pair features (2i, 2i+1) instead of (i, i + dim/2).

    >>> import ember
    >>> rope = RotaryEmbedding(8)
    >>> q = ember.randn(2, 4, 5, 8)
    >>> rope(q).shape, rope(q[:, :, -1:], offset=4).shape
    ((2, 4, 5, 8), (2, 4, 1, 8))
    """

    def __init__(self, dim: int, max_seq_len: int = 2048, base: float = 10000.0, interleaved: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.dim, self.base, self.interleaved = dim, base, interleaved
        cos, sin = rotary_cos_sin(dim, max_seq_len, base, dtype=dtype, device=device)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def _grow(self, length: int) -> None:
        n = self.cos.shape[0]
        while n < length:
            n *= 2
        cos, sin = rotary_cos_sin(self.dim, n, self.base, dtype=self.cos.dtype, device=self.cos.device)
        self._buffers["cos"], self._buffers["sin"] = cos, sin

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        if offset + x.shape[-2] > self.cos.shape[0]:
            self._grow(offset + x.shape[-2])
        return apply_rotary_emb(x, self.cos, self.sin, offset, self.interleaved, base=self.base)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, base={self.base}, interleaved={self.interleaved}"
