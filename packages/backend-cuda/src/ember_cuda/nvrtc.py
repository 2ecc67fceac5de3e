"""A minimal ctypes binding of NVRTC, to compile ember's CUDA C sources without a GPU.

CuPy compiles the kernels at run time with the same compiler (NVRTC), but CuPy's own
``compile_using_nvrtc`` asks the CUDA runtime for its version first, which fails on a
machine without a driver. This module talks to ``libnvrtc`` directly, so the kernel sources
can be checked on a CPU-only machine (CI) with nothing but the ``nvidia-cuda-nvrtc-cu12``
wheel (or a CUDA toolkit) installed.

>>> from ember_cuda import nvrtc
>>> nvrtc.available() in (True, False)
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys

__all__ = ["available", "unavailable_reason", "compile_ptx", "version", "CompileError"]


class CompileError(RuntimeError):
    """NVRTC rejected a source; the message holds the compiler's log."""


_lib = None
_why = ""


def _candidates():
    # The pip wheels (nvidia-cuda-nvrtc-cu12 / -cu13) put the library under site-packages/nvidia/.
    for base in sys.path:
        for pattern in ("nvidia/cuda_nvrtc/lib/libnvrtc.so*", "nvidia/cu13/lib/libnvrtc.so*",
                        "nvidia/cuda_nvrtc/bin/nvrtc64_*.dll"):
            yield from sorted(glob.glob(os.path.join(base, pattern)), reverse=True)
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home:
            yield from sorted(glob.glob(os.path.join(home, "lib64", "libnvrtc.so*")), reverse=True)
    found = ctypes.util.find_library("nvrtc")
    if found:
        yield found


def _load():
    global _lib, _why
    if _lib is not None or _why:
        return _lib
    tried = []
    for path in _candidates():
        if "builtins" in os.path.basename(path) or ".alt." in os.path.basename(path):
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            tried.append(f"{path}: {exc}")
            continue
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        _lib = lib
        return lib
    _why = ("NVRTC (libnvrtc) was not found: pip install nvidia-cuda-nvrtc-cu12, or install a CUDA toolkit"
            + (f" (tried: {'; '.join(tried)})" if tried else ""))
    return None


def available() -> bool:
    """Whether libnvrtc could be loaded."""
    return _load() is not None


def unavailable_reason() -> str:
    _load()
    return _why


def version() -> tuple[int, int]:
    lib = _require()
    major, minor = ctypes.c_int(), ctypes.c_int()
    _check(lib, lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
    return major.value, minor.value


def _require():
    lib = _load()
    if lib is None:
        raise RuntimeError(_why)
    return lib


def _check(lib, status: int, what: str) -> None:
    if status != 0:
        raise CompileError(f"{what} failed: {lib.nvrtcGetErrorString(status).decode()}")


def compile_ptx(source: str, name: str = "kernel.cu", options=("--std=c++14", "-arch=compute_80")) -> str:
    """Compile CUDA C ``source`` to PTX; raises :class:`CompileError` with NVRTC's log."""
    lib = _require()
    prog = ctypes.c_void_p()
    _check(lib, lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None),
           "nvrtcCreateProgram")
    try:
        opts = [o.encode() for o in options]
        argv = (ctypes.c_char_p * len(opts))(*opts)
        status = lib.nvrtcCompileProgram(prog, len(opts), argv)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        if status != 0:
            raise CompileError(f"{name}: {lib.nvrtcGetErrorString(status).decode()}\n{log.value.decode()}")
        lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        _check(lib, lib.nvrtcGetPTX(prog, ptx), "nvrtcGetPTX")
        return ptx.value.decode()
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
