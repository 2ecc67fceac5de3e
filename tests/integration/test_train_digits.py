"""The README's main job, tested: an MLP and a small CNN trained with Ember on scikit-learn's digits.

Both models, their data preparation and training plans come from examples/train_digits.py;
each must reach >= 97% accuracy on the 359 held-out test images (they reach 98-99%). Seeded,
so a failure reproduces. pytest's --durations (scripts/test.sh) shows how long each took.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import ember

pytest.importorskip("sklearn", reason="the digits dataset ships with scikit-learn, which is not installed")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("train_digits_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example():
    return _load_example()


@pytest.fixture(scope="module")
def digits(example):
    from ember.data import datasets

    return example.standardize(datasets.load("digits", split="train"), datasets.load("digits", split="test"))


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_model_reaches_97_percent(example, digits, name):
    train_set, test_set = digits
    build, epochs, lr = example.PLANS[name]
    ember.manual_seed(0)
    model = build()
    history = example.fit(model, train_set, epochs=epochs, lr=lr, log=None)
    accuracy = example.evaluate(model, test_set)

    # With label smoothing 0.1 the loss cannot go below ~0.5: the first epoch mean is ~1.1-1.5.
    assert history[-1] < 0.7 * history[0], f"{name}: training loss fell only from {history[0]:.3f} to {history[-1]:.3f}"
    assert accuracy >= 0.97, f"{name}: test accuracy {accuracy:.2%} after {epochs} epochs, expected >= 97%"


def test_predictions_are_labels_with_probabilities(example, digits):
    _, test_set = digits
    ember.manual_seed(0)
    model = example.build_cnn()
    images, _ = test_set.tensors
    predicted, confidence = example.predict(model, images)
    assert predicted.shape == confidence.shape == (len(test_set),)
    assert set(predicted.tolist()) <= set(range(10))
    assert ((confidence >= 0.1 - 1e-6) & (confidence <= 1 + 1e-6)).all()  # the max of 10 probabilities


def test_example_script_runs_end_to_end(example, capsys):
    assert example.main(["--model", "mlp", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "MLP test accuracy:" in out and "sample predictions:" in out and "pred " in out
