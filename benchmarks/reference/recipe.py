"""The PyTorch side of the README's results: the same recipe as `ember train MODEL`, in PyTorch.

"The same recipe" means: the config `ember train` resolves (the defaults, or the same
``--preset`` / ``--set`` values), the same data and batches (ember-cli's task draws them, as
NumPy arrays, from the same seed), the same starting weights (the ember model is built with
the run's seed and copied into its PyTorch twin, :mod:`ember_cli.torch_twins`), the same
optimizer (AdamW with the same hyper-parameters), learning-rate schedule
(:func:`ember_cli.loop.lr_at`), gradient clipping and steps, and the same held-out metrics.
Only the framework differs.

    python benchmarks/reference/recipe.py vit [--set train.steps=200 ...] [--json out.json]

(each ``<model>_recipe.py`` beside this file is that command for one model).
torch is a test/benchmark dependency, never one of ember's packages'.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _optimizer(cfg, params):
    o = cfg.optim
    if o.name not in ("AdamW", "Adam", "SGD"):
        raise SystemExit(f"recipe.py: no PyTorch counterpart wired for optim.name={o.name!r}")
    if o.name == "SGD":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    cls = torch.optim.AdamW if o.name == "AdamW" else torch.optim.Adam
    return cls(params, lr=o.lr, betas=tuple(o.betas), eps=o.eps, weight_decay=o.weight_decay)


@torch.no_grad()
def evaluate(task, model) -> dict:
    """The held-out metrics ember-cli's task reports, computed on the PyTorch model."""
    import torch.nn.functional as F

    cfg = task.cfg
    model.eval()
    try:
        if cfg.task == "lm":
            from ember_cli.lm import eval_windows

            total, correct, count = 0.0, 0, 0
            for x, y in eval_windows(task.val_ids, cfg.train):
                logits = model(torch.from_numpy(x))
                flat = logits.reshape(-1, logits.shape[-1])
                yt = torch.from_numpy(y).reshape(-1)
                total += float(F.cross_entropy(flat, yt, reduction="sum"))
                correct += int((flat.argmax(-1) == yt).sum())
                count += yt.numel()
            return {"val_loss": total / count, "val_ppl": math.exp(min(total / count, 700)), "val_acc": correct / count}
        if cfg.task == "clip":
            from ember_cli.pairs import evaluate_embeddings

            x, y = task.eval_arrays()
            image = torch.cat([model.get_image_features(torch.from_numpy(x[i:i + 500]))
                               for i in range(0, len(y), 500)]).numpy()
            text = model.get_text_features(torch.from_numpy(task.class_ids),
                                           torch.from_numpy(task.class_mask)).numpy()
            return evaluate_embeddings(image, text, y, float(model.logit_scale.exp()), cfg.train.batch_size,
                                       cfg.data.retrieval_size)
        *inputs, labels = task.eval_arrays()
        total, correct = 0.0, 0
        for i in range(0, len(labels), 500):
            logits = model(*(torch.from_numpy(a[i:i + 500]) for a in inputs))
            yt = torch.from_numpy(labels[i:i + 500])
            total += float(F.cross_entropy(logits, yt, reduction="sum"))
            correct += int((logits.argmax(-1) == yt).sum())
        return {"val_loss": total / len(labels), "val_acc": correct / len(labels), "val_examples": len(labels)}
    finally:
        model.train()


def main(model_name: str | None = None, argv=None) -> dict:
    import ember
    from ember_cli import config as cfgmod
    from ember_cli.loop import lr_at
    from ember_cli.tasks import make_task
    from ember_cli.torch_twins import init_like_ember
    from ember_models import get_spec

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    if model_name is None:
        p.add_argument("model")
    p.add_argument("--preset")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", metavar="FILE", help="write the final metrics and timing as JSON")
    args = p.parse_args(argv)
    name = model_name or args.model
    cfg = cfgmod.resolve(name, args.preset, None, args.set)
    t = cfg.train

    # The ember run's order: seed, data, model. The same seed gives the same starting weights.
    ember.manual_seed(t.seed)
    np.random.seed(t.seed)
    task = make_task(cfg, ember.device("cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        print(task.setup(Path(tmp), resume=False), file=sys.stderr)
    model = init_like_ember(name, get_spec(name).builder(cfg.model))
    torch.manual_seed(t.seed)
    opt = _optimizer(cfg, model.parameters())
    params = sum(p.numel() for p in model.parameters())
    print(f"{name} (PyTorch {torch.__version__}, {torch.get_num_threads()} threads): {params / 1e6:.2f}M parameters, "
          f"{t.steps} steps", file=sys.stderr)
    model.train()
    start, history = time.perf_counter(), []
    for step in range(t.steps):
        lr = lr_at(cfg.optim, step, t.steps)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = model.loss(*(torch.from_numpy(a) for a in task.train_arrays(step)))
        opt.zero_grad()
        loss.backward()
        if cfg.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        opt.step()
        done = step + 1
        if done % t.log_every == 0:
            print(f"step {done}/{t.steps} | loss {float(loss):.4f} | {time.perf_counter() - start:.0f}s",
                  file=sys.stderr, flush=True)
        if (t.eval_every and done % t.eval_every == 0) or done == t.steps:
            m = evaluate(task, model)
            history.append({"step": done, **m})
            print(f"step {done}: {task.describe(m)}", file=sys.stderr, flush=True)
    result = {"model": name, "framework": "torch", "torch": torch.__version__, "params": params, "steps": t.steps,
              "seconds": time.perf_counter() - start, "final": history[-1], "history": history}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    print(json.dumps(result["final"]))
    return result


if __name__ == "__main__":
    main()
