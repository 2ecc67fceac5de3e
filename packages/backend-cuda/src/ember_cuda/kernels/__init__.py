"""ember's fused CUDA kernels: CUDA C sources compiled at run time with NVRTC (through CuPy).

Each module holds one concept: its CUDA C ``TEMPLATE``, the ``VARIANTS`` it is compiled
for (dtype and compile-time constants), and what it gives the backend: ``KERNELS`` (entries
of ``backend.kernels``, looked up by name by the core's ops and optimizers) or
``FUNCTIONS`` (subclasses of core primitives with the same forward/backward signature, for
``backend.functions``). Importing them does not import CuPy; launching does.
"""

from __future__ import annotations

import importlib

#: The kernel modules, in the order the compile test and the backend read them.
MODULES = ("softmax", "cross_entropy", "layer_norm", "activation", "adam", "flash_attention", "embedding", "linear")


def modules():
    return [importlib.import_module(f"{__name__}.{name}") for name in MODULES]


def sources():
    """``(module name, dtype, defines, CUDA C source)`` for every variant of every kernel module."""
    from .source import build

    out = []
    for module in modules():
        name = module.__name__.rsplit(".", 1)[-1]
        for dtype, defines in module.VARIANTS:
            out.append((name, dtype, defines, build(module.TEMPLATE, dtype, **defines)))
    return out


def tables() -> tuple[dict, dict]:
    """``(kernels, functions)``: what the CUDA backend puts in ``backend.kernels`` / ``backend.functions``."""
    kernels, functions = {}, {}
    for module in modules():
        kernels.update(getattr(module, "KERNELS", {}))
        functions.update(getattr(module, "FUNCTIONS", {}))
    return kernels, functions
