"""GPT-2: the tiny preset's shapes, gradients, training, save/load, KV cache and generation;
Hugging Face checkpoints against reference logits (fixtures made with transformers, see
fixtures/make_gpt2_fixture.py); a small GPT-2 trained on the shipped corpus."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import ember
import ember_models
from ember.serialization import load_file, save_file
from ember_models import corpus, generation
from ember_models.gpt2 import GPT2Config, load_pretrained_gpt2

from . import lm_checks

FIXTURES = Path(__file__).parent / "fixtures"
VOCAB = 512


@pytest.fixture
def model():
    return ember_models.create("gpt2", preset="tiny")


def test_registered_with_presets():
    assert "gpt2" in ember_models.list_models()
    small = ember_models.make_config("gpt2", preset="small")
    assert (small.n_layer, small.n_embd, small.n_head, small.vocab_size, small.n_positions) == (12, 768, 12, 50257, 1024)
    medium = ember_models.make_config("gpt2", preset="medium")
    assert (medium.n_layer, medium.n_embd, medium.n_head) == (24, 1024, 16)
    # 124M: 50257*768 + 1024*768 + 12 * (12*768^2 + 13*768) + 2*768 (tied head)
    d, v = 768, 50257
    assert v * d + 1024 * d + 12 * (12 * d * d + 13 * d) + 2 * d == 124_439_808


def test_parameter_names_follow_hugging_face(model):
    names = set(dict(model.named_parameters()))
    assert {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
            "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.weight"} <= names
    assert model.lm_head.weight is model.transformer.wte.weight  # tied


def test_forward_shapes(model):
    assert model(lm_checks.ids(3, 7, VOCAB)).shape == (3, 7, VOCAB)
    assert model.transformer(lm_checks.ids(3, 7, VOCAB)).shape == (3, 7, 64)
    with pytest.raises(ValueError, match="n_positions"):
        model(lm_checks.ids(1, 129, VOCAB))


def test_every_parameter_gets_a_finite_nonzero_gradient(model):
    lm_checks.check_backward_grads(model, VOCAB)


def test_a_few_steps_lower_the_loss(model):
    lm_checks.check_training_lowers_loss(model, VOCAB)


def test_save_load_round_trip(model, tmp_path):
    lm_checks.check_save_load(model, ember_models.create("gpt2", preset="tiny"), tmp_path, VOCAB)


def test_kv_cache_matches_full_forward(model):
    lm_checks.check_cache_matches_full_forward(model, VOCAB)


def test_generation(model):
    lm_checks.check_generation(model, VOCAB)


def test_generation_slides_past_the_context():
    model = ember_models.create("gpt2", preset="tiny", n_positions=16)
    lm_checks.check_generation_slides_past_context(model, VOCAB, 16)


def test_dropout_only_in_training():
    model = ember_models.create("gpt2", preset="tiny", dropout=0.5)
    x = lm_checks.ids(1, 5, VOCAB)
    model.eval()
    with ember.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    model.train()
    with ember.no_grad():
        assert not np.array_equal(model(x).numpy(), model(x).numpy())


# -- sampling ---------------------------------------------------------------------------

def test_filter_logits_top_k_and_top_p():
    z = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    assert np.isfinite(generation.filter_logits(z, top_k=2)).sum() == 2
    kept = np.isfinite(generation.filter_logits(z, top_p=0.7))[0]
    assert kept.tolist() == [True, True, False, False]  # 0.5 < 0.7 <= 0.8
    assert np.isfinite(generation.filter_logits(z, top_p=0.01)).sum() == 1  # the top token always stays


def test_sampling_follows_the_distribution():
    rng = np.random.default_rng(0)
    p = np.array([0.6, 0.3, 0.1])
    draws = generation.sample_next(np.log(np.tile(p, (20000, 1))), rng=rng)
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 20000, p, atol=0.015)
    low_t = generation.sample_next(np.log(np.tile(p, (2000, 1))), temperature=0.05, rng=rng)
    assert (low_t == 0).mean() > 0.99


def test_perplexity_is_exp_of_the_loss(model):
    x = np.random.default_rng(0).integers(0, VOCAB, size=65)
    ppl = generation.perplexity(model, x, block_size=16, batch_size=3)
    with ember.no_grad():
        model.eval()
        loss = model.loss(ember.tensor(x[:64].reshape(4, 16)), ember.tensor(x[1:65].reshape(4, 16))).item()
    assert ppl == pytest.approx(np.exp(loss), rel=1e-5)
    assert 0.5 * VOCAB < ppl < 2 * VOCAB  # an untrained model is near uniform


# -- pretrained weights ----------------------------------------------------------------

@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURES / "gpt2_tiny_reference.npz")


def test_hugging_face_checkpoint_matches_reference_logits(reference):
    model = ember_models.from_pretrained("gpt2", FIXTURES / "gpt2_tiny")
    assert (model.config.n_layer, model.config.n_head, model.config.n_embd) == (2, 4, 32)
    with ember.no_grad():
        logits = model(ember.tensor(reference["input_ids"])).numpy()
    np.testing.assert_allclose(logits, reference["logits"], atol=1e-4, rtol=0)


def test_hugging_face_greedy_generation_matches(reference):
    model = load_pretrained_gpt2(FIXTURES / "gpt2_tiny")
    out = model.generate(reference["input_ids"][:1, :5], 8, temperature=0)
    np.testing.assert_array_equal(out.numpy(), reference["greedy"])


def test_checkpoint_without_transformer_prefix(reference, tmp_path):
    tensors = load_file(FIXTURES / "gpt2_tiny" / "model.safetensors")
    stripped = {k.removeprefix("transformer."): v for k, v in tensors.items()}
    assert not any(k.startswith("transformer.") for k in stripped)
    save_file(stripped, tmp_path / "gpt2.safetensors")
    model = load_pretrained_gpt2(tmp_path / "gpt2.safetensors", n_head=4)
    with ember.no_grad():
        logits = model(ember.tensor(reference["input_ids"])).numpy()
    np.testing.assert_allclose(logits, reference["logits"], atol=1e-4, rtol=0)


def test_checkpoint_that_does_not_fit_names_tensor_and_shapes():
    config = GPT2Config(vocab_size=128, n_positions=32, n_embd=32, n_layer=2, n_head=4, n_inner=64)
    with pytest.raises(ValueError) as err:
        load_pretrained_gpt2(FIXTURES / "gpt2_tiny", config=config)
    msg = str(err.value)
    assert "transformer.h.0.mlp.c_fc.weight" in msg and "(128, 32)" in msg and "(64, 32)" in msg
    with pytest.raises(ValueError, match="lacks"):
        load_pretrained_gpt2(FIXTURES / "gpt2_tiny", config=dataclasses.replace(config, n_inner=None, n_layer=3))


# -- the shipped corpus ----------------------------------------------------------------

def test_small_gpt2_trains_on_the_shipped_corpus():
    from ember_models.tokenizers import train_bpe

    text = corpus.load_text("shakespeare")[:150_000]
    tok = train_bpe(text[:60_000], vocab_size=VOCAB)
    train, val = corpus.lm_datasets(tok, block_size=32, max_chars=150_000)
    model = ember_models.create("gpt2", preset="tiny", vocab_size=tok.vocab_size)
    opt = ember.optim.AdamW(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    val_ids = val.ids[:32 * 8 + 1]
    before = generation.perplexity(model, val_ids, block_size=32)
    losses = []
    for _ in range(30):
        x, y = train.random_batch(12, rng)
        opt.zero_grad()
        loss = model.loss(x, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    after = generation.perplexity(model, val_ids, block_size=32)
    assert np.mean(losses[-5:]) < losses[0] - 1.0, losses
    assert after < 0.5 * before, (before, after)
    sample = tok.decode(model.generate(tok.encode("HAMLET.\n"), 20, temperature=0.8).tolist())
    assert sample.startswith("HAMLET.\n")
