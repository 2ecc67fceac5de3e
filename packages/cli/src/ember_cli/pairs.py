"""Contrastive image-caption runs (clip): each image paired with its class caption.

Training pairs are images of the training split with ``data.template`` filled with their
class name ("a photo of a sandal"), tokenized word by word; the loss is CLIP's symmetric
contrastive loss over the batch. Evaluation on the held-out split:

- ``val_loss``: the contrastive loss of held-out batches of ``train.batch_size`` pairs;
- ``zero_shot_acc``: each image classified by its nearest class caption;
- recall@1/5/10 on the first ``data.retrieval_size`` held-out pairs, image->text and
  text->image, two ways: ``*_caption`` counts every pair with the query's caption as a match
  (class captions are shared, so "a photo of a sandal" rightly retrieves any sandal), and
  ``*_pair`` only the query's own pair (ties with identical captions count in its favour;
  text->image is then capped near k / (pairs per class)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ember

from .images import eval_subset, load_split
from .tasks import Task, batch_indices

KS = (1, 5, 10)
EVAL_BATCH = 500


class PairTask(Task):
    """CLIP on images and class captions: see :mod:`ember_cli.tasks`."""

    unit, rate_key, metric, metric_label = "img/s", "images_per_s", "zero_shot_acc", "zero-shot accuracy"

    def setup(self, run_dir: Path, resume: bool) -> str:
        from ember_models.image_data import CaptionTokenizer, captions

        cfg, d = self.cfg, self.cfg.data
        self.x_train, self.y_train = load_split(d.dataset, "train", cfg.model, d.train_limit)
        self.x_test, self.y_test = load_split(d.dataset, "test", cfg.model, d.test_limit)
        self.texts = captions(d.dataset, d.template)
        tok = CaptionTokenizer.from_texts(self.texts)
        length = cfg.model.max_position_embeddings
        longest = max(len(tok.split(t)) + 2 for t in self.texts)
        if longest > length:
            from .output import UsageError

            raise UsageError(f"data.template: the captions need {longest} tokens with <bos> and <eos>, more than "
                             f"model.max_position_embeddings ({length})")
        self.class_ids, self.class_mask = tok(self.texts, length)
        cfg.model.vocab_size = max(cfg.model.vocab_size, len(tok))
        cfg.model.eos_token_id = tok.eos_id
        if not resume:
            run_dir.mkdir(parents=True, exist_ok=True)
        return (f"{d.dataset} with captions {d.template!r}: {len(self.y_train):,} training and "
                f"{len(self.y_test):,} test pairs, {len(self.texts)} classes, caption vocab {len(tok)}")

    def train_arrays(self, step: int):
        t = self.cfg.train
        idx = batch_indices(len(self.y_train), t.batch_size, step, t.seed)
        y = self.y_train[idx]
        return self.x_train[idx], self.class_ids[y], self.class_mask[y]

    def eval_arrays(self, batches: int | None = None):
        """(images, labels) of the held-out pairs an evaluation covers."""
        t = self.cfg.train
        part = eval_subset(len(self.y_test), t.batch_size, t.eval_batches if batches is None else batches)
        return self.x_test[part], self.y_test[part]

    def loss(self, model, batch):
        return model.loss(*batch)

    def evaluate(self, model, batches: int | None = None) -> dict:
        x, y = self.eval_arrays(batches)
        dev = self.device
        model.eval()
        with ember.no_grad():
            image = np.concatenate([model.get_image_features(ember.tensor(x[i:i + EVAL_BATCH], device=dev),
                                                             normalize=True).numpy()
                                    for i in range(0, len(y), EVAL_BATCH)])
            text = model.get_text_features(ember.tensor(self.class_ids, device=dev),
                                           ember.tensor(self.class_mask, device=dev), normalize=True).numpy()
            scale = float(model.logit_scale.exp().item())
        return evaluate_embeddings(image, text, y, scale, self.cfg.train.batch_size, self.cfg.data.retrieval_size)

    def describe(self, m: dict) -> str:
        return (f"val loss {m['val_loss']:.4f}, zero-shot accuracy {m['zero_shot_acc']:.4f}, recall@1/10 "
                f"image->text {m['image_to_text@1_caption']:.3f}/{m['image_to_text@10_caption']:.3f}, "
                f"text->image {m['text_to_image@1_caption']:.3f}/{m['text_to_image@10_caption']:.3f} "
                f"({m['val_examples']} pairs)")


def evaluate_embeddings(image: np.ndarray, class_text: np.ndarray, labels: np.ndarray, scale: float,
                        batch_size: int, retrieval_size: int) -> dict:
    """CLIP's held-out metrics from normalised embeddings (NumPy, so PyTorch's twin uses it too).

    Args:
        image: (N, D) image embeddings; class_text: (K, D) caption embeddings, one per class.
        labels: (N,) classes; each image's caption is ``class_text[label]``.
        scale: the model's temperature exp(logit_scale).
        batch_size: pairs per contrastive-loss batch.
        retrieval_size: the first pairs used for recall@k.
    """
    from ember_models.clip import recall_at_k

    n = len(labels)
    losses = []
    for i in range(0, n - n % batch_size or n, batch_size):
        u, v = image[i:i + batch_size], class_text[labels[i:i + batch_size]]
        losses.append(_contrastive(scale * u @ v.T))
    result = {"val_loss": float(np.mean(losses)),
              "zero_shot_acc": float(((image @ class_text.T).argmax(1) == labels).mean()), "val_examples": n}
    m = min(retrieval_size, n)
    pair = recall_at_k(image[:m], class_text[labels[:m]], KS)
    caption = recall_at_k(image[:m], class_text[labels[:m]], KS, labels=labels[:m])
    result.update({f"{k}_caption": v for k, v in caption.items()})
    result.update({f"{k}_pair": v for k, v in pair.items()})
    result["retrieval_pairs"] = m
    return result


def _contrastive(logits: np.ndarray) -> float:
    """(CE(L, arange) + CE(L^T, arange)) / 2 in float64."""
    logits = logits.astype(np.float64)

    def ce(z):
        z = z - z.max(1, keepdims=True)
        return float((np.log(np.exp(z).sum(1)) - np.diag(z)).mean())
    return (ce(logits) + ce(logits.T)) / 2
