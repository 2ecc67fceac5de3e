"""``ember eval RUN_OR_CHECKPOINT``: a trained model's metrics on its held-out split."""

from __future__ import annotations

import json

from .. import config as cfgmod
from .. import runs
from ..output import UsageError, info, out, table
from . import add_parser
from .generate import _device

EXAMPLES = """\
  ember eval runs/gpt2-20250101-120000
  ember eval runs/my-run/checkpoint.safetensors --batches 32 --json
  ember eval runs/vit-20250101-120000            test accuracy on the whole Fashion-MNIST test split
  ember eval runs/clip-20250101-120000 --json    zero-shot accuracy and recall@1/5/10
"""


def configure(subparsers) -> None:
    p = add_parser(subparsers, "eval", "evaluate a trained model on its held-out split",
                   "Evaluate a run's checkpoint on the held-out split of its data, by model kind:\n"
                   "  language models (gpt2, llama): loss, perplexity and next-token accuracy on the\n"
                   "    validation windows `ember train` reports (more with --batches);\n"
                   "  classifiers (vit, resnet, bert): loss and accuracy on the test split;\n"
                   "  clip: contrastive loss, zero-shot accuracy, and image->text / text->image\n"
                   "    recall@1/5/10 (a match: the same caption; and: the very pair).\n"
                   "Classifiers and CLIP use the whole test split unless --batches limits it.", EXAMPLES)
    p.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="a run folder or a checkpoint file in one")
    p.add_argument("--batches", type=int, default=None,
                   help="held-out batches to evaluate (default: the run's train.eval_batches; for classifiers "
                        "and CLIP 0 = all)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: cpu)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..tasks import make_task

    run_dir, ckpt = runs.locate(args.run)
    cfg = cfgmod.load(run_dir / runs.CONFIG)
    lm = cfg.task == "lm"
    if args.batches is not None and args.batches < (1 if lm else 0):
        raise UsageError(f"--batches must be >= {1 if lm else 0}, got {args.batches}")
    device = _device(args.device)
    task = make_task(cfg, device)
    info(f"evaluating {ckpt} ({cfg.model_name}, {cfg.task} task)")
    info(task.setup(run_dir, resume=True))
    cfg, _, model = runs.load_model(run_dir, ckpt, device, cfg=cfg)
    metrics = task.evaluate(model, batches=args.batches)
    result = {"run": str(run_dir), "checkpoint": str(ckpt), "model": cfg.model_name, "task": cfg.task}
    if lm:
        tokens = (args.batches or cfg.train.eval_batches) * cfg.train.batch_size * cfg.train.seq_len
        result.update({"tokens": tokens, "loss": metrics["val_loss"], "perplexity": metrics["val_ppl"],
                       "accuracy": metrics["val_acc"]})
        rows = [["loss", f"{result['loss']:.4f}"], ["perplexity", f"{result['perplexity']:.3f}"],
                ["next-token accuracy", f"{result['accuracy']:.4f}"], ["tokens evaluated", str(tokens)]]
    elif cfg.task == "clip":
        result.update({"loss": metrics["val_loss"], "zero_shot_accuracy": metrics["zero_shot_acc"],
                       "examples": metrics["val_examples"], "retrieval_pairs": metrics["retrieval_pairs"],
                       "recall": {k: v for k, v in metrics.items() if "@" in k}})
        rows = [["contrastive loss", f"{result['loss']:.4f}"],
                ["zero-shot accuracy", f"{result['zero_shot_accuracy']:.4f}"],
                ["pairs evaluated", str(result["examples"])]]
        for match in ("caption", "pair"):
            for direction in ("image_to_text", "text_to_image"):
                ks = "/".join(f"{metrics[f'{direction}@{k}_{match}']:.3f}" for k in (1, 5, 10))
                rows.append([f"{direction.replace('_to_', '->')} R@1/5/10 (same {match}, "
                             f"{result['retrieval_pairs']} pairs)", ks])
    else:
        result.update({"loss": metrics["val_loss"], "accuracy": metrics["val_acc"],
                       "examples": metrics["val_examples"]})
        rows = [["loss", f"{result['loss']:.4f}"], ["accuracy", f"{result['accuracy']:.4f}"],
                ["examples evaluated", str(result["examples"])]]
    if args.json:
        out(json.dumps(result, indent=2))
    else:
        out(table(rows, ["metric", "value"]))
    return 0
