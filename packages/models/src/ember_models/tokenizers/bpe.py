"""Byte-level BPE (Sennrich et al., 2016; Radford et al., 2019): GPT-2's tokenizer.

Text is split by a regular expression into words (contractions, letter runs, digit runs,
punctuation runs, whitespace), each word's UTF-8 bytes are mapped to printable unicode
characters (``bytes_to_unicode``), then adjacent symbols are merged greedily, always taking
the pair with the lowest merge rank, until no ranked pair is left. Each final symbol is a
vocabulary entry. Decoding concatenates the entries and maps the characters back to bytes,
so every byte string round-trips exactly.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import regex

__all__ = ["ByteLevelBPETokenizer", "bytes_to_unicode", "GPT2_PATTERN"]

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


@lru_cache(maxsize=None)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable unicode characters.

    Printable Latin-1 bytes map to themselves; the other 68 go to U+0100 onwards, so no
    vocabulary entry contains whitespace or control characters.

    >>> m = bytes_to_unicode()
    >>> m[ord("a")], m[ord(" ")]
    ('a', 'Ġ')
    """
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class ByteLevelBPETokenizer:
    """A byte-level BPE tokenizer: a vocabulary (token -> id), ranked merges and special tokens.

    Args:
        encoder: token string (in the byte-to-unicode alphabet) -> id.
        merges: merge pairs, highest priority first.
        special_tokens: strings (e.g. ``"<|endoftext|>"``) that encode to one id and are
            never split; ids missing from ``encoder`` are appended after it.
        pattern: the pre-tokenisation regular expression.

    >>> tok = ByteLevelBPETokenizer({c: i for i, c in enumerate(bytes_to_unicode().values())}, [])
    >>> tok.decode(tok.encode("héllo")) == "héllo"
    True
    """

    def __init__(self, encoder: dict[str, int], merges: Iterable[tuple[str, str]],
                 special_tokens: Iterable[str] = (), pattern: str = GPT2_PATTERN) -> None:
        self.encoder = dict(encoder)
        self.bpe_ranks = {tuple(pair): i for i, pair in enumerate(merges)}
        self.pattern = pattern
        self._pat = regex.compile(pattern)
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        self.special_tokens: dict[str, int] = {}
        for tok in special_tokens:
            if tok not in self.encoder:
                self.encoder[tok] = len(self.encoder)
            self.special_tokens[tok] = self.encoder[tok]
        self.decoder = {i: t for t, i in self.encoder.items()}
        self._special_pat = (regex.compile("(" + "|".join(regex.escape(s) for s in
                                                          sorted(self.special_tokens, key=len, reverse=True)) + ")")
                             if self.special_tokens else None)
        self._cache: dict[str, list[str]] = {}

    # -- files -------------------------------------------------------------------------

    @classmethod
    def from_files(cls, encoder_json, vocab_bpe, special_tokens: Iterable[str] = ("<|endoftext|>",),
                   pattern: str = GPT2_PATTERN) -> "ByteLevelBPETokenizer":
        """Load GPT-2's ``encoder.json`` (token -> id) and ``vocab.bpe`` (one merge per line)."""
        with open(encoder_json, encoding="utf-8") as f:
            encoder = json.load(f)
        merges = []
        with open(vocab_bpe, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#version"):
                    continue
                parts = line.split(" ")
                if len(parts) != 2:
                    raise ValueError(f"{vocab_bpe}: expected 'left right' merge lines, got {line!r}")
                merges.append((parts[0], parts[1]))
        return cls(encoder, merges, special_tokens, pattern)

    def save(self, folder) -> None:
        """Write ``encoder.json`` and ``vocab.bpe`` to ``folder`` (GPT-2's file formats)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "encoder.json").write_text(json.dumps(self.encoder, ensure_ascii=False), encoding="utf-8")
        merges = sorted(self.bpe_ranks, key=self.bpe_ranks.get)
        (folder / "vocab.bpe").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges),
                                          encoding="utf-8")

    # -- encoding ----------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    def __len__(self) -> int:
        return len(self.encoder)

    def _bpe(self, word: str) -> list[str]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        parts = list(word)
        ranks = self.bpe_ranks
        while len(parts) > 1:
            best, best_rank = None, None
            for i in range(len(parts) - 1):
                r = ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            first, second = parts[best], parts[best + 1]
            merged, i = [], 0
            while i < len(parts):  # merge every occurrence of the pair, left to right
                if i < len(parts) - 1 and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        if len(self._cache) < 100_000:
            self._cache[word] = parts
        return parts

    def _encode_ordinary(self, text: str) -> list[int]:
        ids = []
        enc, benc = self.encoder, self.byte_encoder
        for word in self._pat.findall(text):
            mapped = "".join(benc[b] for b in word.encode("utf-8"))
            for tok in self._bpe(mapped):
                try:
                    ids.append(enc[tok])
                except KeyError:
                    raise ValueError(f"token {tok!r} (from {word!r}) is not in the vocabulary") from None
        return ids

    def encode(self, text: str, allowed_special: str | Iterable[str] = "all") -> list[int]:
        """Token ids of ``text``.

        Args:
            text: any string.
            allowed_special: ``"all"`` (default) encodes special-token strings as their single
                ids; an empty collection treats them as ordinary text; or a set of the allowed ones.

        >>> from ember_models.tokenizers import gpt2_tokenizer
        >>> gpt2_tokenizer().encode("Hello world<|endoftext|>")
        [15496, 995, 50256]
        """
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        if not allowed or self._special_pat is None:
            return self._encode_ordinary(text)
        ids: list[int] = []
        for piece in self._special_pat.split(text):
            if not piece:
                continue
            if piece in allowed:
                ids.append(self.special_tokens[piece])
            else:
                ids.extend(self._encode_ordinary(piece))
        return ids

    def encode_batch(self, texts: Iterable[str], **kwargs) -> list[list[int]]:
        return [self.encode(t, **kwargs) for t in texts]

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of ``ids`` (special tokens as their UTF-8 text)."""
        out = bytearray()
        for i in ids:
            i = int(i)
            tok = self.decoder.get(i)
            if tok is None:
                raise ValueError(f"token id {i} is out of range for a vocabulary of {len(self.encoder)}")
            if tok in self.special_tokens:
                out += tok.encode("utf-8")
            else:
                out += bytes(self.byte_decoder[c] for c in tok)
        return bytes(out)

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text of ``ids``; invalid UTF-8 (a split multi-byte character) uses ``errors``."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def token_to_id(self, token: str) -> int | None:
        return self.encoder.get(token)

    @property
    def eot_token(self) -> int | None:
        """The id of ``<|endoftext|>``, if it is a special token."""
        return self.special_tokens.get("<|endoftext|>")

    def __repr__(self) -> str:
        return f"ByteLevelBPETokenizer(vocab_size={self.vocab_size}, special_tokens={list(self.special_tokens)})"
