"""A third-party plugin, written as any outside package would write one, for the plugin tests.

Its backend serves device type "testdev" on host memory (a real, complete backend: it
copies on every transfer, so device bookkeeping is exercised without a GPU).
"""

from __future__ import annotations

import numpy as np

import ember
from ember.backend import Backend


class TestDevBackend(Backend):
    name = "testdev"
    device_types = ("testdev",)
    xp = np
    kernels: dict = {}

    def device_count(self) -> int:
        return 2

    def describe(self, index: int = 0) -> str:
        return f"test device {index} (host memory)"

    def from_numpy(self, array, index: int = 0):
        return np.array(array, copy=True)

    def to_numpy(self, array):
        return np.array(array, copy=True)


@ember.hookimpl
def ember_register_backends(register):
    register("testdev", TestDevBackend, device_types=("testdev",), priority=10)
    register("never", TestDevBackend, device_types=("nevdev",), priority=5, is_available=lambda: False)


@ember.hookimpl
def ember_register_layers(register):
    register("TestDouble", TestDouble)


class TestDouble:
    """Stands in for a third-party layer class (any class can be registered)."""
