"""ResNet: shapes, gradients reach every parameter, training on digits, save/load, torchvision-named weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ember
from ember.nn import functional as F
from ember.serialization import load_file, save_file
from ember_models import image_data, resnet
from ember_models.vision import CheckpointMismatchError

FIXTURES = Path(__file__).parent / "fixtures"


def tiny(**overrides):
    return resnet.ResNet(resnet.ResNetConfig(**{**resnet.PRESETS["tiny"], **overrides}))


def test_register_presets():
    calls = []
    resnet.register(lambda name, builder, **options: calls.append((name, builder, options)))
    (name, builder, options), = calls
    assert name == "resnet" and options["loader"] is resnet.load_pretrained_resnet
    r18 = builder(resnet.ResNetConfig(**options["presets"]["resnet18"]))
    assert r18.num_parameters() == 11_689_512  # torchvision's resnet18
    r50 = resnet.ResNetConfig(**options["presets"]["resnet50"])
    assert (r50.block, r50.layers) == ("bottleneck", (3, 4, 6, 3))


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
@pytest.mark.parametrize("stem", ["cifar", "imagenet"])
def test_forward_shapes(block, stem):
    model = tiny(block=block, stem=stem, in_channels=3)
    assert model(ember.randn(2, 3, 32, 32)).shape == (2, 10)
    assert model.forward_features(ember.randn(2, 3, 32, 32)).shape == (2, 64 * (4 if block == "bottleneck" else 1))


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_every_parameter_gets_a_finite_nonzero_gradient(block):
    model = tiny(block=block)
    F.cross_entropy(model(ember.randn(4, 1, 8, 8)), ember.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        g = p.grad.numpy()
        assert np.isfinite(g).all() and np.abs(g).max() > 0, name


def test_training_steps_lower_the_loss_on_digits():
    images, labels = image_data.load_images("digits", limit=256)
    x, y = ember.tensor(images), ember.tensor(labels)
    model = tiny()
    opt = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.eval()
    with ember.no_grad():
        before = F.cross_entropy(model(x), y).item()
    model.train()
    for i in range(16):
        idx = slice((i % 4) * 64, (i % 4 + 1) * 64)
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    with ember.no_grad():
        after = F.cross_entropy(model(x), y).item()  # train-mode BN: eval stats need more steps
    assert after < before - 0.5, (before, after)


def test_save_load_round_trip(tmp_path):
    model = tiny()
    model(ember.randn(8, 1, 8, 8))  # move the BatchNorm running statistics
    model.eval()
    x = ember.randn(2, 1, 8, 8)
    save_file(model.state_dict(), tmp_path / "r.safetensors")
    again = resnet.load_pretrained_resnet(tmp_path / "r.safetensors")
    assert again.config == model.config
    np.testing.assert_array_equal(again(x).detach().numpy(), model(x).detach().numpy())


@pytest.mark.parametrize("name, block", [("resnet_basic", "basic"), ("resnet_bottleneck", "bottleneck")])
@pytest.mark.parametrize("prefix", ["", "module."])
def test_torchvision_checkpoint_matches_reference(tmp_path, name, block, prefix):
    state = load_file(FIXTURES / f"{name}_weights.safetensors")
    assert "layer1.0.conv1.weight" in state and "fc.weight" in state
    save_file({prefix + k: v for k, v in state.items()}, tmp_path / "w.safetensors")
    model = resnet.load_pretrained_resnet(tmp_path / "w.safetensors")
    assert (model.config.block, model.config.stem, model.config.width) == (block, "imagenet", 4)
    io = load_file(FIXTURES / f"{name}_io.safetensors")
    np.testing.assert_allclose(model(io["pixel_values"]).detach().numpy(), io["logits"].numpy(), atol=1e-4, rtol=0)


def test_checkpoint_that_does_not_fit_names_tensor_and_shapes():
    config = resnet.ResNetConfig(block="basic", layers=(2, 1, 1, 1), width=4, num_classes=10)
    with pytest.raises(CheckpointMismatchError) as err:
        resnet.load_pretrained_resnet(FIXTURES / "resnet_basic_weights.safetensors", config=config)
    msg = str(err.value)
    assert "'fc.weight'" in msg and "(7, 32)" in msg and "(10, 32)" in msg
