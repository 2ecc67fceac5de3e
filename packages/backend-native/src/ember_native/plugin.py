"""Registers the native backend for device "cpu" through ember's backends hook.

Its priority (5) is above the NumPy backend's (0), so with this package installed "cpu"
means NumPy plus the compiled kernels; it is below every accelerator's, so
``ember.default_device()`` still prefers a GPU.
"""

from __future__ import annotations

import importlib

import ember


def _kernels_built() -> bool:
    try:
        importlib.import_module("ember_native._kernels")
    except ImportError as exc:
        raise ImportError(f"ember_native's C extension is not built ({exc}); reinstall ember-backend-native "
                          "with a C compiler and Python's headers present") from None
    return True


def _make_backend():
    from .backend import NativeBackend

    return NativeBackend()


@ember.hookimpl
def ember_register_backends(register):
    register("native", _make_backend, device_types=("cpu",), priority=5, is_available=_kernels_built)
