"""``ember train [MODEL]``: train a model on the shipped data, with checkpoints, metrics and a plot.

The run folder (``--out``, default ``runs/MODEL-YYYYmmdd-HHMMSS``) receives the resolved
``config.toml``, the tokenizer, ``metrics.jsonl``, ``plot.png`` and
``checkpoint.safetensors``, written atomically every ``train.checkpoint_every`` steps, at the
end, and on Ctrl-C (then the command exits with status 130). ``--resume`` continues from
the checkpoint exactly: same batches, optimizer state and RNG states, so the loss curve is
the one an uninterrupted run would have drawn.
"""

from __future__ import annotations

import inspect
import json
import math
import random
import signal
import time
from pathlib import Path

import numpy as np

from .. import config as cfgmod
from .. import lm, runs
from ..output import CommandError, Progress, UsageError, info, out, warn
from . import add_parser

EXAMPLES = """\
  ember train                                   the default: a small GPT-2 on Shakespeare (~5 min on 2 cores)
  ember train gpt2 --preset tiny --set train.steps=100
  ember config show gpt2 > run.toml && ember train gpt2 --config run.toml
  ember train gpt2 --set optim.lr=1e-3 --set train.batch_size=32 --out runs/big-batch
  ember train gpt2 --out runs/big-batch --resume      continue after Ctrl-C
"""


def configure(subparsers) -> None:
    p = add_parser(subparsers, "train", "train a model",
                   "Train MODEL (default gpt2) on the shipped corpus. Progress goes to stderr (a live bar on\n"
                   "a terminal, plain lines otherwise or with NO_COLOR); samples and the run folder go to\n"
                   "stdout. Ctrl-C saves a checkpoint and exits with status 130; --resume continues it.",
                   EXAMPLES)
    p.add_argument("model", nargs="?", default=None, help=f"a registered model (default {cfgmod.DEFAULT_MODEL})")
    p.add_argument("--preset", help="one of the model's presets (e.g. tiny)")
    p.add_argument("--config", metavar="FILE", help="a TOML run config (see `ember config show MODEL`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value, e.g. optim.lr=3e-4 (repeatable)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: train.device, 'auto' = the best available)")
    p.add_argument("--out", metavar="DIR", help="the run folder (default runs/MODEL-TIMESTAMP)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (default: the latest runs/MODEL-*) from its checkpoint")
    p.set_defaults(func=run)


# -- setup -------------------------------------------------------------------------------

def _resolve(args) -> tuple[cfgmod.RunConfig, Path]:
    model_name = args.model or cfgmod.DEFAULT_MODEL
    sets = list(args.set) + ([f"train.device={json.dumps(args.device)}"] if args.device else [])
    if args.resume:
        if args.config or args.preset:
            raise UsageError("--resume continues a run with its saved config; --config and --preset can't change "
                             "it (--set can, e.g. --set train.steps=2000)")
        run_dir = Path(args.out) if args.out else runs.latest(model_name)
        if run_dir is None:
            raise UsageError(f"--resume: no run of {model_name} under runs/ to resume; name it with --out")
        if not (run_dir / runs.CONFIG).is_file():
            raise UsageError(f"--resume: {run_dir} is not a run folder (no {runs.CONFIG})")
        r = cfgmod.Resolver(model_name)
        r.apply_file(run_dir / runs.CONFIG)
        for s in sets:
            r.apply_set(s)
        return r.config, run_dir
    cfg = cfgmod.resolve(model_name, args.preset, args.config, sets)
    if args.out:
        run_dir = Path(args.out)
        if (run_dir / runs.CHECKPOINT).exists() or (run_dir / runs.CONFIG).exists():
            raise UsageError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another --out")
    else:
        run_dir = Path("runs") / f"{model_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return cfg, run_dir


def _device(cfg):
    import ember

    try:
        if cfg.train.device == "auto":
            return ember.default_device()
        dev = ember.device(cfg.train.device)
        dev.backend  # fail now, with the backend's reason
        return dev
    except Exception as exc:
        raise UsageError(f"train.device: {exc}") from None


def make_optimizer(cfg, params):
    from ember import plugins

    cls = plugins.get("optimizers", cfg.optim.name).obj
    o = cfg.optim
    wanted = {"lr": o.lr, "weight_decay": o.weight_decay, "betas": tuple(o.betas), "eps": o.eps,
              "momentum": o.momentum}
    accepted = inspect.signature(cls).parameters
    return cls(params, **{k: v for k, v in wanted.items() if k in accepted})


def lr_at(o, step: int, total: int) -> float:
    """Linear warmup over ``warmup_steps``, then cosine / linear decay to ``min_lr_ratio * lr``, or constant."""
    if o.warmup_steps and step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    if o.schedule == "constant":
        return o.lr
    progress = min(1.0, (step - o.warmup_steps) / max(1, total - o.warmup_steps))
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if o.schedule == "cosine" else 1 - progress
    return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * shape)


def write_plot(run_dir: Path, rows: list[dict]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        warn("no plot.png: matplotlib is not installed (pip install matplotlib)")
        return False
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    val = [(r["step"], r["val_loss"], r.get("val_acc")) for r in rows if "val_loss" in r]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    if train:
        ax1.plot(*zip(*train), label="train loss", lw=1)
    if val:
        ax1.plot([v[0] for v in val], [v[1] for v in val], "o-", label="val loss")
        ax2.plot([v[0] for v in val], [v[2] for v in val], "o-", color="tab:green", label="val accuracy")
    ax1.set_xlabel("step"), ax1.set_ylabel("cross-entropy"), ax1.legend(), ax1.grid(alpha=0.3)
    ax2.set_xlabel("step"), ax2.set_ylabel("next-token accuracy"), ax2.legend(), ax2.grid(alpha=0.3)
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    tmp = run_dir / f".{runs.PLOT}.tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(run_dir / runs.PLOT)
    return True


class _Interrupt:
    """First Ctrl-C (SIGINT): ask the loop to checkpoint and stop; a second one aborts at once."""

    def __init__(self, progress_message) -> None:
        self.requested = False
        self._message = progress_message

    def __enter__(self):
        self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._message("interrupted: saving a checkpoint after this step (Ctrl-C again to abort without saving)")

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._old)
        return False


# -- the command -------------------------------------------------------------------------

def run(args) -> int:
    import ember
    from ember.nn.utils import clip_grad_norm_
    from ember.serialization import load_checkpoint, save_checkpoint
    from ember_models import get_spec

    cfg, run_dir = _resolve(args)
    task = cfgmod.TASKS.get(cfg.model_name)
    if task != "lm":
        trainable = ", ".join(k for k, v in cfgmod.TASKS.items() if v == "lm")
        raise UsageError(f"`ember train` can't train {cfg.model_name!r} yet; it trains: {trainable}")
    device = _device(cfg)
    t = cfg.train
    ckpt = run_dir / runs.CHECKPOINT
    if args.resume and not ckpt.is_file():
        raise UsageError(f"--resume: {run_dir} has no checkpoint ({runs.CHECKPOINT}) to resume from")

    ember.manual_seed(t.seed)
    np.random.seed(t.seed)
    random.seed(t.seed)

    info(f"preparing data: corpus {cfg.data.corpus}, {cfg.data.tokenizer} tokenizer")
    text = lm.corpus_text(cfg.data)
    if args.resume:
        tok = lm.load_tokenizer(run_dir)
    else:
        tok = lm.build_tokenizer(cfg.data, text)
    cfg.model.vocab_size = tok.vocab_size
    train_ids, val_ids = lm.token_splits(cfg.data, tok, text)
    for name, ids in (("training", train_ids), ("validation", val_ids)):
        if len(ids) <= t.seq_len + 1:
            raise UsageError(f"the {name} split has {len(ids)} tokens, too few for train.seq_len={t.seq_len} "
                             "(raise data.max_chars or lower train.seq_len)")

    model = get_spec(cfg.model_name).builder(cfg.model)
    model.to(device)
    optimizer = make_optimizer(cfg, model.parameters())
    start = 0
    if args.resume:
        state = load_checkpoint(ckpt, model=model, optimizer=optimizer)
        start = int(state["step"])
        runs.truncate_metrics(run_dir, start)
        info(f"resuming {run_dir} at step {start}/{t.steps}")
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        lm.save_tokenizer(tok, cfg.data.tokenizer, run_dir)
        (run_dir / runs.CONFIG).write_text(cfg.to_toml(f"resolved config of run {run_dir.name}"), encoding="utf-8")
    n_params = sum(p.numel() for p in model.parameters()) if hasattr(next(iter(model.parameters())), "numel") else \
        sum(int(np.prod(p.shape)) for p in model.parameters())
    info(f"{cfg.model_name}: {n_params / 1e6:.2f}M parameters, vocab {tok.vocab_size}, {len(train_ids):,} training "
         f"tokens, device {device}; run folder {run_dir}")

    def checkpoint(step: int) -> None:
        save_checkpoint(ckpt, model=model, optimizer=optimizer, step=step,
                        extra={"model_name": cfg.model_name})

    tokens_per_step = t.batch_size * t.seq_len
    progress = Progress(t.steps, start, every=t.log_every, unit="tok/s")
    metrics = open(run_dir / runs.METRICS, "a", encoding="utf-8")
    step = start
    last_eval = None
    try:
        with _Interrupt(progress.message) as interrupt:
            model.train()
            while step < t.steps:
                if interrupt.requested:
                    break
                t0 = time.perf_counter()
                lr = lr_at(cfg.optim, step, t.steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                x, y = lm.train_batch(train_ids, t, step, device)
                loss = model.loss(x, y)
                optimizer.zero_grad()
                loss.backward()
                if cfg.optim.grad_clip:
                    clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                optimizer.step()
                loss_value = float(loss.item())
                if not math.isfinite(loss_value):
                    raise CommandError(f"the loss became {loss_value} at step {step + 1}; try a lower optim.lr "
                                       f"(now {cfg.optim.lr})")
                step += 1
                rate = tokens_per_step / max(time.perf_counter() - t0, 1e-9)
                metrics.write(json.dumps({"step": step, "loss": loss_value, "lr": lr, "tokens_per_s": rate}) + "\n")
                metrics.flush()
                progress.update(step, rate, loss=loss_value)
                if (t.eval_every and step % t.eval_every == 0) or step == t.steps:
                    last_eval = lm.evaluate(model, val_ids, t, device)
                    metrics.write(json.dumps({"step": step, **last_eval}) + "\n")
                    metrics.flush()
                    progress.message(f"step {step}: val loss {last_eval['val_loss']:.4f}, perplexity "
                                     f"{last_eval['val_ppl']:.2f}, accuracy {last_eval['val_acc']:.3f}")
                if (t.checkpoint_every and step % t.checkpoint_every == 0) or step == t.steps:
                    checkpoint(step)
            stopped = step < t.steps
            if stopped:
                checkpoint(step)
    finally:
        progress.close()
        metrics.close()
    write_plot(run_dir, runs.read_metrics(run_dir))
    if stopped:
        info(f"checkpoint saved at step {step}/{t.steps}; continue with: ember train {cfg.model_name} "
             f"--out {run_dir} --resume")
        out(f"run folder: {run_dir}")
        return 130

    if t.samples:
        info(f"samples ({t.sample_tokens} tokens each, temperature 0.8, top-k 40):")
        for i in range(t.samples):
            prompt = lm.PROMPTS[i % len(lm.PROMPTS)] if cfg.data.tokenizer == "char" else lm.PROMPTS[i % 2]
            out(f"--- sample {i + 1} ---")
            out(lm.sample(model, tok, prompt, t.sample_tokens, device=device))
    if last_eval:
        info(f"final: val loss {last_eval['val_loss']:.4f}, perplexity {last_eval['val_ppl']:.2f}")
    out(f"run folder: {run_dir}")
    return 0
