"""Compiling and launching ember's CUDA C kernels through CuPy (``cupy.RawModule``).

Each (kernel file, dtype, compile-time constants) triple is compiled once per process with
NVRTC and cached; CuPy also keeps the compiled binary in its on-disk kernel cache
(``~/.cupy/kernel_cache``), so a second process starts without compiling.
"""

from __future__ import annotations

import numpy as np

from .source import DTYPES, build

_modules: dict = {}


_names: dict = {}  # dtype -> kernel dtype name; keyed by the dtype itself (its .name is slow Python)


def dtype_name(dtype) -> str:
    """ember's kernel dtype name of a NumPy dtype ("float32", "bfloat16", ...), or "" if unsupported."""
    name = _names.get(dtype)
    if name is None:
        name = np.dtype(dtype).name
        name = _names[dtype] = name if name in DTYPES else ""
    return name


def function(template: str, key: str, dtype, kernel: str, **defines):
    """The compiled ``kernel`` of ``template`` (identified by ``key``) for arrays of ``dtype``."""
    import cupy

    name = dtype_name(dtype) if not isinstance(dtype, str) else dtype
    if not name:
        raise TypeError(f"ember's CUDA kernel {key}.{kernel} supports {sorted(DTYPES)}, got {np.dtype(dtype)}")
    cache_key = (key, name, tuple(sorted(defines.items())))
    module = _modules.get(cache_key)
    if module is None:
        module = cupy.RawModule(code=build(template, name, **defines), options=("--std=c++14",))
        _modules[cache_key] = module
    return module.get_function(kernel)


def blocks(n: int, threads: int) -> int:
    """Blocks of ``threads`` for a grid-stride loop over ``n`` elements (capped: the loop covers the rest)."""
    return max(1, min((int(n) + threads - 1) // threads, 65535 * 8))


def i64(v) -> np.int64:
    return np.int64(v)


def i32(v) -> np.int32:
    return np.int32(v)


def f64(v) -> np.float64:
    return np.float64(v)
