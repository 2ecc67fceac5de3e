"""``ember bench [MODEL ...] [--compare torch]``: training-step time, throughput and peak memory."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from .. import config as cfgmod
from ..output import CommandError, UsageError, info, out, table
from . import add_parser

EXAMPLES = """\
  ember bench                          the default GPT-2 (the one `ember train` trains)
  ember bench gpt2 --compare torch     side by side with the same model in PyTorch
  ember bench vit resnet bert clip --compare torch
  ember bench gpt2 llama --preset tiny --steps 5 --json
  ember bench gpt2 --set model.n_layer=8 --batch-size 32
"""


def configure(subparsers) -> None:
    p = add_parser(subparsers, "bench", "time a training step (optionally against PyTorch)",
                   "Time full training steps (forward, the task's loss, backward, AdamW) of each MODEL on\n"
                   "random inputs of its task's shapes (tokens, images, texts, image-caption pairs): the\n"
                   "median step time, throughput and peak memory (growth of the peak resident set). Each\n"
                   "case runs in its own process. --compare torch runs the same model in PyTorch (its twin\n"
                   "in ember_cli.torch_twins, same shapes and state_dict names). Models and shapes are\n"
                   "`ember train`'s defaults (or --preset / --set); LMs use vocab_size 512 unless set.", EXAMPLES)
    p.add_argument("models", nargs="*", metavar="MODEL", help=f"models to time (default {cfgmod.DEFAULT_MODEL})")
    p.add_argument("--preset", help="one of the models' presets (default: ember-cli's training defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--compare", choices=["torch"], help="also time the same model in PyTorch")
    p.add_argument("--batch-size", type=int, default=None, help="default: train.batch_size")
    p.add_argument("--seq-len", type=int, default=None,
                   help="tokens per sequence (default: train.seq_len for LMs, data.max_length for bert)")
    p.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--device", default=None, help="ember's device (default cpu)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    from ember_models import list_models

    models = args.models or [cfgmod.DEFAULT_MODEL]
    if args.steps < 1 or args.warmup < 0:
        raise UsageError("--steps must be >= 1 and --warmup >= 0")
    if args.compare == "torch" and importlib.util.find_spec("torch") is None:
        raise UsageError("--compare torch needs PyTorch: pip install torch")
    cases = []
    for name in models:
        if name not in cfgmod.TASKS:
            known = ", ".join(cfgmod.TASKS) if name in list_models() else ", ".join(list_models())
            raise UsageError(f"`ember bench` can't time {name!r}; it times: {known}")
        task = cfgmod.TASKS[name]
        lm_vocab = task == "lm" and not args.preset and not any(s.startswith("model.vocab_size") for s in args.set)
        sets = (["model.vocab_size=512"] if lm_vocab else []) + list(args.set)
        cfg = cfgmod.resolve(name, args.preset, None, sets)  # checks everything before any timing
        seq_len = args.seq_len or (cfg.train.seq_len if task == "lm" else
                                   cfg.data.max_length if task == "text" else None)
        case = {"model": name, "preset": args.preset, "sets": sets, "steps": args.steps, "warmup": args.warmup,
                "batch_size": args.batch_size or cfg.train.batch_size, "seq_len": seq_len, "device": args.device}
        if case["batch_size"] < 1:
            raise UsageError(f"--batch-size must be >= 1, got {case['batch_size']}")
        if task in ("lm", "text"):
            context = (getattr(cfg.model, "n_positions", None) or getattr(cfg.model, "max_seq_len", None)
                       or getattr(cfg.model, "max_position_embeddings", None))
            if not 1 <= seq_len <= context:
                raise UsageError(f"--seq-len: need 1 <= seq_len <= {context} (the model's context), got {seq_len}")
        elif args.seq_len:
            raise UsageError(f"--seq-len is for language models and bert; {name} takes images")
        cases.append({**case, "framework": "ember"})
        if args.compare == "torch":
            cases.append({**case, "framework": "torch"})
    results = []
    for case in cases:
        info(f"timing {case['model']} ({case['framework']}): {case['warmup']} warm-up + {case['steps']} steps "
             f"of batch {case['batch_size']}")
        proc = subprocess.run([sys.executable, "-m", "ember_cli.bench_worker", json.dumps(case)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise CommandError(f"benchmark of {case['model']} ({case['framework']}) failed:\n{proc.stderr.strip()}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if args.json:
        out(json.dumps(results, indent=2))
        return 0
    rows = []
    for r in results:
        ref = next((o for o in results if o["model"] == r["model"] and o["framework"] == "torch"), None)
        ratio = f"{r['step_ms'] / ref['step_ms']:.2f}x" if ref and r["framework"] == "ember" else ""
        rows.append([r["model"], r["framework"], f"{r['params'] / 1e6:.2f}M", r["input"], f"{r['step_ms']:.1f}",
                     f"{r['items_per_s']:,.0f} {r['unit']}/s", f"{r['peak_mem_mb']:.0f}", ratio])
    out(table(rows, ["model", "framework", "params", "input", "step ms (median)", "throughput", "peak MB",
                     "ember/torch time"]))
    return 0
