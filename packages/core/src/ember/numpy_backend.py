"""The CPU backend: NumPy arrays on the host. Registered through the same hook as any plugin."""

from __future__ import annotations

import numpy as np

from .backend import Backend


class NumpyBackend(Backend):
    """Device "cpu". Every op's default implementation is already NumPy, so nothing is overridden."""

    name = "numpy"
    device_types = ("cpu",)
    xp = np
    kernels: dict = {}

    def describe(self, index: int = 0) -> str:
        return f"NumPy {np.__version__} on the host CPU"

    def asarray(self, obj, dtype, index: int = 0):
        return np.asarray(obj, dtype=dtype)

    def from_numpy(self, array, index: int = 0):
        return array
