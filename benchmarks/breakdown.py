"""Where a training step's time goes, ember against PyTorch, primitive by primitive, in the same minutes.

    python benchmarks/breakdown.py CASE [--rounds N] [--steps N] [--top K]
    python benchmarks/breakdown.py vit-tiny-train-step --rounds 2

CASE is one of compare.py's (cases.py's, or a zoo step such as vit-tiny-train-step). Each
round times the case in one ember and one torch worker process, one after the other (the
order alternates between rounds), so both are measured on the machine as it is then.

- ember's rows are its primitives (``Function`` subclasses: ``Linear.forward``,
  ``GELU.backward``...) and its optimizers' ``step``: wall time on the calling thread, so an
  op split over ember's threads counts their work once, plus the wait for the slower one.
- torch's rows are the top-level ops of ``torch.profiler`` (``aten::linear``,
  ``AddmmBackward0``, ``Optimizer.step#AdamW.step``...); the profiler's own overhead (a few
  percent) is in torch's total.

Each number is the median over the worker's steps, in ms a step; the table shows the smallest
over the rounds (the least disturbed). The rows do not add up to ``TOTAL``: the rest is
Python, autograd bookkeeping and allocation between the primitives.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases  # noqa: E402
import compare  # noqa: E402


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _time_methods(classes, names, totals):
    """Wrap ``names`` of each class (where the class defines them) to add their wall time to
    ``totals``; a call inside a timed call (a subclass calling ``super()``) is not counted twice."""
    depth = [0]

    def timed(method, key):
        def wrapper(*args, **kwargs):
            if depth[0]:
                return method(*args, **kwargs)
            depth[0] += 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                totals[key] += time.perf_counter() - start
                depth[0] -= 1
        return wrapper

    for cls in classes:
        for name in names:
            if name in cls.__dict__:
                setattr(cls, name, timed(cls.__dict__[name], f"{cls.__name__}.{name}"))


def ember_steps(case: str, steps: int) -> list[dict]:
    """ms of each ember primitive in each of ``steps`` steps (after two warm-up steps)."""
    from ember.autograd.function import Function
    from ember.optim.optimizer import Optimizer

    step = compare._make(case, "ember")  # imports every module the case uses
    totals = collections.defaultdict(float)
    _time_methods(set(_subclasses(Function)), ("forward", "backward"), totals)
    _time_methods({Optimizer, *_subclasses(Optimizer)}, ("step",), totals)
    for _ in range(2):
        step()
    rows = []
    for _ in range(steps):
        totals.clear()
        start = time.perf_counter()
        step()
        rows.append({"TOTAL": time.perf_counter() - start, **totals})
    return rows


def torch_steps(case: str, steps: int) -> list[dict]:
    """ms of each top-level torch op (autograd's backward nodes included) in each of ``steps`` steps."""
    cases.import_torch()
    from torch.profiler import ProfilerActivity, profile

    step = compare._make(case, "torch")
    for _ in range(3):
        step()
    rows = []
    for _ in range(steps):
        start = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        total = time.perf_counter() - start
        row = collections.defaultdict(float)
        for event in prof.events():
            parent = event.cpu_parent
            engine = "autograd::engine::evaluate_function"
            if event.name.startswith(engine):
                continue
            if parent is None or parent.name.startswith(engine):
                row[event.name] += event.cpu_time_total / 1e6
        rows.append({"TOTAL": total, **row})
    return rows


def medians(rows: list[dict]) -> dict:
    keys = set().union(*rows)
    return {key: statistics.median(row.get(key, 0.0) for row in rows) * 1e3 for key in keys}


def _worker(case: str, impl: str, steps: int) -> dict:
    out = subprocess.run([sys.executable, __file__, case, "--worker", impl, "--steps", str(steps)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=list(cases.CASES) + list(compare.ZOO))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--worker", metavar="IMPL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        rows = (ember_steps if args.worker == "ember" else torch_steps)(args.case, args.steps)
        print(json.dumps(medians(rows)))
        return 0

    print(f"load average before: {compare.load_average()}")
    best = {"ember": {}, "torch": {}}
    for round_ in range(args.rounds):
        for impl in ("ember", "torch") if round_ % 2 == 0 else ("torch", "ember"):
            for key, ms in _worker(args.case, impl, args.steps).items():
                best[impl][key] = min(ms, best[impl].get(key, ms))
    print(f"load average after: {compare.load_average()}\n")
    tables = {impl: sorted(rows.items(), key=lambda kv: -kv[1])[:args.top + 1] for impl, rows in best.items()}
    print(f"{'ember':>34}   {'torch':>44}")
    for i in range(max(len(t) for t in tables.values())):
        cells = []
        for impl, width in (("ember", 26), ("torch", 44)):
            name, ms = tables[impl][i] if i < len(tables[impl]) else ("", None)
            cells.append(f"{name[:width]:<{width}} {ms:8.1f}" if ms is not None else " " * (width + 9))
        print("   ".join(cells))
    print(f"\nms a step: the median over {args.steps} steps of a worker, the smallest over {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
