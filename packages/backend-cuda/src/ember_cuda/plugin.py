"""Registers the CuPy backend for device "cuda" through ember's backends hook.

Loading this module is cheap: it imports neither CuPy nor the kernels. The availability
probe checks, without importing CuPy, that CuPy is installed and that the NVIDIA driver
(libcuda) loads and reports at least one device; each failure names what is missing.
"""

from __future__ import annotations

import ember

from . import probe


def _make_backend():
    from .backend import CupyBackend

    return CupyBackend()


@ember.hookimpl
def ember_register_backends(register):
    register("cuda", _make_backend, device_types=("cuda",), priority=100, is_available=probe.check)
