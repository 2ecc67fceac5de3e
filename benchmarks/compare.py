"""Print a table of ember/torch time ratios for every benchmark case (cases.py).

    python benchmarks/compare.py [--repeat N] [--rounds N] [--only CASE ...]
    python benchmarks/compare.py --only gpt-mini-train-step llama-mini-train-step bert-mini-train-step vit-tiny-train-step
    python benchmarks/compare.py --cpu-backend numpy ...   # ember on plain NumPy where ember-backend-native is installed

A ratio above 1 means ember is slower. Each implementation of a case runs in a process of
its own (so neither library's idle BLAS/OpenMP threads spin against the other's), twice, in
A-B-B-A order so that a drift in the machine's load hits both alike; a time is the median
(and the minimum) of all timed steps after warm-up steps. Run it on an otherwise idle
machine: the load average is printed before and after. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, if set,
change which kernel NumPy's OpenBLAS runs; the header says what is in effect.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases  # noqa: E402

REPEAT = {"autograd-4x4": 2000, "matmul-1024": 20, "mlp-train-step": 20, "resnet18-train-step": 6}
WARMUP = {"autograd-4x4": 200, "matmul-1024": 3, "mlp-train-step": 3, "resnet18-train-step": 2}


def _zoo(module: str, *case):
    def make(impl):
        import importlib

        return importlib.import_module(module).make(*case, impl)
    return make


#: The model zoo's training steps (the pytest-benchmark files hold them), with the same
#: A-B-B-A treatment: ``--only gpt-mini-train-step`` etc. They are not in the default run.
ZOO = {
    "gpt-mini-train-step": _zoo("zoo_lm_cases", "gpt-mini-train-step"),
    "llama-mini-train-step": _zoo("zoo_lm_cases", "llama-mini-train-step"),
    "bert-mini-train-step": _zoo("test_zoo_bert"),
    "vit-tiny-train-step": _zoo("test_zoo_vit"),
}
ZOO_DESCRIPTIONS = {
    "gpt-mini-train-step": "GPT-mini (4 layers, d 256, 4 heads, vocab 4096) step, batch 16 x 128, AdamW",
    "llama-mini-train-step": "Llama-mini (4 layers, dim 256, RoPE, SwiGLU, vocab 4096) step, batch 16 x 128, AdamW",
    "bert-mini-train-step": "BERT-mini (4 x 256, vocab 30522) classification step, batch 16 x 128, AdamW",
    "vit-tiny-train-step": "ViT-Ti (32x32, patch 4, dim 192, depth 6, heads 3) step, batch 64, AdamW",
}
for _case in ZOO:
    REPEAT[_case], WARMUP[_case] = 6, 2


def _make(case: str, impl: str):
    return ZOO[case](impl) if case in ZOO else cases.make(case, impl)


def _impls(case: str) -> list:
    return ["ember", "torch"] if case in ZOO else list(cases.CASES[case])


def cpu_backend_scope(name: str | None):
    """Run ember's "cpu" on the backend registered as ``name`` inside the block (None: the one
    that serves it by priority, ember-backend-native when it is installed)."""
    if not name:
        return contextlib.nullcontext()
    from ember import plugins
    from ember.device import use_backend

    backends = plugins.registry("backends")
    if name not in backends or "cpu" not in backends[name].options.get("device_types", ()):
        raise SystemExit(f"--cpu-backend {name!r}: no backend of that name serves cpu; backends: {sorted(backends)}")
    return use_backend(name)


def cpu_backend_name(name: str | None) -> str:
    import ember

    with cpu_backend_scope(name):
        return ember.device("cpu").backend.name


def step_times(case: str, impl: str, repeat: int, warmup: int, cpu_backend: str | None = None) -> list[float]:
    """Build one step of `case` in `impl` in this process and time it `repeat` times."""
    if impl == "torch":
        cases.import_torch()  # sets the thread count before anything runs
    with cpu_backend_scope(cpu_backend if impl.startswith("ember") else None):
        return time_steps(_make(case, impl), repeat, warmup)


def time_steps(step, repeat: int, warmup: int) -> list[float]:
    """Seconds of each of ``repeat`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def times_in_subprocesses(case: str, repeat: int, warmup: int, cpu_backend: str | None = None) -> dict:
    """{impl: [seconds, ...]}, each impl timed in two fresh processes, in A-B-B-A order."""
    impls = _impls(case)
    times = {impl: [] for impl in impls}
    half = max(2, repeat // 2)
    backend = ["--cpu-backend", cpu_backend] if cpu_backend else []
    for impl in impls + impls[::-1]:
        out = subprocess.run([sys.executable, __file__, "--worker", case, impl, str(half), str(warmup), *backend],
                             check=True, capture_output=True, text=True).stdout
        times[impl] += json.loads(out.strip().splitlines()[-1])
    return times


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=float, default=1.0, help="scale the number of timed steps")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat the A-B-B-A measurement; the ratio is then the median of the rounds' ratios, "
                             "and their range is printed")
    parser.add_argument("--only", nargs="*", choices=list(cases.CASES) + list(ZOO),
                        help="cases to run (default: the core cases; the zoo's run when named)")
    parser.add_argument("--cpu-backend", metavar="NAME",
                        help="the ember backend for device cpu (default: the highest-priority one; "
                             "'numpy' for plain NumPy where ember-backend-native is installed)")
    parser.add_argument("--worker", nargs=4, metavar=("CASE", "IMPL", "REPEAT", "WARMUP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        case, impl, repeat, warmup = args.worker
        print(json.dumps(step_times(case, impl, int(repeat), int(warmup), args.cpu_backend)))
        return 0

    torch = cases.import_torch()
    import numpy

    import ember

    print(f"{platform.processor() or platform.machine()}, {cases.cores()} cores; python {platform.python_version()}, "
          f"numpy {numpy.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"ember {ember.__version__} (cpu backend: {cpu_backend_name(args.cpu_backend)})")
    print(cases.blas_info())
    print(f"load average before: {load_average()}")
    print()
    header = (f"{'case':<22}{'ember':>11}{'torch':>11}{'numpy':>11}{'ember/torch':>13}{'(min/min)':>11}"
              f"{'ember/numpy':>13}")
    print(header)
    print("-" * len(header))
    for case in args.only or cases.CASES:
        repeat = max(3, int(REPEAT[case] * args.repeat))
        times, ratios = {}, []
        for _ in range(max(1, args.rounds)):
            one = times_in_subprocesses(case, repeat, WARMUP[case], args.cpu_backend)
            ratios.append(statistics.median(one["ember"]) / statistics.median(one["torch"]))
            for impl, ts in one.items():
                times.setdefault(impl, []).extend(ts)
        med = {impl: statistics.median(ts) for impl, ts in times.items()}
        best = {impl: min(ts) for impl, ts in times.items()}
        numpy_t = med.get("numpy")
        vs_numpy = f"{med['ember'] / numpy_t:.2f}x" if numpy_t else "-"
        spread = f"  rounds {min(ratios):.2f}-{max(ratios):.2f}x" if len(ratios) > 1 else ""
        print(f"{case:<22}{fmt(med['ember']):>11}{fmt(med['torch']):>11}{fmt(numpy_t) if numpy_t else '-':>11}"
              f"{statistics.median(ratios):>12.2f}x{best['ember'] / best['torch']:>10.2f}x{vs_numpy:>13}{spread}",
              flush=True)
    print(f"\nload average after: {load_average()}")
    print("times are medians; (min/min) is the ratio of the fastest steps"
          + ("; ember/torch is the median of the rounds' ratios" if args.rounds > 1 else ""))
    for case in args.only or cases.CASES:
        print(f"  {case}: {ZOO_DESCRIPTIONS[case] if case in ZOO else cases.DESCRIPTIONS[case]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
