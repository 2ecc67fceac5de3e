"""Registers the MLX backend for device "mps" through ember's backends hook."""

from __future__ import annotations

import importlib.util
import platform
import sys

import ember

# On Apple silicon MLX runs on the Metal GPU, and "mps" outranks the CPU as the default device.
# Elsewhere it runs on MLX's CPU device: usable with device="mps", never picked by default.
APPLE_SILICON = sys.platform == "darwin" and platform.machine() == "arm64"


def _mlx_installed() -> bool:
    if importlib.util.find_spec("mlx") is None:  # (find_spec("mlx.core") would import mlx)
        raise ModuleNotFoundError("MLX is not installed: pip install mlx (on Linux: pip install 'mlx[cpu]')")
    return True


def _make_backend():
    from .backend import MLXBackend

    return MLXBackend()


@ember.hookimpl
def ember_register_backends(register):
    register("mps", _make_backend, device_types=("mps",), priority=10 if APPLE_SILICON else -10,
             is_available=_mlx_installed)
