"""The host's cost per call of the CUDA paths a training step is made of, in microseconds.

    python benchmarks/gpu_call_overhead.py

A GPT-2 step on a fast GPU is bounded by how quickly Python can issue its ~2000 launches, so
what matters is the host time of each call, not its kernel time. Every case here works on
tiny arrays (the GPU finishes each kernel in a few microseconds), issues the call many times
without waiting, and reports the host time per call; the raw CuPy and cuBLAS calls next to
ember's show how much of it is ember's own (dispatch, autograd, Python around the launch).
"""

from __future__ import annotations

import argparse
import sys
import time


def per_call_us(fn, calls: int) -> float:
    import cupy

    for _ in range(10):
        fn()
    cupy.cuda.Device().synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    host = (time.perf_counter() - start) / calls * 1e6
    cupy.cuda.Device().synchronize()
    return host


def cases(dtype_name: str):
    import cupy

    import ember
    import ember.nn.functional as F
    from ember_cuda.gemm import batched_matmul

    dtype = ember.bfloat16 if dtype_name == "bfloat16" else ember.float32
    x = ember.randn(4, 16, 64, device="cuda").to(dtype)
    w = ember.randn(96, 64, device="cuda").to(dtype)
    b = ember.randn(96, device="cuda").to(dtype)
    xg, wg, bg = (t.detach().requires_grad_() for t in (x, w, b))
    a2, w2 = x._data.reshape(-1, 64), w._data
    out = cupy.empty((64, 96), a2.dtype)
    y = ember.randn(4, 16, 64, device="cuda").to(dtype)

    def linear_train():
        F.linear(xg, wg, bg).sum().backward()

    return {
        "cupy: a @ w.T (2-D)": lambda: a2 @ w2.T,
        "cublas: batched_matmul, batch 1": lambda: batched_matmul(a2[None], w2[None], out[None], trans_b=True),
        "cupy: a + b (elementwise)": lambda: a2 + a2,
        "cupy: empty (pool malloc)": lambda: cupy.empty((64, 96), a2.dtype),
        "cupy: a.sum(0)": lambda: a2.sum(0),
        "ember: x + y (no grad)": lambda: x + y,
        "ember: F.linear (no grad)": lambda: F.linear(x, w, b),
        "ember: F.layer_norm (no grad)": lambda: F.layer_norm(x, (64,)),
        "ember: F.linear fwd+bwd, sum": linear_train,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    for dtype_name in ("float32", "bfloat16"):
        print(f"\n{dtype_name}: host microseconds per call")
        for name, fn in cases(dtype_name).items():
            calls = args.calls // 10 if "bwd" in name else args.calls
            print(f"  {per_call_us(fn, calls):8.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
