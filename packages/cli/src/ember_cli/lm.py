"""Language-model runs: tokenizers, token data, batches, evaluation and samples.

Batches are drawn from a NumPy generator seeded with ``(seed, step)``, so the batch of each
step is a function of the step alone and a resumed run sees exactly the batches an
uninterrupted one would. Evaluation uses a fixed set of validation windows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

import ember

from .tasks import Task

PROMPTS = ("Ham.\n", "Queen.\n", "\n")


class CharTokenizer:
    """One token per character of the corpus (its sorted set of characters).

    >>> tok = CharTokenizer("abca")
    >>> tok.encode("cab"), tok.decode([2, 0, 1]), tok.vocab_size
    ([2, 0, 1], 'cab', 3)
    """

    def __init__(self, text_or_chars) -> None:
        self.chars = sorted(set(text_or_chars))
        self.index = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.index[c] for c in text]
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in this run's character vocabulary") from None

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def build_tokenizer(data_cfg, text: str):
    """The tokenizer ``data_cfg.tokenizer`` names, trained on ``text`` where it is learnt."""
    if data_cfg.tokenizer == "char":
        return CharTokenizer(text)
    if data_cfg.tokenizer == "bpe":
        from ember_models.tokenizers import train_bpe

        return train_bpe(text, vocab_size=data_cfg.vocab_size)
    from ember_models.tokenizers import gpt2_tokenizer

    return gpt2_tokenizer()


def save_tokenizer(tok, kind: str, run_dir: Path) -> None:
    folder = run_dir / "tokenizer"
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"kind": kind}
    if kind == "char":
        meta["chars"] = tok.chars
    elif kind == "bpe":
        tok.save(folder)
    (folder / "tokenizer.json").write_text(json.dumps(meta), encoding="utf-8")


def load_tokenizer(run_dir: Path):
    folder = run_dir / "tokenizer"
    meta = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    if meta["kind"] == "char":
        return CharTokenizer(meta["chars"])
    if meta["kind"] == "bpe":
        from ember_models.tokenizers import ByteLevelBPETokenizer

        return ByteLevelBPETokenizer.from_files(folder / "encoder.json", folder / "vocab.bpe")
    from ember_models.tokenizers import gpt2_tokenizer

    return gpt2_tokenizer()


def corpus_text(data_cfg) -> str:
    from ember_models.corpus import load_text

    text = load_text(data_cfg.corpus)
    return text[:data_cfg.max_chars] if data_cfg.max_chars else text


def token_splits(data_cfg, tok, text: str) -> tuple[np.ndarray, np.ndarray]:
    from ember_models.corpus import train_val_split

    train_text, val_text = train_val_split(text, data_cfg.val_fraction)
    return np.asarray(tok.encode(train_text), dtype=np.int64), np.asarray(tok.encode(val_text), dtype=np.int64)


def windows(ids: np.ndarray, batch_size: int, seq_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``batch_size`` random windows of ``ids``: inputs (B, seq_len) and next-token targets, as NumPy arrays."""
    if len(ids) <= seq_len + 1:
        raise ValueError(f"{len(ids)} tokens are too few for windows of {seq_len} + 1 (raise data.max_chars "
                         "or lower train.seq_len)")
    starts = rng.integers(0, len(ids) - seq_len - 1, size=batch_size)
    x = np.stack([ids[s:s + seq_len] for s in starts])
    y = np.stack([ids[s + 1:s + seq_len + 1] for s in starts])
    return x, y


def batch(ids: np.ndarray, batch_size: int, seq_len: int, rng: np.random.Generator, device):
    x, y = windows(ids, batch_size, seq_len, rng)
    return ember.tensor(x, device=device), ember.tensor(y, device=device)


def train_windows(ids, train_cfg, step: int) -> tuple[np.ndarray, np.ndarray]:
    """The windows of training step ``step``: a function of (seed, step) alone."""
    return windows(ids, train_cfg.batch_size, train_cfg.seq_len, np.random.default_rng([train_cfg.seed, step]))


def train_batch(ids, train_cfg, step: int, device):
    x, y = train_windows(ids, train_cfg, step)
    return ember.tensor(x, device=device), ember.tensor(y, device=device)


def eval_windows(ids, train_cfg, batches: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The fixed validation windows every evaluation uses (``batches`` x ``batch_size`` of them)."""
    rng = np.random.default_rng([train_cfg.seed, 2**31 - 1])
    return [windows(ids, train_cfg.batch_size, train_cfg.seq_len, rng) for _ in range(batches or train_cfg.eval_batches)]


def evaluate(model, ids: np.ndarray, train_cfg, device, batches: int | None = None) -> dict:
    """Mean loss, perplexity and next-token accuracy on fixed windows of ``ids``."""
    from ember.nn import functional as F

    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0, 0
    try:
        with ember.no_grad():
            for x_np, y_np in eval_windows(ids, train_cfg, batches):
                x, y = ember.tensor(x_np, device=device), ember.tensor(y_np, device=device)
                logits = model(x)
                v = logits.shape[-1]
                flat_y = y.reshape(-1)
                total += float(F.cross_entropy(logits.reshape(-1, v), flat_y, reduction="sum").item())
                pred = logits.reshape(-1, v).numpy().argmax(axis=-1)
                correct += int((pred == flat_y.numpy()).sum())
                count += flat_y.shape[0]
    finally:
        if was_training:
            model.train()
    loss = total / count
    return {"val_loss": loss, "val_ppl": math.exp(min(loss, 700.0)), "val_acc": correct / count}


def sample(model, tok, prompt: str, max_new_tokens: int, temperature: float = 0.8, top_k: int | None = 40,
           top_p: float | None = None, device=None) -> str:
    from ember_models.generation import generate

    try:
        ids = tok.encode(prompt) or [0]
    except ValueError:  # a prompt character outside a small character vocabulary
        ids = [0]
    out = generate(model, ember.tensor(ids, device=device), max_new_tokens, temperature=temperature, top_k=top_k,
                   top_p=top_p)
    return tok.decode(out.numpy().tolist())


class LMTask(Task):
    """Next-token prediction on a shipped corpus (gpt2, llama): see :mod:`ember_cli.tasks`."""

    unit, rate_key, metric, metric_label = "tok/s", "tokens_per_s", "val_acc", "next-token accuracy"

    def __init__(self, cfg, device) -> None:
        self.cfg, self.device = cfg, device

    def setup(self, run_dir: Path, resume: bool) -> str:
        cfg = self.cfg
        text = corpus_text(cfg.data)
        self.tok = load_tokenizer(run_dir) if resume else build_tokenizer(cfg.data, text)
        if not resume:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_tokenizer(self.tok, cfg.data.tokenizer, run_dir)
        cfg.model.vocab_size = self.tok.vocab_size
        self.train_ids, self.val_ids = token_splits(cfg.data, self.tok, text)
        for name, ids in (("training", self.train_ids), ("validation", self.val_ids)):
            if len(ids) <= cfg.train.seq_len + 1:
                from .output import UsageError

                raise UsageError(f"the {name} split has {len(ids)} tokens, too few for train.seq_len="
                                 f"{cfg.train.seq_len} (raise data.max_chars or lower train.seq_len)")
        return (f"corpus {cfg.data.corpus}, {cfg.data.tokenizer} tokenizer, vocab {self.tok.vocab_size}, "
                f"{len(self.train_ids):,} training tokens")

    @property
    def items_per_step(self) -> int:
        return self.cfg.train.batch_size * self.cfg.train.seq_len

    def train_arrays(self, step: int):
        return train_windows(self.train_ids, self.cfg.train, step)

    def loss(self, model, batch):
        return model.loss(*batch)

    def evaluate(self, model, batches: int | None = None) -> dict:
        return evaluate(model, self.val_ids, self.cfg.train, self.device, batches)

    def describe(self, m: dict) -> str:
        return f"val loss {m['val_loss']:.4f}, perplexity {m['val_ppl']:.2f}, accuracy {m['val_acc']:.3f}"

    def finish(self, model) -> None:
        from .output import info, out

        t = self.cfg.train
        if not t.samples:
            return
        info(f"samples ({t.sample_tokens} tokens each, temperature 0.8, top-k 40):")
        for i in range(t.samples):
            prompt = PROMPTS[i % len(PROMPTS)] if self.cfg.data.tokenizer == "char" else PROMPTS[i % 2]
            out(f"--- sample {i + 1} ---")
            out(sample(model, self.tok, prompt, t.sample_tokens, device=self.device))
