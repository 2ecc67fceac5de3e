"""ViT: shapes, gradients reach every parameter, training on digits, save/load, Hugging Face weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.nn import functional as F
from ember.serialization import load_file, save_file
from ember_models import image_data, vit
from ember_models.vision import CheckpointMismatchError

FIXTURES = Path(__file__).parent / "fixtures"


def tiny(**overrides):
    return vit.ViT(vit.ViTConfig(**{**vit.PRESETS["tiny"], **overrides}))


def test_register_presets():
    calls = []
    vit.register(lambda name, builder, **options: calls.append((name, builder, options)))
    (name, builder, options), = calls
    assert name == "vit" and options["config"] is vit.ViTConfig and options["loader"] is vit.load_pretrained_vit
    assert {"tiny", "ti16", "b16"} <= set(options["presets"])
    b16 = vit.ViTConfig(**options["presets"]["b16"])
    assert (b16.hidden_size, b16.num_hidden_layers, b16.num_attention_heads, b16.patch_size) == (768, 12, 12, 16)
    ti = vit.ViTConfig(**options["presets"]["ti16"])
    assert (ti.hidden_size, ti.num_attention_heads) == (192, 3)


def test_forward_shapes_and_attention_maps():
    model = tiny()
    x = ember.randn(3, 1, 8, 8)
    logits, maps = model(x, output_attentions=True)
    assert logits.shape == (3, 10)
    assert len(maps) == 2 and maps[0].shape == (3, 2, 17, 17)
    np.testing.assert_allclose(maps[1].detach().numpy().sum(-1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        model(ember.randn(3, 1, 16, 16))


def test_every_parameter_gets_a_finite_nonzero_gradient():
    model = tiny()
    x = ember.randn(4, 1, 8, 8)
    F.cross_entropy(model(x), ember.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        g = p.grad
        assert g is not None, name
        g = g.detach().numpy()
        assert np.isfinite(g).all() and np.abs(g).max() > 0, name


def test_training_steps_lower_the_loss_on_digits():
    images, labels = image_data.load_images("digits", limit=256)
    x, y = ember.tensor(images), ember.tensor(labels)
    model = tiny()
    opt = ember.optim.AdamW(model.parameters(), lr=3e-3)
    with ember.no_grad():
        before = F.cross_entropy(model(x), y).item()
    for i in range(40):
        idx = slice((i % 4) * 64, (i % 4 + 1) * 64)
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    with ember.no_grad():
        after = F.cross_entropy(model(x), y).item()
    assert after < before - 0.5, (before, after)


def test_save_load_round_trip(tmp_path):
    model = tiny().eval()
    x = ember.randn(2, 1, 8, 8)
    save_file(model.state_dict(), tmp_path / "vit.safetensors")
    other = tiny().eval()
    other.load_state_dict(load_file(tmp_path / "vit.safetensors"))
    np.testing.assert_array_equal(other(x).detach().numpy(), model(x).detach().numpy())
    again = vit.load_pretrained_vit(tmp_path / "vit.safetensors", num_attention_heads=2)
    assert again.config == model.config
    np.testing.assert_allclose(again(x).detach().numpy(), model(x).detach().numpy(), atol=1e-6)


def _reference():
    return load_file(FIXTURES / "vit_io.safetensors")


def test_hugging_face_checkpoint_matches_reference(tmp_path):
    shutil.copy(FIXTURES / "vit_weights.safetensors", tmp_path / "model.safetensors")
    shutil.copy(FIXTURES / "vit_config.json", tmp_path / "config.json")
    model = vit.load_pretrained_vit(tmp_path)
    assert model.config.num_attention_heads == 4 and model.config.num_classes == 5
    ref = _reference()
    logits, maps = model(ref["pixel_values"], output_attentions=True)
    np.testing.assert_allclose(logits.detach().numpy(), ref["logits"].numpy(), atol=1e-4, rtol=0)
    for i, m in enumerate(maps):
        np.testing.assert_allclose(m.detach().numpy(), ref[f"attentions.{i}"].numpy(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("prefix", ["", "model.vit."])
def test_hugging_face_names_with_or_without_prefix(tmp_path, prefix):
    state = load_file(FIXTURES / "vit_weights.safetensors")
    renamed = {prefix + k[len("vit."):] if k.startswith("vit.") else k: v for k, v in state.items()}
    save_file(renamed, tmp_path / "w.safetensors")
    model = vit.load_pretrained_vit(tmp_path / "w.safetensors", num_attention_heads=4)  # no config.json
    ref = _reference()
    np.testing.assert_allclose(model(ref["pixel_values"]).detach().numpy(), ref["logits"].numpy(), atol=1e-4, rtol=0)


def test_transformers_5_module_names(tmp_path):
    """transformers 5 names its modules layers.N.attention.q_proj, mlp.fc1 (save_pretrained converts back)."""
    renames = [("encoder.layer.", "layers."), ("attention.attention.query", "attention.q_proj"),
               ("attention.attention.key", "attention.k_proj"), ("attention.attention.value", "attention.v_proj"),
               ("attention.output.dense", "attention.o_proj"), ("intermediate.dense", "mlp.fc1"),
               ("output.dense", "mlp.fc2")]
    state = {}
    for k, v in load_file(FIXTURES / "vit_weights.safetensors").items():
        for old, new in renames:
            k = k.replace(old, new)
        state[k] = v
    save_file(state, tmp_path / "w.safetensors")
    model = vit.load_pretrained_vit(tmp_path / "w.safetensors", num_attention_heads=4)
    ref = _reference()
    np.testing.assert_allclose(model(ref["pixel_values"]).detach().numpy(), ref["logits"].numpy(), atol=1e-4, rtol=0)


def test_checkpoint_that_does_not_fit_names_tensor_and_shapes():
    config = vit.ViTConfig(image_size=16, patch_size=4, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=48, num_classes=5)
    with pytest.raises(CheckpointMismatchError) as err:
        vit.load_pretrained_vit(FIXTURES / "vit_weights.safetensors", config=config)
    msg = str(err.value)
    assert "encoder.layer.0.intermediate.dense.weight" in msg and "(64, 32)" in msg and "(48, 32)" in msg


def test_attention_map_png(tmp_path):
    pytest.importorskip("matplotlib")
    from ember_models.visualize import save_attention_maps

    model = tiny()
    x = ember.tensor(image_data.load_images("digits", limit=3)[0])
    path = save_attention_maps(tmp_path / "attn.png", x, model.attention_maps(x), rollout=True)
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_zoo_registry_creates_vision_models():
    import ember_models

    assert {"vit", "resnet", "clip"} <= set(ember_models.list_models())
    model = ember_models.create("vit", preset="tiny", num_classes=3)
    assert model(ember.zeros(1, 1, 8, 8)).shape == (1, 3)
    assert ember_models.make_config("resnet", preset="resnet50").block == "bottleneck"
    assert ember_models.make_config("clip", preset="b32").patch_size == 32
