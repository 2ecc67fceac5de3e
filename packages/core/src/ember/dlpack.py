"""DLPack: exchanging arrays with PyTorch, CuPy, JAX and NumPy without copying.

``ember.from_dlpack(obj)`` wraps any object with ``__dlpack__``/``__dlpack_device__`` (a
torch tensor, a CuPy or NumPy array) as an ember tensor on the matching device, sharing its
memory; ``torch.from_dlpack(t)`` / ``cupy.from_dlpack(t)`` / ``numpy.from_dlpack(t)`` do the
reverse through ``Tensor.__dlpack__``. The DLPack device type picks ember's device: CPU
memory goes to "cpu", CUDA memory to "cuda:N" (the backend serving it must be installed).

>>> import ember, numpy as np
>>> a = np.arange(3.0)
>>> t = ember.from_dlpack(a)
>>> a[0] = 7.0                    # shared memory: the tensor sees the change
>>> t.tolist()
[7.0, 1.0, 2.0]
"""

from __future__ import annotations

from .device import Device, DeviceError
from .tensor import Tensor

__all__ = ["from_dlpack"]

#: DLPack device type codes (dlpack.h) -> ember device types.
DLPACK_DEVICES = {1: "cpu", 2: "cuda", 3: "cpu", 13: "cuda"}
_NAMES = {1: "kDLCPU", 2: "kDLCUDA", 3: "kDLCUDAHost", 4: "kDLOpenCL", 7: "kDLVulkan", 8: "kDLMetal",
          9: "kDLVPI", 10: "kDLROCM", 13: "kDLCUDAManaged", 14: "kDLOneAPI"}


def from_dlpack(obj) -> Tensor:
    """An ember tensor sharing the memory of ``obj`` (anything with ``__dlpack__``).

    Args:
        obj: a torch tensor, CuPy/NumPy array, JAX array... on the CPU or a CUDA GPU.

    Returns:
        A leaf tensor (no gradient history) on "cpu" or "cuda:N".
    """
    if isinstance(obj, Tensor):
        return obj.detach()
    if not hasattr(obj, "__dlpack_device__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ and __dlpack_device__ (a torch tensor, "
                        f"a CuPy or NumPy array), got {type(obj).__name__}")
    kind, index = (int(v) for v in obj.__dlpack_device__())
    device_type = DLPACK_DEVICES.get(kind)
    if device_type is None:
        raise DeviceError(f"from_dlpack: DLPack device {_NAMES.get(kind, kind)} has no ember device "
                          f"(supported: CPU and CUDA memory)")
    dev = Device(device_type, None if device_type == "cpu" else index)
    backend = dev.backend
    own = getattr(backend, "from_dlpack", None)
    data = own(obj, dev.index or 0) if own is not None else backend.xp.from_dlpack(obj)
    return Tensor._make(data, dev, None)
