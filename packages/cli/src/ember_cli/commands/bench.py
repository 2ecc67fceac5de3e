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
  ember bench gpt2 --compare torch     side by side with the same model in PyTorch (transformers)
  ember bench gpt2 llama --preset tiny --steps 5 --json
  ember bench gpt2 --set model.n_layer=8 --batch-size 32
"""

TWINS = {"gpt2"}  # models with a PyTorch twin (transformers' implementation, same config)


def configure(subparsers) -> None:
    p = add_parser(subparsers, "bench", "time a training step (optionally against PyTorch)",
                   "Time full training steps (forward, cross-entropy, backward, AdamW) of each MODEL on random\n"
                   "tokens: the median step time, tokens/s and peak memory (growth of the peak resident set).\n"
                   "Each case runs in its own process. --compare torch runs the same model in PyTorch.\n"
                   "Language models (gpt2, llama) for now; vocab_size defaults to 512 unless set.", EXAMPLES)
    p.add_argument("models", nargs="*", metavar="MODEL", help=f"models to time (default {cfgmod.DEFAULT_MODEL})")
    p.add_argument("--preset", help="one of the models' presets (default: ember-cli's training defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.add_argument("--compare", choices=["torch"], help="also time the same model in PyTorch")
    p.add_argument("--batch-size", type=int, default=None, help="default: train.batch_size")
    p.add_argument("--seq-len", type=int, default=None, help="default: train.seq_len")
    p.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--device", default=None, help="ember's device (default cpu)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    models = args.models or [cfgmod.DEFAULT_MODEL]
    if args.steps < 1 or args.warmup < 0:
        raise UsageError("--steps must be >= 1 and --warmup >= 0")
    if args.compare == "torch":
        for module, package in (("torch", "torch"), ("transformers", "transformers")):
            if importlib.util.find_spec(module) is None:
                raise UsageError(f"--compare torch needs PyTorch's GPT-2: pip install {package}")
    cases = []
    for name in models:
        if cfgmod.TASKS.get(name) != "lm":
            raise UsageError(f"`ember bench` times language models so far ({', '.join(cfgmod.TASKS)}); got {name!r}")
        sets = (["model.vocab_size=512"] if not any(s.startswith("model.vocab_size") for s in args.set)
                and not args.preset else []) + list(args.set)
        cfg = cfgmod.resolve(name, args.preset, None, sets)  # checks everything before any timing
        case = {"model": name, "preset": args.preset, "sets": sets, "steps": args.steps, "warmup": args.warmup,
                "batch_size": args.batch_size or cfg.train.batch_size, "seq_len": args.seq_len or cfg.train.seq_len,
                "device": args.device}
        context = getattr(cfg.model, "n_positions", None) or getattr(cfg.model, "max_seq_len", None)
        if case["seq_len"] > context or case["batch_size"] < 1 or case["seq_len"] < 1:
            raise UsageError(f"--seq-len/--batch-size: need 1 <= seq_len <= {context} and batch_size >= 1")
        cases.append({**case, "framework": "ember"})
        if args.compare == "torch":
            if name in TWINS:
                cases.append({**case, "framework": "torch"})
            else:
                info(f"no PyTorch twin for {name}; timing ember only")
    results = []
    for case in cases:
        info(f"timing {case['model']} ({case['framework']}): {case['warmup']} warm-up + {case['steps']} steps "
             f"of {case['batch_size']}x{case['seq_len']} tokens")
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
        ratio = f"{ref['step_ms'] / r['step_ms']:.2f}x" if ref and r["framework"] == "ember" else ""
        rows.append([r["model"], r["framework"], f"{r['params'] / 1e6:.2f}M", f"{r['batch_size']}x{r['seq_len']}",
                     f"{r['step_ms']:.1f}", f"{r['tokens_per_s']:,.0f}", f"{r['peak_mem_mb']:.0f}", ratio])
    out(table(rows, ["model", "framework", "params", "batch", "step ms (median)", "tokens/s", "peak MB",
                     "speed vs torch"]))
    return 0
