"""Image classification runs (vit, resnet): Fashion-MNIST or digits, cross-entropy, accuracy.

The images are loaded once, fitted to the model (resized to its ``image_size`` where it has
one, repeated to 3 channels where it wants them, pixels in [-1, 1]) and kept as NumPy arrays;
each step's batch is :func:`ember_cli.tasks.batch_indices` of the training split. The
held-out split is the dataset's test split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ember

from .output import CommandError
from .tasks import Task, batch_indices

EVAL_BATCH = 500


def model_image_shape(model_cfg) -> tuple[int, int | None]:
    """(channels, side) a model config expects; side None: any size (ResNet)."""
    channels = getattr(model_cfg, "num_channels", None) or getattr(model_cfg, "in_channels", None) or 1
    return channels, getattr(model_cfg, "image_size", None)


def load_split(dataset: str, split: str, model_cfg, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, C, S, S) float32 in [-1, 1], labels (N,) int64)`` of ``dataset`` fitted to the model.

    A missing Fashion-MNIST is a :class:`CommandError` that says where it was looked for and
    how to install it.
    """
    from ember_models.image_data import load_images

    channels, side = model_image_shape(model_cfg)
    try:
        return load_images(dataset, split, size=side, channels=channels, limit=limit or None)
    except (FileNotFoundError, OSError, ImportError) as exc:
        raise CommandError(f"can't load {dataset} ({split}): {exc}\n  Fashion-MNIST comes from Debian's "
                           "dataset-fashion-mnist package (apt-get install dataset-fashion-mnist, files in "
                           "/usr/share/datasets/fashion-mnist) or $EMBER_DATA/fashion-mnist; "
                           "--set data.dataset=digits trains on scikit-learn's digits instead") from None


def classify(model, inputs, labels: np.ndarray, forward, batch_size: int = EVAL_BATCH) -> dict:
    """Mean cross-entropy and accuracy of ``forward(model, *inputs[i:j])`` logits over ``labels``.

    ``inputs`` is a tuple of NumPy arrays sliced along their first axis together.
    """
    from ember.nn import functional as F

    model.eval()
    total, correct = 0.0, 0
    with ember.no_grad():
        for i in range(0, len(labels), batch_size):
            logits = forward(model, *(a[i:i + batch_size] for a in inputs))
            y = labels[i:i + batch_size]
            total += float(F.cross_entropy(logits, ember.tensor(y, device=logits.device), reduction="sum").item())
            correct += int((logits.numpy().argmax(-1) == y).sum())
    n = len(labels)
    return {"val_loss": total / n, "val_acc": correct / n, "val_examples": n}


def eval_subset(n: int, batch_size: int, batches: int | None) -> slice:
    """The held-out examples an evaluation covers: the first ``batches * batch_size``, or all (0 / None)."""
    return slice(0, min(n, batches * batch_size) if batches else n)


class ImageTask(Task):
    """Image classification with cross-entropy: see :mod:`ember_cli.tasks`."""

    unit, rate_key, metric, metric_label = "img/s", "images_per_s", "val_acc", "accuracy"

    def setup(self, run_dir: Path, resume: bool) -> str:
        from ember_models.image_data import CLASS_NAMES

        cfg = self.cfg
        d = cfg.data
        self.names = CLASS_NAMES[d.dataset]
        if hasattr(cfg.model, "num_classes"):
            cfg.model.num_classes = len(self.names)
        self.x_train, self.y_train = load_split(d.dataset, "train", cfg.model, d.train_limit)
        self.x_test, self.y_test = load_split(d.dataset, "test", cfg.model, d.test_limit)
        if not resume:
            run_dir.mkdir(parents=True, exist_ok=True)
        shape = "x".join(str(s) for s in self.x_train.shape[1:])
        return (f"{d.dataset}: {len(self.y_train):,} training and {len(self.y_test):,} test images of {shape}, "
                f"{len(self.names)} classes")

    def train_arrays(self, step: int):
        t = self.cfg.train
        idx = batch_indices(len(self.y_train), t.batch_size, step, t.seed)
        return self.x_train[idx], self.y_train[idx]

    def eval_arrays(self, batches: int | None = None):
        """(images, labels) of the held-out examples an evaluation covers."""
        t = self.cfg.train
        part = eval_subset(len(self.y_test), t.batch_size, t.eval_batches if batches is None else batches)
        return self.x_test[part], self.y_test[part]

    def loss(self, model, batch):
        from ember.nn import functional as F

        x, y = batch
        return F.cross_entropy(model(x), y)

    def evaluate(self, model, batches: int | None = None) -> dict:
        x, y = self.eval_arrays(batches)
        return classify(model, (x,), y, lambda m, x: m(ember.tensor(x, device=self.device)))

    def describe(self, m: dict) -> str:
        return f"val loss {m['val_loss']:.4f}, accuracy {m['val_acc']:.4f} ({m['val_examples']} images)"
