"""Changing dtype or device, and copying: cast, to_device, clone, contiguous."""

from __future__ import annotations

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..device import Device
from ..tensor import Tensor

__all__ = ["cast", "to_device", "clone", "contiguous"]


class Cast(Function):
    def forward(self, a, dtype):
        self.in_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.in_dtype)


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return grad


class Contiguous(Function):
    def forward(self, a):
        return self.xp.ascontiguousarray(a)

    def backward(self, grad):
        return grad


class ToDevice(Function):
    """A copy to another device. Built by ``to_device`` rather than ``apply``, because its
    output lives on a different device than its input."""

    def backward(self, grad):
        return self.source.backend.from_numpy(self.backend.to_numpy(grad), self.source.index or 0)


def cast(input: Tensor, dtype) -> Tensor:
    """``input`` as ``dtype``; the gradient is cast back to ``input``'s dtype."""
    from ..dtypes import as_dtype

    dtype = as_dtype(dtype)
    if not dtype.is_floating_point:
        with no_grad():  # an integer result has no gradient
            return Cast.apply(input, dtype=dtype.numpy)
    return Cast.apply(input, dtype=dtype.numpy)


def to_device(input: Tensor, device) -> Tensor:
    """A copy of ``input`` on ``device``; gradients flow back to the source device."""
    target = Device(device)
    source = input._device
    if target.type != "cpu" and target.index is None:
        target = Device(target.type, 0)
    backend = target.backend
    data = backend.from_numpy(source.backend.to_numpy(input._data), target.index or 0)
    if not (input.requires_grad and is_grad_enabled()):
        return Tensor._make(data, target, None)
    node = ToDevice.__new__(ToDevice)
    node.xp, node.backend, node.source = backend.xp, backend, source
    node.needs_input_grad = (True,)
    node.next = (input._node or input,)
    node.in_meta = ((input._data.shape, input._data.dtype),)
    return Tensor._make(data, target, node)


def clone(input: Tensor) -> Tensor:
    """A copy with its own storage; gradients flow through."""
    return Clone.apply(input)


def contiguous(input: Tensor) -> Tensor:
    """A C-contiguous tensor with the same values (``input`` itself when already contiguous)."""
    flags = getattr(input._data, "flags", None)
    if flags is not None and flags.c_contiguous:
        return input
    return Contiguous.apply(input)
