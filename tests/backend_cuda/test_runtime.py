"""Device placement, dtypes, memory statistics, TF32 and DLPack on a real GPU."""

from __future__ import annotations

import numpy as np
import pytest

import ember


def test_round_trip_and_describe(cuda):
    x = ember.arange(6.0).reshape(2, 3)
    y = x.to("cuda")
    assert y.device == cuda and y.device.type == "cuda"
    assert (y * 2).cpu().tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    assert "compute capability" in cuda.backend.describe(0)
    props = ember.cuda.get_device_properties(0)
    assert props["total_memory"] > 0 and props["compute_capability"][0] >= 3
    with pytest.raises(ember.DeviceError, match="cpu"):
        y + x


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_storage(cuda, dtype):
    x = ember.tensor([1.0, 2.5, -3.0], dtype=dtype, device=cuda)
    assert x.dtype == getattr(ember, dtype)
    y = (x * 2).to("float32").cpu()
    assert y.tolist() == [2.0, 5.0, -6.0]
    a = ember.randn(64, 32, dtype=dtype, device=cuda)
    b = ember.randn(32, 16, dtype=dtype, device=cuda)
    ref = a.float().cpu().numpy() @ b.float().cpu().numpy()
    np.testing.assert_allclose((a @ b).float().cpu().numpy(), ref, rtol=5e-2, atol=2e-1)


def test_memory_functions(cuda):
    ember.cuda.synchronize()
    ember.cuda.empty_cache()
    ember.cuda.reset_peak_memory_stats()
    before = ember.cuda.memory_allocated()
    x = ember.zeros(1 << 20, device=cuda)  # 4 MiB
    assert ember.cuda.memory_allocated() >= before + 4 * 2**20
    peak = ember.cuda.max_memory_allocated()
    assert peak >= before + 4 * 2**20
    del x
    assert ember.cuda.memory_allocated() <= before + 4096
    assert ember.cuda.max_memory_allocated() == peak
    assert ember.cuda.memory_reserved() >= ember.cuda.memory_allocated()
    ember.cuda.empty_cache()
    import ember_cuda

    assert ember_cuda.memory_allocated() == ember.cuda.memory_allocated()


def test_tf32_switch(cuda):
    import numpy as np
    from cupy._core import _routines_linalg as linalg

    import ember_cuda

    before = ember_cuda.get_allow_tf32()
    try:
        ember.cuda.matmul.allow_tf32 = True
        assert linalg.get_compute_type(np.float32) == linalg.COMPUTE_TYPE_TF32
        a = ember.randn(256, 256, device=cuda)
        ref = a.cpu().numpy() @ a.cpu().numpy()
        np.testing.assert_allclose((a @ a).cpu().numpy(), ref, rtol=1e-2, atol=5e-2)
        ember.cuda.matmul.allow_tf32 = False
        assert linalg.get_compute_type(np.float32) == linalg.COMPUTE_TYPE_DEFAULT
        np.testing.assert_allclose((a @ a).cpu().numpy(), ref, rtol=1e-4, atol=1e-3)
    finally:
        ember_cuda.set_allow_tf32(before)


def test_dlpack_with_torch(cuda):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this torch has no CUDA")
    t = torch.arange(6, dtype=torch.float32, device="cuda")
    e = ember.from_dlpack(t)
    assert e.device == cuda
    assert e._data.data.ptr == t.data_ptr()  # zero-copy
    t[0] = 42.0
    torch.cuda.synchronize()
    assert e.tolist()[0] == 42.0
    back = torch.from_dlpack(e * 2)
    assert back.device.type == "cuda" and back.tolist() == [84.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    same = torch.from_dlpack(e)
    assert same.data_ptr() == t.data_ptr()


def test_dlpack_with_cupy(cuda):
    import cupy

    a = cupy.arange(4, dtype=cupy.float32)
    e = ember.from_dlpack(a)
    assert e._data.data.ptr == a.data.ptr
    b = cupy.from_dlpack(e)
    assert b.data.ptr == a.data.ptr
