"""``CupyBackend``: device "cuda" (and "cuda:N") on CuPy.

CuPy spells NumPy's API on the GPU (``out=``, views, ``ufunc.at``...), so the core's ops run
unchanged with ``xp = cupy``; this backend adds device placement, transfers, memory
statistics, TF32, DLPack and the fused kernels of :mod:`ember_cuda.kernels`.

Arrays are placed with ``cupy.cuda.Device(index)``; ops run on the device that is current
(device 0 unless the program selects another with ``cupy.cuda.Device(i).use()``).
"""

from __future__ import annotations

import numpy as np
from ember.backend import Backend
from ember.device import DeviceError

from . import probe, tf32
from .memory import PeakTrackingAllocator

__all__ = ["CupyBackend"]

#: DLPack device type codes (dlpack.h): CUDA memory, and managed memory CUDA can read.
DLPACK_CUDA, DLPACK_CUDA_MANAGED = 2, 13


class CupyBackend(Backend):
    name = "cuda"
    device_types = ("cuda",)
    has_views = True

    def __init__(self) -> None:
        why = probe.reason()
        if why:
            raise DeviceError(f"the CUDA backend can't start: {why}")
        import cupy

        from .kernels import tables

        self.cupy = self.xp = cupy
        try:
            self._count = cupy.cuda.runtime.getDeviceCount()
        except cupy.cuda.runtime.CUDARuntimeError as exc:
            raise DeviceError(f"the CUDA backend can't start: CuPy {cupy.__version__} could not use the driver "
                              f"({exc}); install the CuPy wheel that matches the driver's CUDA version") from None
        self.allocator = PeakTrackingAllocator(cupy.get_default_memory_pool())
        cupy.cuda.set_allocator(self.allocator)
        self.kernels, self.functions = tables()
        tf32.activate()

    def is_available(self) -> bool:
        return self._count > 0

    def unavailable_reason(self) -> str:
        return "" if self._count > 0 else "CuPy sees no CUDA device"

    def device_count(self) -> int:
        return self._count

    def properties(self, index: int = 0) -> dict:
        """Name, total memory (bytes), compute capability and multiprocessor count of a device."""
        props = self.cupy.cuda.runtime.getDeviceProperties(index)
        name = props["name"]
        return {"name": name.decode() if isinstance(name, bytes) else str(name),
                "total_memory": int(props["totalGlobalMem"]),
                "compute_capability": (int(props["major"]), int(props["minor"])),
                "multi_processor_count": int(props["multiProcessorCount"])}

    def describe(self, index: int = 0) -> str:
        p = self.properties(index)
        major, minor = p["compute_capability"]
        return (f"{p['name']} ({p['total_memory'] / 2**30:.1f} GiB, compute capability {major}.{minor}, "
                f"CuPy {self.cupy.__version__}, CUDA runtime {self._runtime_version()})")

    def _runtime_version(self) -> str:
        v = self.cupy.cuda.runtime.runtimeGetVersion()
        return f"{v // 1000}.{(v % 1000) // 10}"

    # -- moving data -------------------------------------------------------------------

    def asarray(self, obj, dtype, index: int = 0):
        cupy = self.cupy
        with cupy.cuda.Device(index):
            if isinstance(obj, cupy.ndarray) and obj.device.id != index:
                obj = obj.get()
            return cupy.asarray(obj, dtype=dtype)

    def from_numpy(self, array, index: int = 0):
        with self.cupy.cuda.Device(index):
            return self.cupy.asarray(array)

    def to_numpy(self, array) -> np.ndarray:
        if isinstance(array, self.cupy.ndarray):
            return array.get()
        return np.asarray(array)

    def device_index_of(self, array) -> int:
        return array.device.id

    def from_dlpack(self, obj, index: int = 0):
        """A zero-copy CuPy view of a DLPack-capable array on CUDA device ``index`` (torch, JAX, CuPy)."""
        with self.cupy.cuda.Device(index):
            return self.cupy.from_dlpack(obj)

    # -- runtime -----------------------------------------------------------------------

    def synchronize(self, index: int = 0) -> None:
        self.cupy.cuda.Device(index).synchronize()

    def memory_stats(self, index: int = 0) -> dict[str, int]:
        """``allocated`` (bytes in live arrays), ``peak`` (its maximum since start or the last
        reset) and ``cached`` (bytes the pool holds, in use or free) of CuPy's memory pool."""
        return self.allocator.stats(self.cupy, index)

    def reset_peak_memory_stats(self, index: int = 0) -> None:
        self.allocator.reset_peak(self.cupy, index)

    def empty_cache(self) -> None:
        self.allocator.empty_cache()
