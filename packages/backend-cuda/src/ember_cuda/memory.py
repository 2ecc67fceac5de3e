"""Device memory: CuPy's memory pool, with the peak that PyTorch's allocator reports.

CuPy's pool knows the bytes in use (``used_bytes``) and held (``total_bytes``) but keeps no
high-water mark, so the backend installs :class:`PeakTrackingAllocator` as CuPy's allocator:
it allocates from the same pool and records the largest ``used_bytes`` seen after an
allocation, per device. Cost: one Python call per allocation, small next to a kernel launch.
"""

from __future__ import annotations

__all__ = ["PeakTrackingAllocator"]


class PeakTrackingAllocator:
    """``cupy.cuda.set_allocator(PeakTrackingAllocator(pool))``: the pool's malloc plus a peak."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.peak: dict[int, int] = {}

    def __call__(self, size: int):
        mem = self.pool.malloc(size)
        used = self.pool.used_bytes()
        dev = mem.device_id
        if used > self.peak.get(dev, 0):
            self.peak[dev] = used
        return mem

    def stats(self, cupy, index: int) -> dict[str, int]:
        with cupy.cuda.Device(index):
            used, held = self.pool.used_bytes(), self.pool.total_bytes()
        return {"allocated": used, "peak": max(self.peak.get(index, 0), used), "cached": held}

    def reset_peak(self, cupy, index: int) -> None:
        with cupy.cuda.Device(index):
            self.peak[index] = self.pool.used_bytes()

    def empty_cache(self) -> None:
        """Give the pool's free blocks back to the driver (arrays in use are untouched)."""
        self.pool.free_all_blocks()
