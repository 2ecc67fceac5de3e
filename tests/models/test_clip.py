"""CLIP: shapes, gradients reach every parameter, contrastive training on digits captions,
zero-shot and retrieval evaluation, save/load, Hugging Face weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.serialization import load_file, save_file
from ember_models import clip, image_data
from ember_models.vision import CheckpointMismatchError

FIXTURES = Path(__file__).parent / "fixtures"


def tiny(**overrides):
    return clip.CLIP(clip.CLIPConfig(**{**clip.PRESETS["tiny"], **overrides}))


def npy(t):
    return t.detach().numpy()


def test_register_presets():
    calls = []
    clip.register(lambda name, builder, **options: calls.append((name, builder, options)))
    (name, builder, options), = calls
    assert name == "clip" and options["loader"] is clip.load_pretrained_clip
    b32 = clip.CLIPConfig(**options["presets"]["b32"])
    assert (b32.patch_size, b32.vision_hidden_size, b32.text_hidden_size, b32.projection_dim) == (32, 768, 512, 512)
    assert "tiny" in options["presets"]


def test_forward_shapes_and_pooling_at_eos():
    model = tiny()
    ids = ember.tensor([[2, 5, 6, 1, 0, 0], [2, 7, 1, 0, 0, 0]])
    li, lt = model(ember.randn(3, 1, 8, 8), ids)
    assert li.shape == (3, 2) and lt.shape == (2, 3)
    np.testing.assert_allclose(npy(li), npy(lt).T)
    # causal: tokens after the first <eos> don't change the text embedding
    other = ember.tensor([[2, 5, 6, 1, 9, 9], [2, 7, 1, 4, 4, 4]])
    np.testing.assert_allclose(npy(model.get_text_features(ids)), npy(model.get_text_features(other)), atol=1e-6)
    maps = model.image_attention_maps(ember.randn(3, 1, 8, 8))
    assert len(maps) == 2 and maps[0].shape == (3, 2, 17, 17)
    with pytest.raises(ValueError, match="end-of-text"):
        model.get_text_features(ember.tensor([[2, 5, 6]]))


def test_contrastive_loss_is_symmetric_cross_entropy():
    logits = ember.tensor(np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32))
    x = logits.numpy()

    def ce(m):
        m = m - m.max(1, keepdims=True)
        return -(np.diag(m) - np.log(np.exp(m).sum(1))).mean()

    assert abs(clip.contrastive_loss(logits).item() - (ce(x) + ce(x.T)) / 2) < 1e-5


def test_every_parameter_gets_a_finite_nonzero_gradient():
    model = tiny()
    ids = ember.tensor([[2, 5, 6, 1], [2, 7, 1, 0], [2, 9, 8, 1]])
    mask = ember.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]])
    model.loss(ember.randn(3, 1, 8, 8), ids, mask).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        g = p.grad.numpy()
        assert np.isfinite(g).all() and np.abs(g).max() > 0, name


def test_training_on_digit_captions_lowers_the_loss_and_evaluates():
    data = image_data.clip_pairs("digits", limit=256)
    assert image_data.captions("fashion-mnist")[5] == "a photo of a sandal"
    model = tiny(vocab_size=max(len(data["tokenizer"]), 16))
    x, ids, mask = ember.tensor(data["images"]), data["input_ids"], data["attention_mask"]
    # NOTE: pairs of one class share their caption; contrastive targets then disagree, so score
    # the loss on batches of ten distinct classes.
    first = [int(np.flatnonzero(data["labels"] == c)[0]) for c in range(10)]
    probe = (ember.tensor(data["images"][first]), ember.tensor(ids[first]), ember.tensor(mask[first]))
    with ember.no_grad():
        before = model.loss(*probe).item()
    opt = ember.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    for _ in range(60):
        batch = [int(rng.choice(np.flatnonzero(data["labels"] == c))) for c in range(10)]
        opt.zero_grad()
        model.loss(x[ember.tensor(batch)], ember.tensor(ids[batch]), ember.tensor(mask[batch])).backward()
        opt.step()
    with ember.no_grad():
        after = model.loss(*probe).item()
    assert after < before - 0.3, (before, after)
    pred, logits = clip.zero_shot_classify(model, x, ember.tensor(data["class_ids"]), ember.tensor(data["class_mask"]))
    assert pred.shape == (256,) and logits.shape == (256, 10)
    assert (pred.numpy() == data["labels"]).mean() > 0.2  # chance is 0.1
    with ember.no_grad():
        r = clip.recall_at_k(model.get_image_features(probe[0]), model.get_text_features(*probe[1:]), ks=(1, 5))
    assert set(r) == {"image_to_text@1", "image_to_text@5", "text_to_image@1", "text_to_image@5"}
    assert 0 <= r["image_to_text@1"] <= r["image_to_text@5"] <= 1


def test_recall_at_k_counts_ranks():
    img = ember.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    txt = ember.tensor([[1.0, 0.0], [1.0, 0.05], [0.0, 1.0]])
    r = clip.recall_at_k(img, txt, ks=(1, 2))
    # image 0 -> text 0 (rank 0); image 1 -> text 1: text 2 scores higher (rank 1);
    # image 2 -> text 2: texts 1 and 0 score higher (rank 2)
    assert r["image_to_text@1"] == pytest.approx(1 / 3) and r["image_to_text@2"] == pytest.approx(2 / 3)


def test_recall_at_k_with_labels_counts_every_pair_of_the_same_label():
    # pairs 0 and 1 share a caption (label 0); pair 2 has its own (label 1)
    img = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    txt = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    strict = clip.recall_at_k(img, txt, ks=(1, 2))
    shared = clip.recall_at_k(img, txt, ks=(1, 2), labels=[0, 0, 1])
    # images -> texts: ties with the identical caption don't count against a pair, so both agree
    assert strict["image_to_text@1"] == shared["image_to_text@1"] == 1.0
    # text 1 (the shared caption) -> images: image 0 (1.0) beats its own image 1 (0.8): a miss at k=1
    # for the very pair, a hit when any image with that caption counts
    assert strict["text_to_image@1"] == pytest.approx(2 / 3) and strict["text_to_image@2"] == 1.0
    assert shared["text_to_image@1"] == 1.0
    with pytest.raises(ValueError, match="labels must be"):
        clip.recall_at_k(img, txt, labels=[0, 1])


def test_save_load_round_trip(tmp_path):
    model = tiny().eval()
    x, ids = ember.randn(2, 1, 8, 8), ember.tensor([[2, 5, 1], [2, 1, 0]])
    save_file(model.state_dict(), tmp_path / "clip.safetensors")
    again = clip.load_pretrained_clip(tmp_path / "clip.safetensors", vision_heads=2, text_heads=2, eos_token_id=1)
    assert again.config == model.config
    np.testing.assert_allclose(npy(again(x, ids)[0]), npy(model(x, ids)[0]), atol=1e-6)


def _check_reference(model):
    io = load_file(FIXTURES / "clip_io.safetensors")
    li, _ = model(io["pixel_values"], io["input_ids"], io["attention_mask"])
    np.testing.assert_allclose(npy(li), io["logits_per_image"].numpy(), atol=1e-4, rtol=0)
    u = model.get_image_features(io["pixel_values"], normalize=True)
    v = model.get_text_features(io["input_ids"], io["attention_mask"], normalize=True)
    np.testing.assert_allclose(npy(u), io["image_embeds"].numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(npy(v), io["text_embeds"].numpy(), atol=1e-4, rtol=0)


def test_hugging_face_checkpoint_matches_reference(tmp_path):
    shutil.copy(FIXTURES / "clip_weights.safetensors", tmp_path / "model.safetensors")
    shutil.copy(FIXTURES / "clip_config.json", tmp_path / "config.json")
    model = clip.load_pretrained_clip(tmp_path)
    c = model.config
    assert (c.text_heads, c.vision_heads, c.eos_token_id, c.projection_dim) == (2, 3, 39, 16)
    _check_reference(model)


def test_hugging_face_names_with_a_prefix_and_no_config(tmp_path):
    state = load_file(FIXTURES / "clip_weights.safetensors")
    save_file({"model." + k: v for k, v in state.items()}, tmp_path / "w.safetensors")
    _check_reference(clip.load_pretrained_clip(tmp_path / "w.safetensors", text_heads=2, vision_heads=3,
                                               eos_token_id=39))


def test_checkpoint_that_does_not_fit_names_tensor_and_shapes(tmp_path):
    shutil.copy(FIXTURES / "clip_weights.safetensors", tmp_path / "model.safetensors")
    shutil.copy(FIXTURES / "clip_config.json", tmp_path / "config.json")
    with pytest.raises(CheckpointMismatchError) as err:
        clip.load_pretrained_clip(tmp_path, projection_dim=8)
    msg = str(err.value)
    assert "'visual_projection.weight'" in msg and "(16, 24)" in msg and "(8, 24)" in msg
