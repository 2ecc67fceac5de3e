"""A small conv net trained with Ember on a 5000-image subset of Fashion-MNIST.

The images come from Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist,
which scripts/test.sh installs when apt-get is usable) or from $EMBER_DATA/fashion-mnist; the
tests skip, saying so, when neither has the files. Nothing is mocked: real images, real
training, and the loss has to fall clearly.
"""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn, optim
from ember.data import DataLoader, TensorDataset, datasets
from ember.nn import functional as F

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRAIN_IMAGES = 5000
TEST_IMAGES = 1000
STEPS = 200  # 2.5 epochs of the subset; about 0.2 s of CPU each on the 2-core CI machine
BATCH = 64


@pytest.fixture(scope="module")
def fashion():
    try:
        train = datasets.load("fashion-mnist", split="train")
        test = datasets.load("fashion-mnist", split="test")
    except FileNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): {exc}")
    # A fixed, class-balanced-in-expectation subset: a seeded permutation of each split.
    rng = np.random.default_rng(0)
    tr = rng.permutation(len(train))[:TRAIN_IMAGES]
    te = rng.permutation(len(test))[:TEST_IMAGES]
    (xtr, ytr), (xte, yte) = train.tensors, test.tensors
    return (TensorDataset(ember.tensor(xtr.numpy()[tr]), ember.tensor(ytr.numpy()[tr])),
            TensorDataset(ember.tensor(xte.numpy()[te]), ember.tensor(yte.numpy()[te])))


def small_convnet() -> nn.Module:
    """(N, 1, 28, 28) -> conv 16 -> pool -> conv 32 -> pool -> (N, 32, 7, 7) -> 10 logits."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )


def test_subset_has_expected_shape(fashion):
    train, test = fashion
    images, labels = train.tensors
    assert images.shape == (TRAIN_IMAGES, 1, 28, 28) and labels.shape == (TRAIN_IMAGES,)
    assert len(test) == TEST_IMAGES
    assert 0.0 <= float(images.min().item()) and float(images.max().item()) <= 1.0
    assert sorted(set(labels.numpy().tolist())) == list(range(10))


def test_convnet_loss_falls_and_beats_chance(fashion):
    train, test = fashion
    ember.manual_seed(0)
    model = small_convnet()
    opt = optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(train, batch_size=BATCH, shuffle=True)

    losses = []
    model.train()
    while len(losses) < STEPS:
        for images, labels in loader:
            loss = F.cross_entropy(model(images), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if len(losses) == STEPS:
                break

    initial, final = np.mean(losses[:10]), np.mean(losses[-50:])
    print(f"loss {initial:.3f} (first 10 steps) -> {final:.3f} (last 50)")
    assert np.isfinite(losses).all(), "the loss became NaN or infinite"
    assert final < 0.6 * initial, f"loss fell only from {initial:.3f} (first 10 steps) to {final:.3f} (last 50)"

    model.eval()
    images, labels = test.tensors
    with ember.no_grad():
        predicted = model(images).numpy().argmax(1)
    accuracy = float((predicted == labels.numpy()).mean())
    print(f"test accuracy on {TEST_IMAGES} images: {accuracy:.2%}")
    assert accuracy > 0.7, f"test accuracy {accuracy:.2%} after {STEPS} steps (chance is 10%)"
