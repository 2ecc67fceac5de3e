"""Shared set-up of the CUDA backend's tests.

Most tests need a GPU and skip without one, with the reason (no ember-backend-cuda, no
CuPy, no driver, no device). The kernel-compile and availability tests run anywhere:
when ember-backend-cuda is not installed (CI installs only the pure-Python packages), its
source folder is put on the path so its CUDA C sources can still be compiled and checked.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "packages" / "backend-cuda" / "src"
if importlib.util.find_spec("ember_cuda") is None and SRC.is_dir():
    sys.path.insert(0, str(SRC))


def cuda_skip_reason() -> str:
    """"" when a CUDA device is usable through ember, else why not."""
    import ember

    try:
        import ember_cuda
    except ImportError:
        return "ember-backend-cuda is not importable"
    why = ember_cuda.unavailable_reason()
    if why:
        return f"needs an NVIDIA GPU: {why}"
    try:
        ember.device("cuda:0").backend
    except Exception as exc:  # not installed as a plugin, CuPy without a matching driver...
        return f"needs the cuda backend: {type(exc).__name__}: {exc}"
    return ""


@pytest.fixture(scope="session")
def cuda():
    """The device "cuda:0"; skips (with the reason) where there is no usable GPU."""
    import ember

    why = cuda_skip_reason()
    if why:
        pytest.skip(why)
    return ember.device("cuda:0")
