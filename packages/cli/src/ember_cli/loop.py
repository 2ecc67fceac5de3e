"""The training loop every task shares: lr schedule, clipping, metrics, progress, checkpoints, Ctrl-C.

``fit`` runs steps ``start+1 .. train.steps`` of a :class:`~ember_cli.tasks.Task`: each step
sets the learning rate, computes the task's loss, steps the optimizer and writes one JSON
line (step, loss, lr, throughput) to ``metrics.jsonl``; every ``eval_every`` steps and at the
end it evaluates on the held-out split; every ``checkpoint_every`` steps, at the end and
on the first Ctrl-C it writes the checkpoint atomically.
"""

from __future__ import annotations

import inspect
import json
import math
import signal
import time
from pathlib import Path

from . import runs
from .output import CommandError, Progress, warn


def make_optimizer(cfg, params):
    """The optimizer ``optim.name`` names, given the hyper-parameters it accepts."""
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


def write_plot(run_dir: Path, rows: list[dict], metric: str = "val_acc", label: str = "accuracy") -> bool:
    """``plot.png``: training and validation loss, and the task's headline metric, against the step."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        warn("no plot.png: matplotlib is not installed (pip install matplotlib)")
        return False
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    val = [(r["step"], r["val_loss"], r.get(metric)) for r in rows if "val_loss" in r]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    if train:
        ax1.plot(*zip(*train), label="train loss", lw=1)
    if val:
        ax1.plot([v[0] for v in val], [v[1] for v in val], "o-", label="val loss")
        ax2.plot([v[0] for v in val], [v[2] for v in val], "o-", color="tab:green", label=f"val {label}")
    ax1.set_xlabel("step"), ax1.set_ylabel("loss"), ax1.legend(), ax1.grid(alpha=0.3)
    ax2.set_xlabel("step"), ax2.set_ylabel(label), ax2.legend(), ax2.grid(alpha=0.3)
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    tmp = run_dir / f".{runs.PLOT}.tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(run_dir / runs.PLOT)
    return True


class Interrupt:
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


def fit(task, model, optimizer, run_dir: Path, start: int) -> tuple[int, dict | None]:
    """Train from step ``start`` to ``train.steps``; returns (the last step done, the last evaluation).

    The returned step is below ``train.steps`` when Ctrl-C stopped the run (a checkpoint of
    that step has been written).
    """
    from ember.nn.utils import clip_grad_norm_
    from ember.serialization import save_checkpoint

    cfg = task.cfg
    t = cfg.train
    ckpt = run_dir / runs.CHECKPOINT

    def checkpoint(step: int) -> None:
        save_checkpoint(ckpt, model=model, optimizer=optimizer, step=step, extra={"model_name": cfg.model_name})

    progress = Progress(t.steps, start, every=t.log_every, unit=task.unit)
    metrics = open(run_dir / runs.METRICS, "a", encoding="utf-8")
    step, last_eval = start, None
    try:
        with Interrupt(progress.message) as interrupt:
            model.train()
            while step < t.steps:
                if interrupt.requested:
                    break
                t0 = time.perf_counter()
                lr = lr_at(cfg.optim, step, t.steps)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss = task.loss(model, task.train_batch(step))
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
                rate = task.items_per_step / max(time.perf_counter() - t0, 1e-9)
                metrics.write(json.dumps({"step": step, "loss": loss_value, "lr": lr,
                                          task.rate_key: rate}) + "\n")
                metrics.flush()
                progress.update(step, rate, loss=loss_value)
                if (t.eval_every and step % t.eval_every == 0) or step == t.steps:
                    last_eval = task.evaluate(model)
                    model.train()
                    metrics.write(json.dumps({"step": step, **last_eval}) + "\n")
                    metrics.flush()
                    progress.message(f"step {step}: {task.describe(last_eval)}")
                if (t.checkpoint_every and step % t.checkpoint_every == 0) or step == t.steps:
                    checkpoint(step)
            if step < t.steps:
                checkpoint(step)
    finally:
        progress.close()
        metrics.close()
    write_plot(run_dir, runs.read_metrics(run_dir), task.metric, task.metric_label)
    return step, last_eval
