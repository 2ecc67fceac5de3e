"""Host memory: freed NumPy buffers stay in the process instead of going back to the OS.

A training step allocates and frees the same large arrays over and over: activations,
gradients, convolution columns. glibc's malloc hands out blocks above its mmap threshold
(128 KiB at start, raised as large blocks are freed) as fresh pages from the OS and returns
them on free, and trims the top of its heap whenever enough of it is free. Every first
write to a fresh page is a page fault in which the kernel zeroes the page. A step's mix
of sizes keeps that happening: a ViT-tiny training step (batch 64) took 1.34-1.39 s before
this and 1.09-1.18 s after.

:func:`tune_malloc` calls ``mallopt`` twice. It fixes the mmap threshold at 32 MiB, glibc's
largest, so smaller blocks come from the heap and are reused. It raises the trim threshold
to 1 GiB, so a step's freed memory waits for the next step. The process then keeps up to
its peak heap, as PyTorch's caching allocators do with GPU memory.

ember calls it once, when imported, on Linux with glibc. Set ``EMBER_MALLOC_TUNING=0``
before importing ember to leave malloc alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune_malloc", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

#: mallopt parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 1 << 30

#: Whether this process's malloc was tuned (set by :func:`tune_malloc`).
tuned = False


def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring). Returns whether it did:
    False where ``EMBER_MALLOC_TUNING=0``, off Linux or without glibc."""
    global tuned
    if os.environ.get("EMBER_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc: other C libraries' malloc has other knobs
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return tuned
