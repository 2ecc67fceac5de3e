"""ember-backend-cuda: Ember's CUDA backend on CuPy (device "cuda", "cuda:N").

Installing the package registers the backend through the ``ember`` entry-point group;
CuPy is imported only when a "cuda" device is first used. The functions here are the
runtime API a training script wants (PyTorch's ``torch.cuda`` names): the memory and
synchronisation functions are ``ember.cuda``'s; ``is_available`` and ``device_count`` here
ask the driver without importing CuPy.

>>> import ember_cuda
>>> isinstance(ember_cuda.is_available(), bool)
True
"""

from __future__ import annotations

from ember.cuda import (empty_cache, get_device_properties, max_memory_allocated, memory_allocated,
                        memory_reserved, reset_peak_memory_stats, synchronize)

from .tf32 import get_allow_tf32, matmul, set_allow_tf32

__all__ = ["is_available", "unavailable_reason", "device_count", "synchronize", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "reset_peak_memory_stats", "empty_cache",
           "get_device_properties", "matmul", "set_allow_tf32", "get_allow_tf32"]

__version__ = "0.1.0"


def unavailable_reason() -> str:
    """Why the CUDA backend can't run here ("" when it can)."""
    from . import probe

    return probe.reason()


def is_available() -> bool:
    """Whether CuPy is installed and the driver reports a CUDA device (CuPy is not imported)."""
    return not unavailable_reason()


def device_count() -> int:
    from . import probe

    return probe.driver_device_count()[0] if is_available() else 0
