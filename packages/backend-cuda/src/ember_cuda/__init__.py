"""ember-backend-cuda: Ember's CUDA backend on CuPy (device "cuda", "cuda:N").

Installing the package registers the backend through the ``ember`` entry-point group;
CuPy is imported only when a "cuda" device is first used. The functions here are the
runtime API a training script wants (PyTorch's ``torch.cuda`` names); ``ember.cuda``
gives the same ones without importing this package.

>>> import ember_cuda
>>> isinstance(ember_cuda.is_available(), bool)
True
"""

from __future__ import annotations

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


def _backend():
    from ember.device import get_backend

    return get_backend("cuda")


def _index(device) -> int:
    import ember

    if device is None:
        return 0
    if isinstance(device, int):
        return device
    dev = ember.device(device)
    if dev.type != "cuda":
        raise ValueError(f"expected a cuda device, got {dev}")
    return dev.index or 0


def device_count() -> int:
    from . import probe

    return probe.driver_device_count()[0] if is_available() else 0


def synchronize(device=None) -> None:
    """Wait for the work queued on a cuda device (what timings need before reading a clock)."""
    _backend().synchronize(_index(device))


def memory_allocated(device=None) -> int:
    """Bytes held by live arrays on the device (CuPy's memory pool)."""
    return _backend().memory_stats(_index(device))["allocated"]


def max_memory_allocated(device=None) -> int:
    """The peak of :func:`memory_allocated` since start or :func:`reset_peak_memory_stats`."""
    return _backend().memory_stats(_index(device))["peak"]


def memory_reserved(device=None) -> int:
    """Bytes the memory pool holds from the driver, in use or cached for reuse."""
    return _backend().memory_stats(_index(device))["cached"]


def reset_peak_memory_stats(device=None) -> None:
    _backend().reset_peak_memory_stats(_index(device))


def empty_cache() -> None:
    """Return the pool's cached free blocks to the driver (as ``torch.cuda.empty_cache``)."""
    _backend().empty_cache()


def get_device_properties(device=None) -> dict:
    """``{"name", "total_memory", "compute_capability", "multi_processor_count"}`` of a device."""
    return _backend().properties(_index(device))
