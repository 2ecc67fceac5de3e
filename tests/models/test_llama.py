"""The Llama-style model: the tiny preset's shapes, gradients, training, save/load, KV cache with
grouped-query attention, generation; a Hugging Face LlamaForCausalLM checkpoint against
reference logits (fixture made with transformers, see fixtures/make_gpt2_fixture.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ember
import ember_models
from ember_models.llama import LlamaConfig, LlamaForCausalLM, load_pretrained_llama

from . import lm_checks

FIXTURES = Path(__file__).parent / "fixtures"
VOCAB = 512


@pytest.fixture
def model():
    return ember_models.create("llama", preset="tiny")


def test_registered_with_presets():
    assert "llama" in ember_models.list_models()
    config = ember_models.make_config("llama", preset="100m")
    assert (config.dim, config.n_layers, config.n_heads, config.n_kv_heads) == (768, 12, 12, 4)
    # embeddings (tied) + per layer: q, o (d^2 each), k, v (d * d/3 each), SwiGLU (3 d h), 2 norms; final norm
    d, h, v = config.dim, config.ffn_dim, config.vocab_size
    total = v * d + config.n_layers * (2 * d * d + 2 * d * (d // 3) + 3 * d * h + 2 * d) + d
    assert 95e6 < total < 105e6


def test_parameter_names_follow_hugging_face(model):
    names = set(dict(model.named_parameters()))
    assert {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
            "model.layers.1.mlp.gate_proj.weight", "model.layers.0.post_attention_layernorm.weight",
            "model.norm.weight"} <= names
    assert not any(n.endswith(".bias") for n in names)  # no biases anywhere
    assert model.model.layers[0].self_attn.k_proj.weight.shape == (32, 64)  # 2 kv heads of 16


def test_forward_shapes(model):
    assert model(lm_checks.ids(3, 7, VOCAB)).shape == (3, 7, VOCAB)
    assert model.model(lm_checks.ids(3, 7, VOCAB)).shape == (3, 7, 64)


def test_every_parameter_gets_a_finite_nonzero_gradient(model):
    lm_checks.check_backward_grads(model, VOCAB)


def test_untied_head_gets_gradients_too():
    lm_checks.check_backward_grads(ember_models.create("llama", preset="tiny", tie_word_embeddings=False), VOCAB)


def test_a_few_steps_lower_the_loss(model):
    lm_checks.check_training_lowers_loss(model, VOCAB)


def test_save_load_round_trip(model, tmp_path):
    lm_checks.check_save_load(model, ember_models.create("llama", preset="tiny"), tmp_path, VOCAB)


def test_kv_cache_matches_full_forward(model):
    lm_checks.check_cache_matches_full_forward(model, VOCAB)


def test_kv_cache_holds_only_the_kv_heads(model):
    cache = model.make_cache()
    with ember.no_grad():
        model(lm_checks.ids(2, 5, VOCAB), cache=cache)
    assert cache[0].key.shape == (2, 2, 5, 16)  # (B, H_kv, T, d_head), H = 4 query heads


def test_gqa_equals_repeated_kv_heads():
    """GQA with H_kv heads is multi-head attention with each kv head's weights repeated H / H_kv times."""
    gqa = ember_models.create("llama", preset="tiny", n_layers=1)
    mha = ember_models.create("llama", preset="tiny", n_layers=1, n_kv_heads=4)
    state = {k: v.numpy().copy() for k, v in gqa.state_dict().items()}
    for name in ("k_proj", "v_proj"):
        key = f"model.layers.0.self_attn.{name}.weight"
        w = state[key].reshape(2, 16, 64)
        state[key] = np.repeat(w, 2, axis=0).reshape(64, 64)
    mha.load_state_dict(state)
    x = lm_checks.ids(2, 6, VOCAB)
    with ember.no_grad():
        np.testing.assert_allclose(gqa(x).numpy(), mha(x).numpy(), rtol=1e-5, atol=1e-5)


def test_generation(model):
    lm_checks.check_generation(model, VOCAB)


def test_generation_slides_past_the_context():
    model = ember_models.create("llama", preset="tiny", max_seq_len=16)
    lm_checks.check_generation_slides_past_context(model, VOCAB, 16)


def test_config_validation():
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        LlamaConfig(dim=64, n_heads=4, n_kv_heads=3)
    with pytest.raises(ValueError, match="divisible"):
        LlamaConfig(dim=65, n_heads=4)


# -- pretrained weights ----------------------------------------------------------------

@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURES / "llama_tiny_reference.npz")


def test_hugging_face_checkpoint_matches_reference(reference):
    model = ember_models.from_pretrained("llama", FIXTURES / "llama_tiny")
    assert (model.config.n_heads, model.config.n_kv_heads, model.config.dim) == (4, 2, 32)
    with ember.no_grad():
        logits = model(ember.tensor(reference["input_ids"])).numpy()
    np.testing.assert_allclose(logits, reference["logits"], atol=1e-4, rtol=0)
    out = model.generate(reference["input_ids"][:1, :5], 8, temperature=0)
    np.testing.assert_array_equal(out.numpy(), reference["greedy"])


def test_checkpoint_that_does_not_fit_names_tensor_and_shapes():
    config = LlamaConfig(vocab_size=96, dim=32, n_layers=2, n_heads=4, n_kv_heads=4, hidden_dim=48,
                         tie_word_embeddings=False)
    with pytest.raises(ValueError) as err:
        load_pretrained_llama(FIXTURES / "llama_tiny", config=config)
    msg = str(err.value)
    assert "model.layers.0.self_attn.k_proj.weight" in msg and "(16, 32)" in msg and "(32, 32)" in msg


def test_build_directly():
    model = LlamaForCausalLM(LlamaConfig(vocab_size=32, dim=16, n_layers=1, n_heads=2, n_kv_heads=1, hidden_dim=24,
                                         max_seq_len=8))
    assert model(lm_checks.ids(1, 8, 32)).shape == (1, 8, 32)
