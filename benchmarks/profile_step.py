"""Where one ember training step spends its time: cProfile of a benchmark case (cases.py).

    python benchmarks/profile_step.py [CASE] [--steps N] [--top K]

CASE is one of cases.py's or one of the zoo steps compare.py runs (vit-tiny-train-step...).

Prints the step time without the profiler, then the functions with the most time of their
own (NumPy's C calls, BLAS included, count towards the Python function that made them), in
ms per step and as a share of the profiled step. Run it on an otherwise idle machine: the
load average is printed, and memory-bound copies slow down far more than GEMMs under load.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases  # noqa: E402
import compare  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", default="resnet18-train-step", choices=list(cases.CASES) + list(compare.ZOO))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    step = compare._make(args.case, "ember")
    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    print(f"{args.case}: {(time.perf_counter() - start) / args.steps * 1e3:.0f} ms/step without the profiler")
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(args.steps):
        step()
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = sum(row[2] for row in stats.values())
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:args.top]
    print(f"profiled: {total / args.steps * 1e3:.0f} ms/step\n{'ms/step':>8} {'share':>6} {'calls':>6}  function")
    for (file, line, name), (_, calls, own, _, _) in rows:
        where = f"{Path(file).name}:{line}({name})" if line else name
        print(f"{own / args.steps * 1e3:8.1f} {own / total:6.1%} {calls // args.steps:6d}  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
