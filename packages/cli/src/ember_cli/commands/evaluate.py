"""``ember eval RUN_OR_CHECKPOINT``: a trained model's metrics on the validation split."""

from __future__ import annotations

import json

from .. import config as cfgmod
from .. import lm, runs
from ..output import UsageError, info, out, table
from . import add_parser
from .generate import _device

EXAMPLES = """\
  ember eval runs/gpt2-20250101-120000
  ember eval runs/my-run/checkpoint.safetensors --batches 32 --json
"""


def configure(subparsers) -> None:
    p = add_parser(subparsers, "eval", "evaluate a trained model on the validation split",
                   "Evaluate a run's checkpoint on the validation split of its data. Language models:\n"
                   "loss, perplexity and next-token accuracy, on the same validation windows `ember train`\n"
                   "reports (more with --batches).", EXAMPLES)
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="a run folder or a checkpoint file in one")
    p.add_argument("--batches", type=int, default=None,
                   help="validation batches to evaluate (default: the run's train.eval_batches)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: cpu)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.batches is not None and args.batches < 1:
        raise UsageError(f"--batches must be >= 1, got {args.batches}")
    run_dir, ckpt = runs.locate(args.run)
    cfg = cfgmod.load(run_dir / runs.CONFIG)
    if cfgmod.TASKS.get(cfg.model_name) != "lm":
        raise UsageError(f"{run_dir} holds a {cfg.model_name} run; `ember eval` evaluates language models so far")
    device = _device(args.device)
    cfg, tok, model = runs.load_model(run_dir, ckpt, device)
    info(f"evaluating {ckpt} on the validation split of {cfg.data.corpus}")
    _, val_ids = lm.token_splits(cfg.data, tok, lm.corpus_text(cfg.data))
    metrics = lm.evaluate(model, val_ids, cfg.train, device, batches=args.batches)
    tokens = (args.batches or cfg.train.eval_batches) * cfg.train.batch_size * cfg.train.seq_len
    result = {"run": str(run_dir), "checkpoint": str(ckpt), "model": cfg.model_name, "tokens": tokens,
              "loss": metrics["val_loss"], "perplexity": metrics["val_ppl"], "accuracy": metrics["val_acc"]}
    if args.json:
        out(json.dumps(result, indent=2))
    else:
        out(table([["loss", f"{result['loss']:.4f}"], ["perplexity", f"{result['perplexity']:.3f}"],
                   ["next-token accuracy", f"{result['accuracy']:.4f}"], ["tokens evaluated", str(tokens)]],
                  ["metric", "value"]))
    return 0
