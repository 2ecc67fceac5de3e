"""What a machine without a usable GPU sees: a clear reason, never a silent CPU fallback."""

from __future__ import annotations

import pytest

import ember

ember_cuda = pytest.importorskip("ember_cuda", reason="ember-backend-cuda's sources are not importable")

from .conftest import cuda_skip_reason  # noqa: E402


def test_reason_names_what_is_missing():
    why = ember_cuda.unavailable_reason()
    assert isinstance(why, str)
    if why:
        assert any(word in why for word in ("CuPy", "driver", "libcuda", "device", "cuInit")), why
        assert ember_cuda.is_available() is False
        assert ember_cuda.device_count() == 0


def test_cuda_device_without_gpu_raises_with_the_reason():
    if not cuda_skip_reason():
        pytest.skip("a GPU is usable here; this test covers machines without one")
    with pytest.raises(ember.DeviceError, match="cuda"):
        ember.ones(2, device="cuda")
    assert ember.cuda.is_available() is False
    assert ember.cuda.device_count() == 0


def test_probe_does_not_import_cupy():
    import subprocess
    import sys

    code = ("import sys, ember_cuda, ember_cuda.plugin; ember_cuda.is_available(); "
            "print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__('os').environ, "PYTHONPATH": ":".join(sys.path)})
    assert out.stdout.strip() == "False"


def test_tf32_flag_round_trips_without_a_gpu():
    before = ember_cuda.get_allow_tf32()
    try:
        if cuda_skip_reason():  # without a GPU the flag is kept until the backend starts
            ember_cuda.matmul.allow_tf32 = True
            assert ember_cuda.get_allow_tf32() is True
    finally:
        ember_cuda.set_allow_tf32(before)
