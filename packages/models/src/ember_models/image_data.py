"""Small image data for the vision models: scikit-learn digits and Fashion-MNIST, fitted to a
model's input, and class captions ("a photo of a sandal") with a word-level tokenizer for CLIP.

>>> images, labels = load_images("digits", size=16, channels=3, limit=4)  # doctest: +SKIP
>>> images.shape  # doctest: +SKIP
(4, 3, 16, 16)
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["CLASS_NAMES", "resize", "load_images", "captions", "CaptionTokenizer", "clip_pairs"]

CLASS_NAMES = {
    "digits": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "fashion-mnist": ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"],
}


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (N, C, H, W) images to (N, C, size, size) (half-pixel centres, as
    PyTorch's ``interpolate(mode="bilinear", align_corners=False)``).

    >>> resize(np.ones((1, 1, 8, 8), np.float32), 16).shape
    (1, 1, 16, 16)
    """
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images.astype(np.float32, copy=False)

    def axis(src):
        pos = np.clip((np.arange(size) + 0.5) * src / size - 0.5, 0, src - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, src - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    rows = images[:, :, y0] * (1 - fy)[:, None] + images[:, :, y1] * fy[:, None]
    return (rows[..., x0] * (1 - fx) + rows[..., x1] * fx).astype(np.float32)


def load_images(name: str = "digits", split: str = "train", size: int | None = None, channels: int = 1,
                limit: int | None = None, normalize: bool = True):
    """Images of ``ember.data.datasets.load(name)`` fitted to a model: (N, channels, size, size) float32.

    Args:
        name: "digits" (8x8) or "fashion-mnist" (28x28).
        split: "train" or "test".
        size: side of the output (bilinear resize); None keeps the dataset's.
        channels: 1, or 3 (the grey channel repeated, for RGB models).
        limit: keep the first ``limit`` images.
        normalize: map [0, 1] pixels to [-1, 1].

    Returns:
        ``(images, labels)`` as NumPy arrays (float32, int64).
    """
    from ember.data import datasets

    images, labels = datasets.load(name, split=split).tensors
    images, labels = images.numpy(), labels.numpy()
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    if size is not None:
        images = resize(images, size)
    if channels == 3:
        images = np.repeat(images, 3, axis=1)
    elif channels != 1:
        raise ValueError(f"load_images: channels must be 1 or 3, got {channels}")
    if normalize:
        images = images * 2 - 1
    return np.ascontiguousarray(images, dtype=np.float32), labels.astype(np.int64)


def captions(name: str, template: str = "a photo of a {}") -> list[str]:
    """One caption per class: ``captions("fashion-mnist")[5] == "a photo of a sandal"``."""
    if name not in CLASS_NAMES:
        raise ValueError(f"captions: no class names for {name!r}; known: {sorted(CLASS_NAMES)}")
    return [template.format(c) for c in CLASS_NAMES[name]]


class CaptionTokenizer:
    """A word-level tokenizer over a fixed word list, framing each text as <bos> words <eos>.

    Ids: 0 = <pad>, 1 = <eos> (CLIP's ``eos_token_id``: the text tower is pooled there),
    2 = <bos>, then the words in order. Unknown words map to <pad>'s neighbour ``unk_id``.

    >>> tok = CaptionTokenizer.from_texts(["a photo of a sandal"])
    >>> ids, mask = tok(["a photo of a sandal"], length=8)
    >>> ids.tolist(), mask.tolist()
    ([[2, 4, 5, 6, 4, 7, 1, 0]], [[1, 1, 1, 1, 1, 1, 1, 0]])
    """

    pad_id, eos_id, bos_id, unk_id = 0, 1, 2, 3

    def __init__(self, words) -> None:
        self.vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3}
        for w in words:
            self.vocab.setdefault(w, len(self.vocab))

    @staticmethod
    def split(text: str) -> list[str]:
        return re.findall(r"[a-z0-9]+", text.lower())

    @classmethod
    def from_texts(cls, texts) -> "CaptionTokenizer":
        return cls([w for t in texts for w in cls.split(t)])

    def __len__(self) -> int:
        return len(self.vocab)

    def __call__(self, texts, length: int):
        """(ids (B, length) int64, attention_mask (B, length) int64); texts too long are cut before <eos>."""
        ids = np.full((len(texts), length), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.int64)
        for i, t in enumerate(texts):
            toks = [self.bos_id] + [self.vocab.get(w, self.unk_id) for w in self.split(t)][: length - 2] + [self.eos_id]
            ids[i, :len(toks)] = toks
            mask[i, :len(toks)] = 1
        return ids, mask


def clip_pairs(name: str = "digits", split: str = "train", size: int | None = None, channels: int = 1,
               limit: int | None = None, template: str = "a photo of a {}", length: int = 8):
    """Image-caption pairs for CLIP: each image with its class caption.

    Returns:
        ``dict(images, labels, input_ids, attention_mask, class_ids, class_mask, tokenizer)``:
        per-image caption tokens, and one caption per class for zero-shot classification.
    """
    images, labels = load_images(name, split, size, channels, limit)
    texts = captions(name, template)
    tok = CaptionTokenizer.from_texts(texts)
    class_ids, class_mask = tok(texts, length)
    return dict(images=images, labels=labels, input_ids=class_ids[labels], attention_mask=class_mask[labels],
                class_ids=class_ids, class_mask=class_mask, tokenizer=tok)
