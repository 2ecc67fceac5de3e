"""The benchmark cases, each as a step function per implementation (ember, torch, numpy).

``make(case, impl)`` builds the inputs and model once and returns a zero-argument callable
that runs one step. The pytest-benchmark files and compare.py time these same callables.
Inputs come from one seeded NumPy generator, so both libraries see the same numbers.

Threads: torch is set to use every core this process may run on (``cores()``); NumPy's
BLAS (OpenBLAS) sizes its own thread pool, normally to the same count, and ember's other
NumPy work is single-threaded as NumPy is.
"""

from __future__ import annotations

import os

import numpy as np

import models

CASES = {
    "autograd-4x4": ("ember", "torch"),
    "matmul-1024": ("ember", "numpy", "torch"),
    "mlp-train-step": ("ember", "torch"),
    "resnet18-train-step": ("ember", "torch"),
}

DESCRIPTIONS = {
    "autograd-4x4": "forward+backward of y=(a*b+c).sum(), 4x4 float32 (per-op overhead)",
    "matmul-1024": "forward+backward of A@B, 1024x1024 float32 (numpy: A@B, G@B.T, A.T@G)",
    "mlp-train-step": "MLP 784-1024-1024-10 training step, batch 256, Adam, float32",
    "resnet18-train-step": "CIFAR ResNet-18 (32-64-128-256, BatchNorm) step, batch 32, 3x32x32, SGD momentum",
}


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def import_torch():
    import torch

    torch.set_num_threads(cores())
    return torch


def blas_info() -> str:
    """Which BLAS NumPy uses, its kernel and thread count, and any OPENBLAS_* variables in effect."""
    env = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, {p.get('num_threads')} threads)"
                 for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        pools = ["threadpoolctl not installed"]
    return f"numpy BLAS: {', '.join(pools) or 'unknown'}; OPENBLAS env: {env or 'none set'}"


def _rng():
    return np.random.default_rng(0)


def _to(impl, array, requires_grad=False):
    if impl == "ember":
        import ember

        return ember.tensor(array, requires_grad=requires_grad)
    torch = import_torch()
    return torch.tensor(array, requires_grad=requires_grad)


def _autograd_tiny(impl):
    rng = _rng()
    a, b, c = (_to(impl, rng.standard_normal((4, 4), dtype=np.float32), requires_grad=True) for _ in range(3))

    def step():
        a.grad = b.grad = c.grad = None
        y = (a * b + c).sum()
        y.backward()
        return y

    return step


def _matmul(impl):
    rng = _rng()
    a_np = rng.standard_normal((1024, 1024), dtype=np.float32)
    b_np = rng.standard_normal((1024, 1024), dtype=np.float32)
    g_np = rng.standard_normal((1024, 1024), dtype=np.float32)
    if impl == "numpy":
        def step():  # what the forward and the backward of A @ B need, and nothing else
            out = a_np @ b_np
            grad_a = g_np @ b_np.T
            grad_b = a_np.T @ g_np
            return out, grad_a, grad_b

        return step
    a, b, g = _to(impl, a_np, True), _to(impl, b_np, True), _to(impl, g_np)

    def step():
        a.grad = b.grad = None
        out = a @ b
        out.backward(g)
        return out

    return step


def _train_step(impl, model, optimizer, x, y):
    if impl == "ember":
        from ember.nn import functional as F
    else:
        from torch.nn import functional as F
    model.train()

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _lib(impl):
    if impl == "ember":
        import ember

        return ember
    return import_torch()


def _mlp(impl):
    lib = _lib(impl)
    rng = _rng()
    lib.manual_seed(0)
    model = models.mlp(lib.nn)
    x = _to(impl, rng.standard_normal((256, 784), dtype=np.float32))
    y = _to(impl, rng.integers(0, 10, 256))
    return _train_step(impl, model, lib.optim.Adam(model.parameters(), lr=1e-3), x, y)


def _resnet(impl):
    lib = _lib(impl)
    rng = _rng()
    lib.manual_seed(0)
    model = models.resnet18(lib.nn)
    x = _to(impl, rng.standard_normal((32, 3, 32, 32), dtype=np.float32))
    y = _to(impl, rng.integers(0, 10, 32))
    return _train_step(impl, model, lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), x, y)


_BUILDERS = {"autograd-4x4": _autograd_tiny, "matmul-1024": _matmul, "mlp-train-step": _mlp,
             "resnet18-train-step": _resnet}


def make(case: str, impl: str):
    """One step of `case` in `impl` ("ember", "torch" or "numpy"), ready to call repeatedly."""
    if impl not in CASES[case]:
        raise ValueError(f"case {case!r} has no {impl!r} implementation; it has {CASES[case]}")
    return _BUILDERS[case](impl)
