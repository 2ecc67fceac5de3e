"""Where a GPT-2 training step's GPU time goes: every CUDA kernel of a few steps, ember against PyTorch.

    python benchmarks/gpu_profile.py                 # GPT-2 124M, TF32, both frameworks
    python benchmarks/gpu_profile.py --quick --mode bf16 --only ember

PyTorch's profiler (Kineto over CUPTI) records every kernel launched in the process, CuPy's
included, so the same tool reads both frameworks. For each one it prints the wall time of a
step, the GPU's busy time (the sum of kernel times: when it is well below the wall time, the
GPU waits on Python) and the kernels that take the most time, grouped by name; then the
Python functions with the most own time over the same number of steps (cProfile).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_gpt2 import FULL, QUICK, ember_step, torch_step  # noqa: E402


def profile(impl, cfg, mode, steps, top):
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    if impl == "ember":
        import ember

        step, sync = ember_step(cfg, mode), ember.cuda.synchronize
    else:
        step, sync = torch_step(cfg, mode), torch.cuda.synchronize
    for _ in range(2):
        step()
    sync()
    start = time.perf_counter()
    with torch_profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        sync()
    wall = (time.perf_counter() - start) / steps * 1e3
    per_kernel = defaultdict(lambda: [0.0, 0])
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            row = per_kernel[event.name]
            row[0] += event.device_time_total / 1e3 / steps
            row[1] += 1
    busy = sum(ms for ms, _ in per_kernel.values())
    print(f"\n== {impl} {mode}: {wall:.1f} ms/step wall (under the profiler), GPU busy {busy:.1f} ms/step "
          f"({len(per_kernel)} kernel names, {sum(n for _, n in per_kernel.values()) // steps} launches/step)")
    for name, (ms, n) in sorted(per_kernel.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {ms:8.2f} ms {n // steps:5d}x  {name[:110]}")
    sys.stdout.flush()
    host_profile(impl, step, sync, steps, top)


def host_profile(impl, step, sync, steps, top):
    """The Python side of the same steps (cProfile, own time per function): where a
    host-bound step spends the time that the GPU waits for."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    sync()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(tt for (_, _, tt, _, _) in stats.values()) / steps * 1e3
    print(f"-- {impl} host: {total:.1f} ms/step of Python and C calls under cProfile; most own time:")
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    for (path, line, fn), (_, calls, own, _, _) in rows:
        print(f"  {own / steps * 1e3:8.2f} ms {calls // steps:5d}x  {fn} ({path.rsplit('/', 1)[-1]}:{line})")
    sys.stdout.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 layers, seq 256, batch 4")
    parser.add_argument("--mode", default="tf32", choices=("tf32", "bf16"))
    parser.add_argument("--only", choices=("ember", "torch"))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    for impl in [args.only] if args.only else ["ember", "torch"]:
        profile(impl, cfg, args.mode, args.steps, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
