"""ember against ember: this working tree's step time over another revision's, same machine, same run.

    python benchmarks/ab.py REV CASE [CASE ...] [--rounds N] [--steps N]
    python benchmarks/ab.py HEAD~3 vit-tiny-train-step bert-mini-train-step --rounds 4

REV is checked out into a temporary git worktree (removed afterwards). Each round runs one
worker process per tree, in A-B then B-A order, each building the case from its own tree's
packages (``PYTHONPATH``) and timing ``--steps`` steps after two warm-up steps with
compare.py's worker. The ratio is this tree's median step time over REV's: below 1 means
this tree is faster. On a shared, noisy machine this isolates a change far better than two
ember/torch ratios measured minutes apart, which move with PyTorch's own times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "models", "cli")


def _env(tree: Path) -> dict:
    env = dict(os.environ)
    paths = [str(tree / "packages" / p / "src") for p in PACKAGES]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env["PYTHONPATH"]] if env.get("PYTHONPATH") else paths)
    return env


def _times(tree: Path, case: str, steps: int) -> list[float]:
    out = subprocess.run([sys.executable, str(tree / "benchmarks" / "compare.py"), "--worker", case, "ember",
                          str(steps), "2"], env=_env(tree), check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(trees: dict, case: str, rounds: int, steps: int) -> dict:
    """{name: [seconds, ...]} and the per-round ratios this/other, A-B then B-A."""
    times = {name: [] for name in trees}
    ratios = []
    for r in range(rounds):
        order = list(trees) if r % 2 == 0 else list(trees)[::-1]
        medians = {}
        for name in order:
            t = _times(trees[name], case, steps)
            times[name] += t
            medians[name] = statistics.median(t)
        ratios.append(medians["this"] / medians["other"])
    return {"times": times, "ratios": ratios}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare against (HEAD~1, a tag, a hash)")
    parser.add_argument("cases", nargs="+", help="cases as compare.py names them (vit-tiny-train-step ...)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per worker process")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import compare as current

    known = set(current.ZOO) | set(current.cases.CASES)
    unknown = [c for c in args.cases if c not in known]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {sorted(known)}")
    with tempfile.TemporaryDirectory(prefix="ember-ab-") as tmp:
        other = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), args.rev],
                       check=True, capture_output=True, text=True)
        try:
            print(f"this tree against {args.rev}; load average before: {current.load_average()}")
            for case in args.cases:
                result = compare({"this": ROOT, "other": other}, case, args.rounds, args.steps)
                this, that = (statistics.median(result["times"][k]) for k in ("this", "other"))
                spread = ", ".join(f"{r:.3f}" for r in result["ratios"])
                print(f"{case:26s} this {current.fmt(this):>8s}  {args.rev} {current.fmt(that):>8s}  "
                      f"this/{args.rev} {this / that:.3f}  (rounds {spread})")
            print(f"load average after: {current.load_average()}")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)],
                           check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
