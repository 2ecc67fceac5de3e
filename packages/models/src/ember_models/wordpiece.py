"""BERT's WordPiece tokenizer, offline: a ``vocab.txt`` in, Hugging Face ``BertTokenizer``'s ids out.

Two stages, as in the original BERT code:

1. Basic tokenization: drop control characters, put spaces around CJK ideographs, split on
   whitespace, lower-case and strip accents (NFD, then drop combining marks), and split
   every punctuation character off as its own token.
2. WordPiece: each word becomes the greedy longest-match-first sequence of vocabulary
   pieces (``un``, ``##aff``, ``##able``); a word with no such split (or longer than 100
   characters) becomes ``[UNK]``.

``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]`` with token types 0 / 1, truncation to
``max_length`` (Hugging Face's longest-first rule for pairs), padding and the attention mask
come on top. :func:`build_vocab` learns a small vocabulary from a corpus, so a BERT can be
trained from scratch with nothing downloaded.
"""

from __future__ import annotations

import collections
import os
import re
import unicodedata
from typing import Iterable, Sequence

__all__ = ["BasicTokenizer", "WordPieceTokenizer", "build_vocab", "SPECIAL_TOKENS"]

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # All non-letter/number ASCII counts as punctuation ("$", "^", "`"...), as in BERT's code.
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


class BasicTokenizer:
    """Cleaning, lower-casing, accent stripping and punctuation splitting (no vocabulary).

    Args:
        do_lower_case: lower-case the text (and strip accents, unless ``strip_accents=False``).
        tokenize_chinese_chars: put spaces around CJK ideographs (one token each).
        strip_accents: default: follows ``do_lower_case``.
        never_split: tokens kept whole (the special tokens).

    >>> BasicTokenizer().tokenize("Héllo, World!")
    ['hello', ',', 'world', '!']
    """

    def __init__(self, do_lower_case: bool = True, tokenize_chinese_chars: bool = True,
                 strip_accents: bool | None = None, never_split: Iterable[str] = ()) -> None:
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = do_lower_case if strip_accents is None else strip_accents
        self.never_split = set(never_split)

    def _clean(self, text: str) -> str:
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_whitespace(ch):
                out.append(" ")
            elif self.tokenize_chinese_chars and _is_cjk(cp):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        return "".join(out)

    def _split_punctuation(self, word: str) -> list[str]:
        pieces, current = [], []
        for ch in word:
            if _is_punctuation(ch):
                if current:
                    pieces.append("".join(current))
                    current = []
                pieces.append(ch)
            else:
                current.append(ch)
        if current:
            pieces.append("".join(current))
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The words and punctuation marks of ``text``."""
        tokens = []
        for word in self._clean(text).split():
            if word in self.never_split:
                tokens.append(word)
                continue
            if self.do_lower_case:
                word = word.lower()
            if self.strip_accents:
                word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
            tokens.extend(self._split_punctuation(word))
        return tokens


def _load_vocab(path) -> dict[str, int]:
    vocab: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            token = line.rstrip("\n")
            if token and token not in vocab:
                vocab[token] = len(vocab)
    return vocab


class WordPieceTokenizer:
    """BERT's tokenizer: text -> ``input_ids``, ``token_type_ids``, ``attention_mask``.

    Args:
        vocab: a ``vocab.txt`` path (one token a line, the line number is the id) or a
            ``{token: id}`` dict.
        do_lower_case, tokenize_chinese_chars, strip_accents: as :class:`BasicTokenizer`.
        unk_token, sep_token, pad_token, cls_token, mask_token: the special tokens.
        max_input_chars_per_word: longer words become ``[UNK]``.

    >>> tok = WordPieceTokenizer({t: i for i, t in enumerate(
    ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!"])})
    >>> tok.tokenize("Unaffable!")
    ['un', '##aff', '##able', '!']
    >>> tok("Unaffable!")["input_ids"]
    [2, 5, 6, 7, 8, 3]
    """

    def __init__(self, vocab, do_lower_case: bool = True, tokenize_chinese_chars: bool = True,
                 strip_accents: bool | None = None, unk_token: str = "[UNK]", sep_token: str = "[SEP]",
                 pad_token: str = "[PAD]", cls_token: str = "[CLS]", mask_token: str = "[MASK]",
                 max_input_chars_per_word: int = 100) -> None:
        self.vocab = dict(vocab) if isinstance(vocab, dict) else _load_vocab(vocab)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        specials = [unk_token, sep_token, pad_token, cls_token, mask_token]
        missing = [t for t in specials if t not in self.vocab]
        if missing:
            raise ValueError(f"WordPieceTokenizer: the vocabulary lacks the special token(s) {missing}")
        self.basic = BasicTokenizer(do_lower_case, tokenize_chinese_chars, strip_accents, never_split=specials)
        self.max_input_chars_per_word = max_input_chars_per_word

    @classmethod
    def from_file(cls, path, **kwargs) -> "WordPieceTokenizer":
        """Read ``vocab.txt`` (or a folder holding one)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "vocab.txt")
        if not os.path.exists(path):
            raise FileNotFoundError(f"WordPieceTokenizer: no vocabulary file {path!r}")
        return cls(path, **kwargs)

    def save(self, path) -> None:
        """Write the vocabulary as ``vocab.txt`` (ids in order)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.ids_to_tokens[i] for i in range(len(self.ids_to_tokens))) + "\n")

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _id(self, name: str) -> int:
        return self.vocab[getattr(self, name)]

    pad_token_id = property(lambda self: self._id("pad_token"))
    unk_token_id = property(lambda self: self._id("unk_token"))
    cls_token_id = property(lambda self: self._id("cls_token"))
    sep_token_id = property(lambda self: self._id("sep_token"))
    mask_token_id = property(lambda self: self._id("mask_token"))

    def wordpiece(self, word: str) -> list[str]:
        """Greedy longest-match-first: the longest vocabulary prefix, then ``##`` pieces of the rest."""
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            piece = None
            while start < end:
                candidate = word[start:end] if start == 0 else "##" + word[start:end]
                if candidate in self.vocab:
                    piece = candidate
                    break
                end -= 1
            if piece is None:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The WordPiece tokens of ``text`` (no [CLS]/[SEP])."""
        out = []
        # Special tokens written in the text ("the [MASK] sat") stay whole, as in Hugging Face.
        specials = sorted(self.basic.never_split, key=len, reverse=True)
        for i, segment in enumerate(re.split("(" + "|".join(map(re.escape, specials)) + ")", text)):
            if i % 2:
                out.append(segment)
                continue
            for word in self.basic.tokenize(segment):
                out.extend(self.wordpiece(word))
        return out

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        unk = self.unk_token_id
        return [self.vocab.get(t, unk) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, int):
            return self.ids_to_tokens[ids]
        return [self.ids_to_tokens[int(i)] for i in ids]

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """Tokens joined with spaces, ``##`` pieces glued to the piece before."""
        specials = {self.pad_token, self.cls_token, self.sep_token, self.mask_token}
        tokens = [t for t in self.convert_ids_to_tokens(ids) if not (skip_special_tokens and t in specials)]
        return " ".join(tokens).replace(" ##", "")

    def encode(self, text: str, text_pair: str | None = None, max_length: int | None = None,
               truncation: bool = False) -> dict[str, list[int]]:
        """One example: ``[CLS] A [SEP] (B [SEP])``, token types 0 for A and 1 for B, mask of ones.

        With ``truncation`` and ``max_length``, the pieces are cut to fit (pairs: Hugging
        Face's longest-first rule, below).
        """
        a = self.convert_tokens_to_ids(self.tokenize(text))
        b = self.convert_tokens_to_ids(self.tokenize(text_pair)) if text_pair is not None else None
        if truncation and max_length is not None:
            a, b = _truncate(a, b, max_length - (3 if b is not None else 2))
        ids = [self.cls_token_id] + a + [self.sep_token_id]
        types = [0] * len(ids)
        if b is not None:
            ids += b + [self.sep_token_id]
            types += [1] * (len(b) + 1)
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": [1] * len(ids)}

    def __call__(self, text, text_pair=None, padding=False, truncation: bool = False, max_length: int | None = None,
                 return_tensors: str | None = None):
        """Encode one text (or pair) or a batch (lists): ``{"input_ids", "token_type_ids", "attention_mask"}``.

        Args:
            text: a string, or a list of strings.
            text_pair: the second segment (a string, or a list as long as ``text``).
            padding: ``False``; ``True`` / ``"longest"`` (to the batch's longest); or
                ``"max_length"``. Padding uses ``[PAD]``, token type 0 and mask 0, on the right.
            truncation: cut to ``max_length``.
            max_length: the length limit (truncation) and target (``"max_length"`` padding).
            return_tensors: ``"ember"`` gives int64 ember tensors (batch-shaped), ``"np"``
                NumPy arrays; default Python lists.
        """
        batched = isinstance(text, (list, tuple))
        texts = list(text) if batched else [text]
        pairs = (list(text_pair) if batched else [text_pair]) if text_pair is not None else [None] * len(texts)
        if len(pairs) != len(texts):
            raise ValueError(f"WordPieceTokenizer: {len(texts)} texts but {len(pairs)} text pairs")
        rows = [self.encode(t, p, max_length, truncation) for t, p in zip(texts, pairs)]
        if padding is True:
            padding = "longest"
        if padding:
            if padding == "max_length":
                if max_length is None:
                    raise ValueError("WordPieceTokenizer: padding='max_length' needs max_length")
                target = max_length
            elif padding == "longest":
                target = max(len(r["input_ids"]) for r in rows)
            else:
                raise ValueError(f"WordPieceTokenizer: padding must be False, True, 'longest' or 'max_length', "
                                 f"got {padding!r}")
            for r in rows:
                n = target - len(r["input_ids"])
                if n > 0:
                    r["input_ids"] = r["input_ids"] + [self.pad_token_id] * n
                    r["token_type_ids"] = r["token_type_ids"] + [0] * n
                    r["attention_mask"] = r["attention_mask"] + [0] * n
        out = {k: [r[k] for r in rows] for k in ("input_ids", "token_type_ids", "attention_mask")}
        if not batched:
            out = {k: v[0] for k, v in out.items()}
        if return_tensors is None:
            return out
        lengths = {len(r["input_ids"]) for r in rows}
        if len(lengths) != 1:
            raise ValueError("WordPieceTokenizer: return_tensors needs equal lengths; pass padding=True")
        import numpy as np

        arrays = {k: np.asarray(v if batched else [v], dtype=np.int64) for k, v in out.items()}
        if return_tensors == "np":
            return arrays
        if return_tensors == "ember":
            import ember

            return {k: ember.tensor(v) for k, v in arrays.items()}
        raise ValueError(f"WordPieceTokenizer: return_tensors must be None, 'np' or 'ember', got {return_tensors!r}")


def _truncate(a: list[int], b: list[int] | None, budget: int):
    """Cut ``a`` (and ``b``) to ``budget`` pieces in total.

    Pairs follow Hugging Face ``tokenizers``' longest-first rule: with n1 <= n2, keep n1 and
    max(n1, budget - n1) of the other; if that is still too many, give each budget // 2 and the
    longer one the odd piece.
    """
    budget = max(budget, 0)
    if b is None:
        return a[:budget], None
    n1, n2 = len(a), len(b)
    if n1 + n2 <= budget:
        return a, b
    swap = n1 > n2
    if swap:
        n1, n2 = n2, n1
    n2 = n1 if n1 > budget else max(n1, budget - n1)
    if n1 + n2 > budget:
        n1 = budget // 2
        n2 = n1 + budget % 2
    if swap:
        n1, n2 = n2, n1
    return a[:n1], b[:n2]


def build_vocab(texts: Iterable[str], vocab_size: int = 2000, min_frequency: int = 2, do_lower_case: bool = True,
                special_tokens: Sequence[str] = SPECIAL_TOKENS) -> list[str]:
    """Learn a WordPiece vocabulary from ``texts`` (as Hugging Face's ``WordPieceTrainer`` does).

    Every character seen (and its ``##`` continuation form) starts the vocabulary; then the
    most frequent adjacent pair of pieces inside words is merged, repeatedly, until
    ``vocab_size`` tokens (or no pair occurs ``min_frequency`` times). Ties go to the pair
    seen first, so the result is deterministic.

    Args:
        texts: the corpus (strings: lines, documents...).
        vocab_size: the target size, special tokens included.
        min_frequency: the least count of a merged pair.
        do_lower_case: basic tokenization as the tokenizer that will use the vocabulary.
        special_tokens: first in the vocabulary, in this order ([PAD] = 0).

    Returns:
        The tokens in id order (write them one a line as ``vocab.txt``).

    >>> vocab = build_vocab(["low lower lowest"] * 3, vocab_size=30)
    >>> WordPieceTokenizer({t: i for i, t in enumerate(vocab)}).tokenize("lowest")
    ['lowest']
    """
    basic = BasicTokenizer(do_lower_case=do_lower_case)
    counts: collections.Counter = collections.Counter()
    for text in texts:
        counts.update(basic.tokenize(text))
    vocab = list(dict.fromkeys(special_tokens))
    seen = set(vocab)

    def add(token):
        if token not in seen:
            seen.add(token)
            vocab.append(token)

    words = [([w[0]] + ["##" + c for c in w[1:]], n) for w, n in counts.most_common()]
    for w, _ in words:
        add(w[0])
    for w, _ in words:
        for piece in w[1:]:
            add(piece)
    # pair -> count, and pair -> indices of the words where it occurs
    pair_counts: collections.Counter = collections.Counter()
    where: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
    for i, (w, n) in enumerate(words):
        for pair in zip(w, w[1:]):
            pair_counts[pair] += n
            where[pair].add(i)
    while len(vocab) < vocab_size and pair_counts:
        best, count = max(pair_counts.items(), key=lambda kv: kv[1])  # first of the most frequent
        if count < min_frequency:
            break
        merged = best[0] + best[1][2:]
        add(merged)
        for i in sorted(where.pop(best, ())):
            w, n = words[i]
            for pair in zip(w, w[1:]):
                pair_counts[pair] -= n
                if pair_counts[pair] <= 0:
                    del pair_counts[pair]
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and (w[j], w[j + 1]) == best:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = (out, n)
            for pair in zip(out, out[1:]):
                pair_counts[pair] += n
                where[pair].add(i)
        pair_counts.pop(best, None)
    return vocab
