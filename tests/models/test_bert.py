"""BERT: shapes, gradients reach every parameter, training lowers the loss, save/load, padding
masks, and Hugging Face checkpoints reproduce ``transformers``' outputs (fixtures made by
fixtures/make_bert_fixtures.py; these tests don't need transformers or torch)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.serialization import load_file, save_file
from ember_models import bert
from ember_models.bert import (BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel, build_bert,
                               load_pretrained_bert)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
TINY = bert.PRESETS["tiny"]


def tiny(head="mlm", **kw):
    return build_bert(BertConfig(**{**TINY, "head": head, **kw}))


def batch(b=3, t=10, vocab=100, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, (b, t))
    ids[:, 0] = 2
    mask = np.ones((b, t), dtype=np.int64)
    mask[1, t - 3:] = 0
    mask[2, t // 2:] = 0
    ids[mask == 0] = 0
    types = np.zeros((b, t), dtype=np.int64)
    types[:, t // 2:] = 1
    return ember.tensor(ids), ember.tensor(mask), ember.tensor(types)


# -- registration and config -------------------------------------------------------------

def test_register_calls_back_with_builder_config_presets_and_loader():
    calls = []
    bert.register(lambda name, obj, **options: calls.append((name, obj, options)))
    (name, builder, options), = calls
    assert name == "bert" and builder is build_bert
    assert options["config"] is BertConfig and options["loader"] is load_pretrained_bert
    assert {"tiny", "mini", "base"} <= set(options["presets"])
    mini = BertConfig(**options["presets"]["mini"])
    assert (mini.num_hidden_layers, mini.hidden_size, mini.num_attention_heads) == (4, 256, 4)
    base = BertConfig(**options["presets"]["base"])
    assert (base.num_hidden_layers, base.hidden_size, base.vocab_size) == (12, 768, 30522)


def test_head_picks_the_model_class():
    assert isinstance(tiny("mlm"), BertForMaskedLM)
    assert isinstance(tiny("classification"), BertForSequenceClassification)
    assert isinstance(tiny("none"), BertModel)


@pytest.mark.parametrize("bad", [dict(head="ner"), dict(hidden_size=30), dict(hidden_act="relu6")])
def test_config_errors(bad):
    with pytest.raises(ValueError):
        BertConfig(**{**TINY, **bad})


def test_parameter_names_are_hugging_faces():
    names = set(tiny("classification").state_dict())
    for key in ("bert.embeddings.word_embeddings.weight", "bert.embeddings.token_type_embeddings.weight",
                "bert.embeddings.LayerNorm.weight", "bert.encoder.layer.1.attention.self.query.weight",
                "bert.encoder.layer.0.attention.output.LayerNorm.bias", "bert.encoder.layer.0.intermediate.dense.weight",
                "bert.encoder.layer.0.output.dense.weight", "bert.pooler.dense.weight", "classifier.weight"):
        assert key in names
    assert "cls.predictions.transform.dense.weight" in tiny("mlm").state_dict()


# -- forward, gradients, training --------------------------------------------------------

def test_forward_shapes():
    ids, mask, types = batch()
    seq, pooled = tiny("none")(ids, mask, types)
    assert seq.shape == (3, 10, 32) and pooled.shape == (3, 32)
    assert tiny("mlm")(ids, mask, types).shape == (3, 10, 100)
    assert tiny("classification", num_labels=4)(ids, mask, types).shape == (3, 4)
    assert tiny("mlm")(ids).shape == (3, 10, 100)  # no mask, no token types


def test_too_long_and_malformed_inputs_raise():
    with pytest.raises(ValueError, match="max_position_embeddings"):
        tiny("none")(ember.zeros(1, TINY["max_position_embeddings"] + 1, dtype=ember.int64))
    with pytest.raises(ValueError, match="attention_mask"):
        tiny("none")(ember.zeros(2, 5, dtype=ember.int64), ember.ones(2, 4, dtype=ember.int64))


def _labels(ids, mask):
    rng = np.random.default_rng(1)
    labels = np.where(rng.random(ids.shape) < 0.3, ids.numpy(), -100)
    labels[mask.numpy() == 0] = -100
    labels[0, 1] = ids.numpy()[0, 1]
    return ember.tensor(labels)


@pytest.mark.parametrize("head", ["mlm", "classification"])
def test_every_parameter_gets_a_finite_nonzero_gradient(head):
    # The classic failure: a graph cut somewhere (a .detach(), a NumPy round trip) so that only
    # the head learns. Every tensor of the model must get a gradient.
    model = tiny(head, num_labels=3)
    ids, mask, types = batch()
    labels = _labels(ids, mask) if head == "mlm" else ember.tensor([0, 2, 1])
    loss, _ = model(ids, mask, types, labels=labels)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        g = p.grad.numpy()
        assert np.isfinite(g).all(), name
        assert np.abs(g).max() > 0, f"{name} has an all-zero gradient"


def _train(model, step_batches, steps, lr=3e-3):
    opt = ember.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses = []
    for _ in range(steps):
        for args, labels in step_batches:
            loss, _ = model(*args, labels=labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def test_a_few_mlm_steps_lower_the_loss():
    ember.manual_seed(0)
    model = tiny("mlm", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    ids, mask, types = batch(b=4, t=12)
    losses = _train(model, [((ids, mask, types), _labels(ids, mask))], steps=15)
    assert losses[-1] < 0.7 * losses[0], losses


def test_a_few_classification_steps_lower_the_loss():
    ember.manual_seed(0)
    model = tiny("classification", num_labels=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    ids, mask, types = batch(b=4, t=12)
    # the label is whether token 7 occurs: the model must look past [CLS]
    ids_np = ids.numpy().copy()
    ids_np[0, 3] = ids_np[2, 2] = 7
    ids_np[1][ids_np[1] == 7] = 8
    ids_np[3][ids_np[3] == 7] = 8
    labels = ember.tensor([1, 0, 1, 0])
    losses = _train(model, [((ember.tensor(ids_np), mask, types), labels)], steps=15)
    assert losses[-1] < 0.5 * losses[0], losses


def test_dropout_only_in_training():
    model = tiny("mlm")
    ids, mask, types = batch()
    model.train()
    a, b = model(ids, mask, types), model(ids, mask, types)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    model.eval()
    with ember.no_grad():
        np.testing.assert_array_equal(model(ids, mask, types).numpy(), model(ids, mask, types).numpy())


# -- padding masks -----------------------------------------------------------------------

@pytest.mark.parametrize("head", ["none", "mlm", "classification"])
def test_padding_mask_masks(head):
    model = tiny(head).eval()
    ids, mask, types = batch()
    other = ids.numpy().copy()
    pad = mask.numpy() == 0
    other[pad] = np.random.default_rng(3).integers(5, 100, pad.sum())  # change only padded tokens
    real = ~pad
    with ember.no_grad():
        a = model(ids, mask, types)
        b = model(ember.tensor(other), mask, types)
        c = model(ember.tensor(other), None, types)  # without the mask, they do matter
    a, b, c = (x[0] if isinstance(x, tuple) else x for x in (a, b, c))
    a, b, c = a.numpy(), b.numpy(), c.numpy()
    if head == "classification":  # pooled [CLS]: one row per sequence
        np.testing.assert_allclose(a, b, atol=1e-6)
        assert not np.allclose(a[1:], c[1:], atol=1e-4)
    else:
        np.testing.assert_allclose(a[real], b[real], atol=1e-6)
        assert not np.allclose(a[real], c[real], atol=1e-4)


def test_bool_and_integer_masks_agree():
    model = tiny("none").eval()
    ids, mask, types = batch()
    with ember.no_grad():
        a, _ = model(ids, mask, types)
        b, _ = model(ids, mask != 0, types)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


# -- saving and loading ------------------------------------------------------------------

def test_save_load_round_trip(tmp_path):
    model = tiny("classification", num_labels=3).eval()
    path = tmp_path / "bert.safetensors"
    save_file(model.state_dict(), path)
    fresh = tiny("classification", num_labels=3).eval()
    fresh.load_state_dict(load_file(path))
    ids, mask, types = batch()
    with ember.no_grad():
        np.testing.assert_array_equal(model(ids, mask, types).numpy(), fresh(ids, mask, types).numpy())
    # and through the pretrained loader, which reads the config off the tensors' shapes
    loaded = load_pretrained_bert(path, num_attention_heads=4, max_position_embeddings=64)
    assert isinstance(loaded, BertForSequenceClassification) and loaded.config.num_labels == 3
    with ember.no_grad():
        np.testing.assert_array_equal(model(ids, mask, types).numpy(), loaded(ids, mask, types).numpy())


# -- Hugging Face checkpoints ------------------------------------------------------------

@pytest.fixture(scope="module")
def reference():
    ref = {k: v.numpy() for k, v in load_file(os.path.join(FIXTURES, "bert_reference.safetensors")).items()}
    inputs = tuple(ember.tensor(ref[k]) for k in ("input_ids", "attention_mask", "token_type_ids"))
    return ref, inputs


def test_hf_bert_model_matches_transformers(reference):
    ref, inputs = reference
    model = load_pretrained_bert(os.path.join(FIXTURES, "bert_model"))  # keys without "bert."
    assert isinstance(model, BertModel) and not model.training
    with ember.no_grad():
        seq, pooled = model(*inputs)
    real = ref["attention_mask"].astype(bool)
    np.testing.assert_allclose(seq.numpy()[real], ref["model.last_hidden_state"][real], atol=1e-4, rtol=0)
    np.testing.assert_allclose(pooled.numpy(), ref["model.pooler_output"], atol=1e-4, rtol=0)


def test_hf_masked_lm_matches_transformers(reference):
    ref, inputs = reference
    model = load_pretrained_bert(os.path.join(FIXTURES, "bert_mlm"))  # "bert."-prefixed, tied decoder
    assert isinstance(model, BertForMaskedLM)
    with ember.no_grad():
        logits = model(*inputs).numpy()
    real = ref["attention_mask"].astype(bool)
    np.testing.assert_allclose(logits[real], ref["mlm.logits"][real], atol=1e-4, rtol=0)


def test_hf_sequence_classification_matches_transformers(reference):
    ref, inputs = reference
    model = load_pretrained_bert(os.path.join(FIXTURES, "bert_cls", "model.safetensors"), num_attention_heads=4)
    assert isinstance(model, BertForSequenceClassification) and model.config.num_labels == 3
    with ember.no_grad():
        np.testing.assert_allclose(model(*inputs).numpy(), ref["cls.logits"], atol=1e-4, rtol=0)


def test_prefixed_checkpoint_into_bare_encoder_and_classifier_from_mlm(reference):
    ref, inputs = reference
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder = load_pretrained_bert(os.path.join(FIXTURES, "bert_mlm"), head="none")
        classifier = load_pretrained_bert(os.path.join(FIXTURES, "bert_mlm"), head="classification", num_labels=5)
    assert any("pooler" in str(w.message) for w in caught)
    assert any("classifier.weight" in str(w.message) for w in caught)
    mlm = load_pretrained_bert(os.path.join(FIXTURES, "bert_mlm"))
    with ember.no_grad():
        np.testing.assert_array_equal(encoder(*inputs)[0].numpy(), mlm.bert(*inputs)[0].numpy())
    assert classifier(*inputs).shape == (3, 5)


def test_checkpoint_that_does_not_fit_names_tensor_and_shapes():
    with pytest.raises(ValueError) as err:
        load_pretrained_bert(os.path.join(FIXTURES, "bert_cls"), num_labels=5)
    assert "'classifier.weight'" in str(err.value) and "(3, 32)" in str(err.value) and "(5, 32)" in str(err.value)
    with pytest.raises(ValueError, match=r"'encoder.layer.0.intermediate.dense.weight' has shape \(64, 32\) in the "
                                         r"checkpoint but \(128, 32\)"):
        load_pretrained_bert(os.path.join(FIXTURES, "bert_model"), intermediate_size=128)


def test_checkpoint_missing_encoder_tensors_is_an_error(tmp_path):
    tensors = load_file(os.path.join(FIXTURES, "bert_model", "model.safetensors"))
    del tensors["encoder.layer.1.output.dense.weight"]
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="missing tensor 'encoder.layer.1.output.dense.weight'"):
        load_pretrained_bert(tmp_path, num_attention_heads=4)


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        load_pretrained_bert(tmp_path / "nope.safetensors")


def test_loaded_model_fine_tunes(reference):
    # pretrained weights go back into training: every parameter still gets a gradient
    _, (ids, mask, types) = reference
    model = load_pretrained_bert(os.path.join(FIXTURES, "bert_cls")).train()
    loss, _ = model(ids, mask, types, labels=ember.tensor([0, 1, 2]))
    loss.backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).max() > 0 for p in model.parameters())
    assert isinstance(model, nn.Module)


# -- the classification data path (text_data) ---------------------------------------------

def test_fortunes_split_is_stratified_disjoint_and_deterministic():
    from ember_models.text_data import TOPICS, load_fortunes

    train, train_y, names = load_fortunes("train")
    test, test_y, _ = load_fortunes("test")
    assert names == list(TOPICS) and set(train_y) == set(test_y) == set(range(len(TOPICS)))
    assert not set(train) & set(test)
    assert len(test) / (len(train) + len(test)) == pytest.approx(0.2, abs=0.02)
    assert load_fortunes("test") == (test, test_y, names)
    assert load_fortunes("all", topics=["food", "love"])[2] == ["food", "love"]
    with pytest.raises(ValueError, match="no topic"):
        load_fortunes(topics=["zippy"])


def test_bert_fine_tunes_on_fortunes_batch():
    from ember.data import DataLoader
    from ember_models.text_data import fortune_datasets

    train, test, tok, names = fortune_datasets(max_length=32, vocab_size=400)
    assert len(tok) <= 400 and train.tensors()[0].shape == (len(train), 32)
    ids, mask, types, labels = next(iter(DataLoader(train, batch_size=16, shuffle=True)))
    assert ids.shape == (16, 32) and labels.shape == (16,)
    ember.manual_seed(0)
    model = tiny("classification", vocab_size=len(tok), num_labels=len(names), hidden_dropout_prob=0.0,
                 attention_probs_dropout_prob=0.0)
    losses = _train(model, [((ids, mask, types), labels)], steps=12, lr=1e-2)
    assert losses[-1] < 0.7 * losses[0], losses
