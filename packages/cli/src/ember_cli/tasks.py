"""What `ember train` trains on: one :class:`Task` per kind of model, behind one training loop.

A task owns the data of a run and everything that depends on it: it fits the model config
to the data (vocabulary size, number of classes), draws the batch of each step, computes
the loss, evaluates on the held-out split and reports. :mod:`ember_cli.loop` runs the same
steps, checkpoints, metrics and progress for every task.

Batches are a function of ``(train.seed, step)`` alone, so a resumed run sees exactly the
batches an uninterrupted one would.

| task | models | batch | evaluation |
| --- | --- | --- | --- |
| ``lm`` | gpt2, llama | random windows of the corpus | loss, perplexity, next-token accuracy |
| ``image`` | vit, resnet | images of Fashion-MNIST / digits | loss, accuracy |
| ``text`` | bert | fortunes, WordPiece ids | loss, accuracy |
| ``clip`` | clip | images and their class captions | contrastive loss, zero-shot accuracy, recall@k |
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class Task:
    """The interface :mod:`ember_cli.loop` and ``ember eval`` use.

    Attributes:
        unit: the throughput unit of the progress bar (``tok/s``, ``img/s``, ``seq/s``).
        rate_key: the throughput's key in ``metrics.jsonl`` (``tokens_per_s``, ``images_per_s``...).
        metric: the key of the headline metric in :meth:`evaluate`'s result (plotted).
        metric_label: how the plot's y-axis names it.
    """

    unit = "items/s"
    rate_key = "items_per_s"
    metric = "val_acc"
    metric_label = "accuracy"

    def __init__(self, cfg, device) -> None:
        self.cfg, self.device = cfg, device

    def setup(self, run_dir: Path, resume: bool) -> str:
        """Load the data (and on a fresh run save what the run folder needs, e.g. a tokenizer);
        fit ``cfg.model`` to it. Returns a one-line description for the log."""
        raise NotImplementedError

    @property
    def items_per_step(self) -> int:
        return self.cfg.train.batch_size

    def train_arrays(self, step: int) -> tuple:
        """The inputs of training step ``step`` as NumPy arrays (a function of the seed and the step)."""
        raise NotImplementedError

    def train_batch(self, step: int) -> tuple:
        """:meth:`train_arrays` as tensors on the run's device."""
        import ember

        return tuple(ember.tensor(a, device=self.device) for a in self.train_arrays(step))

    def loss(self, model, batch):
        raise NotImplementedError

    def evaluate(self, model, batches: int | None = None) -> dict:
        """Metrics on the held-out split: ``val_loss`` and the task's own."""
        raise NotImplementedError

    def describe(self, metrics: dict) -> str:
        """One line for the log."""
        return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())

    def finish(self, model) -> None:
        """After the last step (LMs print samples)."""


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> np.ndarray:
    """The example indices of step ``step``: epoch after epoch, each a fresh permutation of ``range(n)``.

    Step s takes positions ``s*B .. s*B + B`` of the concatenated epochs; epoch e's order is
    ``default_rng([seed, e]).permutation(n)``, so the batch depends only on (seed, step).

    >>> batch_indices(10, 4, step=0, seed=7).shape
    (4,)
    >>> epoch = np.concatenate([batch_indices(10, 5, s, seed=7) for s in (0, 1)])  # two steps: one epoch
    >>> sorted(epoch.tolist()) == list(range(10))
    True
    >>> len(batch_indices(10, 4, step=2, seed=7))  # positions 8..11: the end of epoch 0, start of epoch 1
    4
    """
    out: list[np.ndarray] = []
    start, need = step * batch_size, batch_size
    while need:
        epoch, pos = divmod(start, n)
        take = np.random.default_rng([seed, epoch]).permutation(n)[pos:pos + need]
        out.append(take)
        start += len(take)
        need -= len(take)
    return np.concatenate(out)


def make_task(cfg, device) -> Task:
    """The task of ``cfg.model_name``."""
    if cfg.task == "lm":
        from .lm import LMTask

        return LMTask(cfg, device)
    if cfg.task == "image":
        from .images import ImageTask

        return ImageTask(cfg, device)
    if cfg.task == "text":
        from .texts import TextTask

        return TextTask(cfg, device)
    from .pairs import PairTask

    return PairTask(cfg, device)
