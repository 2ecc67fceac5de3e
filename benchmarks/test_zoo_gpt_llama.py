"""GPT-mini and Llama-mini training steps: ember (ember_models) vs the same model in PyTorch CPU eager.

    pytest benchmarks/test_zoo_gpt_llama.py --benchmark-group-by=group
    python benchmarks/test_zoo_gpt_llama.py [--repeat N]      # ratio table, A-B-B-A subprocesses

The cases are in zoo_lm_cases.py. A ratio above 1 means ember is slower.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import zoo_lm_cases  # noqa: E402

pytestmark = pytest.mark.benchmark

PARAMS = [pytest.param(case, impl, id=f"{case}-{impl}") for case, impls in zoo_lm_cases.CASES.items()
          for impl in impls]


@pytest.mark.parametrize("case, impl", PARAMS)
def test_step(benchmark, case, impl):
    if impl == "torch":
        pytest.importorskip("torch", reason="the PyTorch reference is not installed")
    pytest.importorskip("ember_models")
    step = zoo_lm_cases.make(case, impl)
    benchmark.group = case
    benchmark.extra_info.update(impl=impl, description=zoo_lm_cases.DESCRIPTIONS[case])
    benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=2)


def _worker(case, impl, repeat, warmup):
    if impl == "torch":
        import cases

        cases.import_torch()
    step = zoo_lm_cases.make(case, impl)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(json.dumps(times))


def main(argv):
    import argparse

    parser = argparse.ArgumentParser(description="ember/torch training-step ratios for GPT-mini and Llama-mini")
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--worker", nargs=2)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(*args.worker, args.repeat, args.warmup)
    print(f"{'case':24} {'ember (median)':>15} {'torch (median)':>15} {'ratio':>7} {'ratio (min)':>12}")
    for case, impls in zoo_lm_cases.CASES.items():
        times = {impl: [] for impl in impls}
        for impl in list(impls) + list(impls)[::-1]:  # A-B-B-A, each in a fresh process
            out = subprocess.run([sys.executable, __file__, "--worker", case, impl, "--repeat",
                                  str(max(1, args.repeat // 2)), "--warmup", str(args.warmup)],
                                 check=True, capture_output=True, text=True).stdout
            times[impl] += json.loads(out.strip().splitlines()[-1])
        e, t = times["ember"], times["torch"]
        print(f"{case:24} {statistics.median(e) * 1e3:13.1f}ms {statistics.median(t) * 1e3:13.1f}ms "
              f"{statistics.median(e) / statistics.median(t):7.2f} {min(e) / min(t):12.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
