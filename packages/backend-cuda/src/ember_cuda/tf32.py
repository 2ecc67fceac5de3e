"""TF32 matmuls, opt-in as in PyTorch (``torch.backends.cuda.matmul.allow_tf32``).

On Ampere and newer GPUs, cuBLAS can run float32 matmuls on tensor cores with TF32 inputs
(10-bit mantissa, float32 accumulation): about 8x the float32 throughput on an H100, at the
precision deep-learning training tolerates. CuPy selects it per dtype with its cuBLAS
"compute type"; this module turns it on and off for float32.

Off by default; on with ``ember_cuda.matmul.allow_tf32 = True`` (also ``ember.cuda.matmul``),
``set_allow_tf32(True)``, or the environment variable ``EMBER_CUDA_TF32=1`` (CuPy's own
``CUPY_TF32=1`` is honoured too).
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

__all__ = ["set_allow_tf32", "get_allow_tf32", "matmul", "float32_matmuls"]

_wanted: bool = (os.environ.get("EMBER_CUDA_TF32", os.environ.get("CUPY_TF32", "0")).strip().lower()
                 in ("1", "true", "yes", "on"))
_ready = False


def activate() -> None:
    """Called by the backend once CuPy and the GPU are up: from now on the flag reaches CuPy."""
    global _ready
    _ready = True
    _apply()


def _apply() -> None:
    if not _ready:
        return  # applied when the backend is created
    from cupy._core import _routines_linalg as linalg

    compute = linalg.COMPUTE_TYPE_TF32 if _wanted else linalg.COMPUTE_TYPE_DEFAULT
    linalg.set_compute_type(np.float32, compute)


@contextlib.contextmanager
def float32_matmuls(tf32: bool):
    """Inside, float32 matmuls run with TF32 on (``tf32=True``) or in full float32, whatever
    the global flag; the flag's setting is restored after. For kernels that know better than
    the flag: a sum written as a GEMV (Linear's bias gradient) must not round its terms to TF32."""
    from cupy._core import _routines_linalg as linalg

    full = getattr(linalg, "COMPUTE_TYPE_FP32", linalg.COMPUTE_TYPE_PEDANTIC)
    linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_TF32 if tf32 else full)
    try:
        yield
    finally:
        _apply()


def set_allow_tf32(enabled: bool) -> None:
    """Allow (True) or forbid (False) TF32 tensor cores in float32 matmuls."""
    global _wanted
    _wanted = bool(enabled)
    _apply()


def get_allow_tf32() -> bool:
    return _wanted


class _Matmul:
    """``matmul.allow_tf32``: the flag as PyTorch spells it."""

    @property
    def allow_tf32(self) -> bool:
        return get_allow_tf32()

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        set_allow_tf32(value)

    def __repr__(self) -> str:
        return f"<ember_cuda.matmul allow_tf32={self.allow_tf32}>"


matmul = _Matmul()
