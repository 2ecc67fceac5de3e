"""Text classification runs (bert): the shipped fortunes, labelled by topic, fine-tuned end to end.

A WordPiece vocabulary of ``data.vocab_size`` is learnt from the training texts only (saved
as ``tokenizer/vocab.txt`` in the run folder); each text becomes ``[CLS] pieces [SEP]``,
cut or padded to ``data.max_length``. The whole BERT (embeddings, encoder, pooler and the
classification head) trains with cross-entropy; the held-out split is the fortunes' test split.
"""

from __future__ import annotations

from pathlib import Path

import ember

from .images import classify, eval_subset
from .tasks import Task, batch_indices


class TextTask(Task):
    """Sequence classification with cross-entropy: see :mod:`ember_cli.tasks`."""

    unit, rate_key, metric, metric_label = "seq/s", "sequences_per_s", "val_acc", "accuracy"

    def setup(self, run_dir: Path, resume: bool) -> str:
        from ember_models.text_data import fortune_datasets
        from ember_models.wordpiece import WordPieceTokenizer

        d = self.cfg.data
        folder = run_dir / "tokenizer"
        tok = WordPieceTokenizer.from_file(folder / "vocab.txt") if resume else None
        train, test, tok, self.names = fortune_datasets(tokenizer=tok, max_length=d.max_length,
                                                        vocab_size=d.vocab_size)
        if not resume:
            folder.mkdir(parents=True, exist_ok=True)
            tok.save(folder / "vocab.txt")
        self.train_set, self.test_set = train, test
        self.cfg.model.vocab_size = tok.vocab_size
        self.cfg.model.num_labels = len(self.names)
        self.tokenizer = tok
        return (f"{d.dataset}: {len(train):,} training and {len(test):,} test texts, {len(self.names)} topics "
                f"({', '.join(self.names)}), WordPiece vocab {tok.vocab_size}, {d.max_length} tokens")

    @staticmethod
    def _arrays(ds, idx):
        return ds.input_ids[idx], ds.attention_mask[idx], ds.token_type_ids[idx], ds.labels[idx]

    def train_arrays(self, step: int):
        t = self.cfg.train
        return self._arrays(self.train_set, batch_indices(len(self.train_set), t.batch_size, step, t.seed))

    def eval_arrays(self, batches: int | None = None):
        """(input_ids, attention_mask, token_type_ids, labels) of the held-out texts an evaluation covers."""
        t = self.cfg.train
        part = eval_subset(len(self.test_set), t.batch_size, t.eval_batches if batches is None else batches)
        return self._arrays(self.test_set, part)

    def loss(self, model, batch):
        ids, mask, types, labels = batch
        return model(ids, mask, types, labels=labels)[0]

    def evaluate(self, model, batches: int | None = None) -> dict:
        *inputs, labels = self.eval_arrays(batches)

        def forward(m, ids, mask, types):
            return m(*(ember.tensor(a, device=self.device) for a in (ids, mask, types)))
        return classify(model, tuple(inputs), labels, forward)

    def describe(self, m: dict) -> str:
        return f"val loss {m['val_loss']:.4f}, accuracy {m['val_acc']:.4f} ({m['val_examples']} texts)"
