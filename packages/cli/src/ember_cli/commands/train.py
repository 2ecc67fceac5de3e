"""``ember train [MODEL]``: train a model on the shipped data, with checkpoints, metrics and a plot.

The run folder (``--out``, default ``runs/MODEL-YYYYmmdd-HHMMSS``) receives the resolved
``config.toml``, the tokenizer, ``metrics.jsonl``, ``plot.png`` and
``checkpoint.safetensors``, written atomically every ``train.checkpoint_every`` steps, at the
end, and on Ctrl-C (then the command exits with status 130). ``--resume`` continues from
the checkpoint exactly: same batches, optimizer state and RNG states, so the loss curve is
the one an uninterrupted run would have drawn.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from .. import config as cfgmod
from .. import runs
from ..loop import fit, make_optimizer
from ..output import UsageError, info, out
from . import add_parser

EXAMPLES = """\
  ember train                                   the default: a small GPT-2 on Shakespeare (~5 min on 2 cores)
  ember train gpt2 --preset tiny --set train.steps=100
  ember config show gpt2 > run.toml && ember train gpt2 --config run.toml
  ember train gpt2 --set optim.lr=1e-3 --set train.batch_size=32 --out runs/big-batch
  ember train gpt2 --out runs/big-batch --resume      continue after Ctrl-C
  ember train vit                               a ViT on Fashion-MNIST (test accuracy; ~8 min on 2 cores)
  ember train resnet --set data.dataset=digits --preset tiny --set train.steps=100
  ember train bert                              fine-tune a small BERT on the fortunes topics
  ember train clip                              CLIP on Fashion-MNIST images and class captions
"""


def configure(subparsers) -> None:
    p = add_parser(subparsers, "train", "train a model",
                   "Train MODEL (default gpt2) on its task's data: gpt2 and llama on the shipped corpus,\n"
                   "vit and resnet on Fashion-MNIST, bert on the fortunes topics, clip on Fashion-MNIST\n"
                   "with class captions. Progress goes to stderr (a live bar on a terminal, plain lines\n"
                   "otherwise or with NO_COLOR); samples and the run folder go to stdout. Ctrl-C saves a\n"
                   "checkpoint and exits with status 130; --resume continues it.",
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


# -- the command -------------------------------------------------------------------------

def run(args) -> int:
    import ember
    from ember.serialization import load_checkpoint
    from ember_models import get_spec

    from ..tasks import make_task

    cfg, run_dir = _resolve(args)
    device = _device(cfg)
    t = cfg.train
    ckpt = run_dir / runs.CHECKPOINT
    if args.resume and not ckpt.is_file():
        raise UsageError(f"--resume: {run_dir} has no checkpoint ({runs.CHECKPOINT}) to resume from")

    ember.manual_seed(t.seed)
    np.random.seed(t.seed)
    random.seed(t.seed)

    task = make_task(cfg, device)
    info(f"preparing data for {cfg.model_name} ({cfg.task} task)")
    data_line = task.setup(run_dir, args.resume)

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
        (run_dir / runs.CONFIG).write_text(cfg.to_toml(f"resolved config of run {run_dir.name}"), encoding="utf-8")
    n_params = sum(int(np.prod(p.shape)) for p in model.parameters())
    info(f"{cfg.model_name}: {n_params / 1e6:.2f}M parameters, device {device}; {data_line}; run folder {run_dir}")

    step, last_eval = fit(task, model, optimizer, run_dir, start)
    if step < t.steps:
        info(f"checkpoint saved at step {step}/{t.steps}; continue with: ember train {cfg.model_name} "
             f"--out {run_dir} --resume")
        out(f"run folder: {run_dir}")
        return 130
    task.finish(model)
    if last_eval:
        info(f"final: {task.describe(last_eval)}")
    out(f"run folder: {run_dir}")
    return 0
