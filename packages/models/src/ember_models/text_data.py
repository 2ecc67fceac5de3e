"""A real, offline text-classification dataset: fortune cookies labelled by topic.

Where it comes from: Debian's ``fortunes`` package (fortune-mod 1.99.1, BSD licence) files its
quotations by topic, one file a topic (``computers``, ``food``, ``love``, ``politics``,
``sports``...), entries separated by ``%`` lines. We ship a small subset (~690 entries of
20-300 characters from those five topics, ~50 KB gzipped) as ``data/fortunes_topics.tsv.gz``,
made by :func:`build_subset` from the installed package; with the package installed
(``apt-get install fortunes``) ``load_fortunes(source="system")`` reads all of it.

What was looked at first (none ships labelled text that installs offline): scikit-learn's
20 newsgroups (downloads at run time), NLTK's corpora (a separate download, not on PyPI),
PyPI packages named for sentiment / spam / movie reviews / news (scrapers and API clients,
not data), Debian's ``corpus`` / ``sentiment`` packages (none in English).

>>> texts, labels, names = load_fortunes("train")
>>> names
['computers', 'food', 'love', 'politics', 'sports']
>>> len(texts) == len(labels) > 500
True
"""

from __future__ import annotations

import gzip
import io
import os
import random
from importlib import resources

import numpy as np

import ember
from ember.data import Dataset

__all__ = ["TOPICS", "load_fortunes", "build_subset", "TextClassificationDataset", "fortune_datasets"]

TOPICS = ("computers", "food", "love", "politics", "sports")
SYSTEM_ROOT = "/usr/share/games/fortunes"
_FILE = "fortunes_topics.tsv.gz"


def _entries(path: str) -> list[str]:
    """The fortunes of one Debian fortune file, whitespace collapsed, 20-300 characters."""
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    out = []
    for entry in raw.split("\n%\n"):
        text = " ".join(entry.replace("%", " ").split())
        if 20 <= len(text) <= 300 and "\ufffd" not in text:
            out.append(text)
    return out


def build_subset(root: str = SYSTEM_ROOT, topics=TOPICS, per_topic: int = 150, out: str | None = None):
    """Write ``label \\t text`` lines (at most ``per_topic`` a topic, in file order) to ``out`` (gzip).

    Returns the ``(text, label)`` pairs.
    """
    rows = []
    for topic in topics:
        path = os.path.join(root, topic)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no fortune file {path!r} (apt-get install fortunes)")
        rows += [(t, topic) for t in _entries(path)[:per_topic]]
    if out is not None:
        buf = io.BytesIO()  # mtime=0: the same input gives the same bytes
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as g:
            g.write("".join(f"{label}\t{text}\n" for text, label in rows).encode("utf-8"))
        with open(out, "wb") as f:
            f.write(buf.getvalue())
    return rows


def _shipped() -> list[tuple[str, str]]:
    data = resources.files("ember_models").joinpath("data", _FILE).read_bytes()
    rows = []
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        label, text = line.split("\t", 1)
        rows.append((text, label))
    return rows


def load_fortunes(split: str = "train", source: str = "shipped", topics=None, test_fraction: float = 0.2,
                  seed: int = 0):
    """Fortunes labelled by topic: ``(texts, labels, label_names)``.

    Each topic is shuffled with ``seed`` and its last ``test_fraction`` goes to ``"test"``, so
    the split is stratified, deterministic, and the same for every caller.

    Args:
        split: ``"train"``, ``"test"`` or ``"all"``.
        source: ``"shipped"`` (the subset in this package) or ``"system"`` (every 20-300
            character entry of the installed Debian ``fortunes`` package).
        topics: the classes, default :data:`TOPICS`; label i is ``label_names[i]``.
        test_fraction: the share of each topic held out.
        seed: the shuffling seed.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"load_fortunes: split must be 'train', 'test' or 'all', got {split!r}")
    topics = list(topics or TOPICS)
    if source == "shipped":
        rows = _shipped()
        unknown = sorted(set(topics) - {label for _, label in rows})
        if unknown:
            raise ValueError(f"load_fortunes: the shipped subset has no topic(s) {unknown}; it has {list(TOPICS)} "
                             "(source='system' reads every topic of the installed package)")
    elif source == "system":
        rows = [(t, topic) for topic in topics for t in _entries(os.path.join(SYSTEM_ROOT, topic))]
    else:
        raise ValueError(f"load_fortunes: source must be 'shipped' or 'system', got {source!r}")
    texts, labels = [], []
    for index, topic in enumerate(topics):
        items = [t for t, label in rows if label == topic]
        random.Random(f"{seed}-{topic}").shuffle(items)
        cut = len(items) - int(round(len(items) * test_fraction))
        chosen = items if split == "all" else items[:cut] if split == "train" else items[cut:]
        texts += chosen
        labels += [index] * len(chosen)
    return texts, labels, topics


class TextClassificationDataset(Dataset):
    """Texts and labels as BERT inputs: each item is ``(input_ids, attention_mask, token_type_ids, label)``.

    Every text is tokenized once, up front, truncated and padded to ``max_length``, so a
    DataLoader's default collate stacks items into (B, max_length) batches.

    Args:
        texts: the strings.
        labels: one int class per text.
        tokenizer: a :class:`~ember_models.wordpiece.WordPieceTokenizer` (or anything callable
            the same way).
        max_length: the sequence length.
    """

    def __init__(self, texts, labels, tokenizer, max_length: int = 64) -> None:
        if len(texts) != len(labels):
            raise ValueError(f"TextClassificationDataset: {len(texts)} texts but {len(labels)} labels")
        enc = tokenizer(list(texts), padding="max_length", truncation=True, max_length=max_length)
        self.input_ids = np.asarray(enc["input_ids"], dtype=np.int64)
        self.attention_mask = np.asarray(enc["attention_mask"], dtype=np.int64)
        self.token_type_ids = np.asarray(enc["token_type_ids"], dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return (ember.tensor(self.input_ids[i]), ember.tensor(self.attention_mask[i]),
                ember.tensor(self.token_type_ids[i]), ember.tensor(self.labels[i]))

    def tensors(self):
        """The whole set as four tensors (N, T), (N, T), (N, T), (N,)."""
        return (ember.tensor(self.input_ids), ember.tensor(self.attention_mask), ember.tensor(self.token_type_ids),
                ember.tensor(self.labels))


def fortune_datasets(tokenizer=None, max_length: int = 64, vocab_size: int = 2000, **kwargs):
    """Train and test :class:`TextClassificationDataset` of the fortunes, and the tokenizer.

    Without ``tokenizer``, a WordPiece vocabulary of ``vocab_size`` is learnt from the
    training texts only (:func:`~ember_models.wordpiece.build_vocab`), so nothing is downloaded.

    Returns:
        ``(train, test, tokenizer, label_names)``.
    """
    from .wordpiece import WordPieceTokenizer, build_vocab

    train_texts, train_labels, names = load_fortunes("train", **kwargs)
    test_texts, test_labels, _ = load_fortunes("test", **kwargs)
    if tokenizer is None:
        vocab = build_vocab(train_texts, vocab_size=vocab_size)
        tokenizer = WordPieceTokenizer({t: i for i, t in enumerate(vocab)})
    return (TextClassificationDataset(train_texts, train_labels, tokenizer, max_length),
            TextClassificationDataset(test_texts, test_labels, tokenizer, max_length), tokenizer, names)


if __name__ == "__main__":  # python -m ember_models.text_data [ROOT]: rebuild the shipped subset
    import sys

    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", _FILE)
    rows = build_subset(sys.argv[1] if len(sys.argv) > 1 else SYSTEM_ROOT, out=target)
    print(f"wrote {len(rows)} fortunes to {target}")
