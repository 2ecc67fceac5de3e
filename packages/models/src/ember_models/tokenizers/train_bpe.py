"""Train a byte-level BPE vocabulary on a corpus (GPT-2's scheme, from scratch).

Start from the 256 byte symbols; repeatedly find the most frequent adjacent pair of
symbols inside the pre-tokenised words (weighted by word frequency), add it as a merge and
a new token, and replace it everywhere, until the vocabulary has ``vocab_size`` entries.
Pair counts are updated incrementally (only the words containing the merged pair are
touched), so each merge costs time proportional to where the pair occurs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable

import regex

from .bpe import GPT2_PATTERN, ByteLevelBPETokenizer, bytes_to_unicode

__all__ = ["train_bpe"]


def _pairs(symbols):
    return zip(symbols, symbols[1:])


def train_bpe(texts: str | Iterable[str], vocab_size: int, special_tokens: Iterable[str] = ("<|endoftext|>",),
              min_frequency: int = 2, pattern: str = GPT2_PATTERN) -> ByteLevelBPETokenizer:
    """Learn ``vocab_size - 256 - len(special_tokens)`` merges on ``texts``.

    Ties between equally frequent pairs go to the lexicographically smallest pair, so training
    is deterministic.

    Args:
        texts: a string or an iterable of strings (documents).
        vocab_size: the final vocabulary size, bytes and special tokens included (>= 256).
        special_tokens: appended after the learned tokens.
        min_frequency: stop early when the best pair occurs fewer times than this.
        pattern: the pre-tokenisation regular expression (GPT-2's by default).

    >>> tok = train_bpe("low lower lowest " * 10, vocab_size=260, special_tokens=())
    >>> tok.vocab_size, tok.decode(tok.encode("lowest")) == "lowest"
    (260, True)
    """
    special_tokens = list(special_tokens)
    if vocab_size < 256 + len(special_tokens):
        raise ValueError(f"train_bpe: vocab_size must be at least 256 + {len(special_tokens)} special tokens, "
                         f"got {vocab_size}")
    if isinstance(texts, str):
        texts = [texts]
    benc = bytes_to_unicode()
    pat = regex.compile(pattern)
    word_counts: Counter = Counter()
    for text in texts:
        word_counts.update(pat.findall(text))
    words = [[benc[b] for b in w.encode("utf-8")] for w in word_counts]
    freqs = list(word_counts.values())

    encoder = {benc[b]: b for b in range(256)}
    pair_counts: Counter = Counter()
    where: dict[tuple, set] = defaultdict(set)
    for idx, (symbols, n) in enumerate(zip(words, freqs)):
        for pair in _pairs(symbols):
            pair_counts[pair] += n
            where[pair].add(idx)

    merges: list[tuple[str, str]] = []
    target = vocab_size - len(special_tokens)
    while len(encoder) < target and pair_counts:
        best = min(pair_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        (a, b), count = best
        if count < min_frequency:
            break
        merges.append((a, b))
        new = a + b
        encoder[new] = len(encoder)
        for idx in list(where.pop((a, b), ())):
            symbols, n = words[idx], freqs[idx]
            for pair in _pairs(symbols):  # remove this word's old pairs
                pair_counts[pair] -= n
                if pair_counts[pair] <= 0:
                    del pair_counts[pair]
            out, i = [], 0
            while i < len(symbols):
                if i < len(symbols) - 1 and symbols[i] == a and symbols[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            words[idx] = out
            for pair in _pairs(out):  # and add its new ones
                pair_counts[pair] += n
                where[pair].add(idx)
        pair_counts.pop((a, b), None)
    return ByteLevelBPETokenizer(encoder, merges, special_tokens, pattern)
