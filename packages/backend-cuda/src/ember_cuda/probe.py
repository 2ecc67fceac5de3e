"""Can the CUDA backend run here? A cheap check that names what is missing.

It never imports CuPy (that takes a second and needs the CUDA libraries): it looks for the
package, then asks the driver API (``libcuda``) directly, through ctypes, how many devices
there are. ``check()`` raises with the reason (ember's registry turns that into the reason
shown by ``ember devices`` and in the error of ``ember.device("cuda")``); ``reason()``
returns it as text ("" when the backend can run).
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys

__all__ = ["check", "reason", "driver_device_count"]

_cached: str | None = None


class CudaUnavailable(RuntimeError):
    """The CUDA backend can't run on this machine; the message says why."""


def driver_device_count() -> tuple[int, str]:
    """(number of CUDA devices, "") from the driver, or (0, why not)."""
    names = ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so")
    lib = None
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        return 0, ("no NVIDIA driver: libcuda.so.1 could not be loaded (this machine has no NVIDIA GPU, or its "
                   "driver is not installed)")
    status = lib.cuInit(0)
    if status != 0:
        return 0, f"the NVIDIA driver is installed but cuInit failed with CUDA error {status} (no usable GPU?)"
    count = ctypes.c_int(0)
    status = lib.cuDeviceGetCount(ctypes.byref(count))
    if status != 0:
        return 0, f"cuDeviceGetCount failed with CUDA error {status}"
    if count.value == 0:
        return 0, "the NVIDIA driver sees no CUDA device (check CUDA_VISIBLE_DEVICES)"
    return count.value, ""


def reason() -> str:
    """Why the CUDA backend can't run here, or "" when it can (the answer is cached)."""
    global _cached
    if _cached is None:
        if importlib.util.find_spec("cupy") is None:
            _cached = ("CuPy is not installed: pip install 'ember-backend-cuda[cuda12]' (or cupy-cuda12x / "
                       "cupy-cuda13x matching your CUDA driver)")
        else:
            _cached = driver_device_count()[1]
    return _cached


def check() -> bool:
    """True when the backend can run; otherwise raises :class:`CudaUnavailable` with the reason."""
    why = reason()
    if why:
        raise CudaUnavailable(why)
    return True
