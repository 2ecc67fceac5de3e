"""Ember against PyTorch CPU eager (and bare NumPy where it sets the floor), in the same run.

    pytest benchmarks/ --benchmark-group-by=group         # or: nox -s bench
    pytest benchmarks/ -k resnet --benchmark-only

Each case is one group: compare the rows within it. The cases are in cases.py;
compare.py prints the same comparison as a table of ember/torch ratios.
"""

from __future__ import annotations

import pytest

import cases

pytestmark = pytest.mark.benchmark

# (rounds, iterations per round, warm-up rounds) per case: enough rounds for a stable median,
# few enough that the whole file stays within a few minutes on 2 cores.
PEDANTIC = {
    "autograd-4x4": (100, 20, 10),
    "matmul-1024": (15, 1, 2),
    "mlp-train-step": (15, 1, 3),
    "resnet18-train-step": (5, 1, 2),
}

PARAMS = [pytest.param(case, impl, id=f"{case}-{impl}") for case, impls in cases.CASES.items() for impl in impls]


@pytest.mark.parametrize("case, impl", PARAMS)
def test_step(benchmark, case, impl):
    if impl == "torch":
        pytest.importorskip("torch", reason="the PyTorch reference is not installed")
    step = cases.make(case, impl)
    benchmark.group = case
    benchmark.extra_info.update(impl=impl, description=cases.DESCRIPTIONS[case], blas=cases.blas_info())
    rounds, iterations, warmup = PEDANTIC[case]
    benchmark.pedantic(step, rounds=rounds, iterations=iterations, warmup_rounds=warmup)
