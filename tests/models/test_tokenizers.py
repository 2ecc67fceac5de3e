"""GPT-2's byte-level BPE against transformers' reference ids (a committed fixture), and BPE training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ember_models import corpus
from ember_models.tokenizers import ByteLevelBPETokenizer, bytes_to_unicode, gpt2_files, gpt2_tokenizer, train_bpe

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def tok():
    return gpt2_tokenizer()


@pytest.fixture(scope="module")
def reference():
    return json.loads((FIXTURES / "gpt2_tokenizer_reference.json").read_text(encoding="utf-8"))


def test_gpt2_vocabulary(tok):
    assert tok.vocab_size == 50257
    assert tok.eot_token == 50256
    assert tok.encode("Hello world") == [15496, 995]


def test_gpt2_encoding_equals_reference(tok, reference):
    for text, ids in zip(reference["texts"], reference["ids"]):
        assert tok.encode(text) == ids, text[:60]


def test_gpt2_decode_round_trips(tok, reference):
    for text in reference["texts"]:
        assert tok.decode(tok.encode(text)) == text


def test_byte_level_round_trip_of_arbitrary_bytes(tok):
    data = bytes(range(256)).decode("latin-1") + "\x00\x7f\u2028 \U0001F600"
    assert tok.decode(tok.encode(data)) == data
    assert len(bytes_to_unicode()) == 256 and len(set(bytes_to_unicode().values())) == 256


def test_special_tokens_can_be_ordinary_text(tok):
    assert tok.encode("<|endoftext|>") == [50256]
    plain = tok.encode("<|endoftext|>", allowed_special=())
    assert len(plain) > 1 and tok.decode(plain) == "<|endoftext|>"


def test_bad_ids(tok):
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([50257])


def test_gpt2_files_prefers_the_given_folder(tmp_path):
    import shutil

    for f in gpt2_files():
        shutil.copy(f, tmp_path / f.name)
    assert gpt2_files(tmp_path)[0] == tmp_path / "encoder.json"
    assert gpt2_tokenizer(tmp_path).encode(" Hello") == [18435]


def test_gpt2_files_missing_names_every_place_tried(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.delenv("EMBER_GPT2_TOKENIZER_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="encoder.json") as err:
        gpt2_files(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_split_multibyte_character_decodes_with_replacement(tok):
    ids = tok.encode("😀")
    assert len(ids) > 1
    assert "\ufffd" in tok.decode(ids[:1])
    assert tok.decode_bytes(ids) == "😀".encode()


@pytest.fixture(scope="module")
def trained():
    return train_bpe(corpus.load_text()[:60_000], vocab_size=400)


def test_train_bpe_vocabulary(trained):
    assert trained.vocab_size == 400
    assert trained.eot_token == 399
    text = corpus.load_text()[200_000:203_000]
    ids = trained.encode(text)
    assert trained.decode(ids) == text
    assert len(ids) < 0.7 * len(text.encode())  # merges compress
    assert max(ids) < 400


def test_train_bpe_is_deterministic_and_saves(trained, tmp_path):
    again = train_bpe(corpus.load_text()[:60_000], vocab_size=400)
    assert again.encoder == trained.encoder and again.bpe_ranks == trained.bpe_ranks
    trained.save(tmp_path)
    loaded = ByteLevelBPETokenizer.from_files(tmp_path / "encoder.json", tmp_path / "vocab.bpe")
    text = "To be, or not to be: that is the question."
    assert loaded.encode(text) == trained.encode(text)


def test_train_bpe_first_merges_are_most_frequent_pairs():
    tok = train_bpe(["aaab aaab aaab"], vocab_size=258, special_tokens=(), min_frequency=1)
    # 'a a' occurs 6 times (2 per word), more than any other pair
    first = min(tok.bpe_ranks, key=tok.bpe_ranks.get)
    assert first == ("a", "a")


def test_train_bpe_rejects_tiny_vocab():
    with pytest.raises(ValueError, match="at least 256"):
        train_bpe("abc", vocab_size=100)
