"""WordPiece: equal to Hugging Face's BertTokenizer on the fixture sentences (recorded by
fixtures/make_bert_fixtures.py), its pieces, and building a vocabulary offline."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import ember
from ember_models.wordpiece import BasicTokenizer, WordPieceTokenizer, _truncate, build_vocab

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
KEYS = ("input_ids", "token_type_ids", "attention_mask")


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer.from_file(os.path.join(FIXTURES, "bert_vocab.txt"))


@pytest.fixture(scope="module")
def cases():
    with open(os.path.join(FIXTURES, "bert_tokenizer_cases.json"), encoding="utf-8") as f:
        return json.load(f)


def test_single_texts_and_pairs_match_hugging_face(tok, cases):
    for case in cases["single"]:
        enc = tok(case["text"], case.get("text_pair"))
        for key in KEYS:
            assert enc[key] == case[key], (case["text"], key)
        if "tokens" in case:
            assert tok.tokenize(case["text"]) == case["tokens"], case["text"]


def test_batches_with_padding_and_truncation_match_hugging_face(tok, cases):
    assert len(cases["batched"]) >= 6
    for case in cases["batched"]:
        enc = tok(case["texts"], case.get("pairs"), **case["kwargs"])
        for key in KEYS:
            assert enc[key] == case[key], (case["kwargs"], key)


def test_basic_tokenizer_steps():
    basic = BasicTokenizer()
    assert basic.tokenize("Héllo,World!!") == ["hello", ",", "world", "!", "!"]
    assert basic.tokenize("a\u0000b\tc\u00a0d") == ["ab", "c", "d"]  # control chars dropped, NBSP is a space
    assert basic.tokenize("中国x") == ["中", "国", "x"]
    assert basic.tokenize("$5^`~") == ["$", "5", "^", "`", "~"]  # all non-alphanumeric ASCII is punctuation
    assert BasicTokenizer(do_lower_case=False).tokenize("Héllo") == ["Héllo"]
    assert BasicTokenizer(strip_accents=False).tokenize("Héllo") == ["héllo"]


def test_greedy_longest_match_first(tok):
    assert tok.wordpiece("unaffable") == ["un", "##aff", "##able"]
    assert tok.wordpiece("running") == ["run", "##ning"]  # not run ##n ##ing: the longest piece wins
    assert tok.wordpiece("x" * 101) == ["[UNK]"]
    assert tok.wordpiece("résumé") == ["[UNK]"]  # é is not in the vocabulary (the basic step strips it first)


def test_special_tokens_and_ids(tok):
    assert tok.tokenize("the [MASK] fox") == ["the", "[MASK]", "fox"]
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (0, 2, 3, 4, 5)
    ids = tok("Hello world")["input_ids"]
    assert tok.decode(ids) == "hello world"
    assert tok.decode(tok("unaffable")["input_ids"]) == "unaffable"
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        WordPieceTokenizer({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3})


def test_return_tensors(tok):
    enc = tok(["Hello world", "the dog"], padding=True, return_tensors="ember")
    assert isinstance(enc["input_ids"], ember.Tensor) and enc["input_ids"].dtype == ember.int64
    assert enc["attention_mask"].shape == (2, 4)
    np.testing.assert_array_equal(tok("the dog", return_tensors="np")["input_ids"], [[3, tok.vocab["the"], tok.vocab["dog"], 4]])
    with pytest.raises(ValueError, match="padding"):
        tok(["Hello world", "the"], return_tensors="np")
    with pytest.raises(ValueError, match="max_length"):
        tok("a", padding="max_length")


@pytest.mark.parametrize("n1, n2, budget, expected", [
    (3, 4, 10, (3, 4)), (2, 9, 6, (2, 4)), (9, 2, 6, (4, 2)), (8, 9, 6, (3, 3)), (8, 9, 7, (3, 4)),
    (9, 8, 7, (4, 3)), (5, 5, 7, (3, 4)),
])
def test_pair_truncation_is_longest_first(n1, n2, budget, expected):
    a, b = _truncate(list(range(n1)), list(range(n2)), budget)
    assert (len(a), len(b)) == expected


def test_save_and_reload(tok, tmp_path):
    tok.save(tmp_path / "vocab.txt")
    again = WordPieceTokenizer.from_file(tmp_path)
    assert again.vocab == tok.vocab
    with pytest.raises(FileNotFoundError, match="missing"):
        WordPieceTokenizer.from_file(tmp_path / "missing")


def test_build_vocab_from_a_corpus():
    corpus = ["The lower the lowest, the newer the newest.", "Lowering and renewing: low, new."] * 5
    vocab = build_vocab(corpus, vocab_size=60, min_frequency=2)
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(vocab) == len(set(vocab)) <= 60
    assert "the" in vocab and "low" in vocab
    tok = WordPieceTokenizer({t: i for i, t in enumerate(vocab)})
    # every word of the corpus tokenizes without [UNK], and pieces join back into the words
    for text in corpus:
        pieces = tok.tokenize(text)
        assert "[UNK]" not in pieces
        assert " ".join(pieces).replace(" ##", "") == " ".join(BasicTokenizer().tokenize(text))
    assert build_vocab(corpus, vocab_size=60) == vocab  # deterministic


def test_build_vocab_stops_at_min_frequency():
    vocab = build_vocab(["abc abc xyz"], vocab_size=1000, min_frequency=2)
    assert "abc" in vocab and "xyz" not in vocab and "x" in vocab and "##z" in vocab
