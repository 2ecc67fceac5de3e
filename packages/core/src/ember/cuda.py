"""``ember.cuda``: the CUDA runtime API with PyTorch's ``torch.cuda`` names.

These work whether or not ember-backend-cuda is installed: without it (or without a GPU)
``is_available()`` is False and ``device_count()`` 0, and the other functions raise an error
that says what is missing. Memory figures come from the backend's ``memory_stats``
(CuPy's memory pool for ember-backend-cuda).

>>> import ember
>>> isinstance(ember.cuda.is_available(), bool)
True
"""

from __future__ import annotations

from .device import Device, DeviceError, get_backend

__all__ = ["is_available", "device_count", "synchronize", "memory_allocated", "max_memory_allocated",
           "memory_reserved", "reset_peak_memory_stats", "empty_cache", "get_device_name",
           "get_device_properties", "matmul"]


def _backend():
    return get_backend("cuda")


def _index(device) -> int:
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    dev = Device(device)
    if dev.type != "cuda":
        raise DeviceError(f"expected a cuda device, got {dev}")
    return dev.index or 0


def _require(name: str):
    backend = _backend()
    fn = getattr(backend, name, None)
    if fn is None:
        raise NotImplementedError(f"the {backend.name!r} backend serving 'cuda' has no {name}()")
    return fn


def is_available() -> bool:
    """Whether a backend for "cuda" is installed and can run here."""
    try:
        return _backend().device_count() > 0
    except DeviceError:
        return False


def device_count() -> int:
    try:
        return _backend().device_count()
    except DeviceError:
        return 0


def synchronize(device=None) -> None:
    """Wait for all work queued on the device (before reading a clock, for example)."""
    _backend().synchronize(_index(device))


def memory_allocated(device=None) -> int:
    """Bytes held by live tensors on the device."""
    return int(_backend().memory_stats(_index(device)).get("allocated", 0))


def max_memory_allocated(device=None) -> int:
    """The peak of :func:`memory_allocated` since start or :func:`reset_peak_memory_stats`."""
    return int(_backend().memory_stats(_index(device)).get("peak", 0))


def memory_reserved(device=None) -> int:
    """Bytes the allocator holds from the driver (in use or cached)."""
    return int(_backend().memory_stats(_index(device)).get("cached", 0))


def reset_peak_memory_stats(device=None) -> None:
    _require("reset_peak_memory_stats")(_index(device))


def empty_cache() -> None:
    """Release cached, unused memory back to the driver."""
    _require("empty_cache")()


def get_device_properties(device=None) -> dict:
    return _require("properties")(_index(device))


def get_device_name(device=None) -> str:
    return get_device_properties(device)["name"]


class _Matmul:
    """``ember.cuda.matmul.allow_tf32``: TF32 tensor cores for float32 matmuls (off by default)."""

    @property
    def allow_tf32(self) -> bool:
        try:
            from ember_cuda import get_allow_tf32
        except ImportError:
            return False
        return get_allow_tf32()

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        try:
            from ember_cuda import set_allow_tf32
        except ImportError:
            raise DeviceError("ember.cuda.matmul.allow_tf32 needs ember-backend-cuda "
                              "(pip install ember-backend-cuda)") from None
        set_allow_tf32(value)


matmul = _Matmul()
