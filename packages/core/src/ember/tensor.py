"""``Tensor``: an array on a device, plus what reverse-mode autograd needs to know about it.

A tensor holds a backend array (``numpy.ndarray`` on "cpu"), its device, whether it
requires grad, its ``.grad``, and the graph node (``grad_fn``) that produced it. Every
operation is a :class:`~ember.autograd.Function` in ``ember.ops``; the methods here only
forward to them, with PyTorch's names and semantics.
"""

from __future__ import annotations

import weakref

import numpy as np

from . import dtypes as _dtypes
from .autograd.grad_mode import _state as _grad_state
from .device import CPU, Device

_SCALARS = (int, float, bool, np.number, np.bool_)


class Tensor:
    """A multi-dimensional array with reverse-mode autograd.

    >>> import ember
    >>> x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.tolist()
    [2.0, 4.0, 6.0]
    """

    __slots__ = ("_data", "_device", "_node", "_requires_grad", "grad", "_vbox", "_hooks", "__weakref__")
    __array_priority__ = 1000  # ``ndarray * tensor`` defers to Tensor.__rmul__

    def __init__(self, data, *, dtype=None, device=None, requires_grad: bool = False) -> None:
        from .creation import tensor as _tensor

        made = _tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        self._data, self._device, self._node = made._data, made._device, None
        self._requires_grad, self.grad, self._vbox, self._hooks = made._requires_grad, None, None, None

    @classmethod
    def _make(cls, data, device: Device, node):
        """Wrap a backend array without copying or checking (the hot path of every op)."""
        t = object.__new__(cls)
        t._data = data
        t._device = device
        t._node = node
        t._requires_grad = node is not None
        t.grad = None
        t._vbox = None
        t._hooks = None
        return t

    # -- attributes --------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    def size(self, dim: int | None = None):
        """The shape, or its length along ``dim`` (PyTorch's ``Tensor.size``)."""
        return self._data.shape if dim is None else self._data.shape[dim]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    @property
    def dtype(self) -> _dtypes.dtype:
        return _dtypes.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> Device:
        return self._device

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._node is not None and not value:
            raise RuntimeError("requires_grad can only be turned off on leaf tensors; use .detach() instead")
        if value and self._data.dtype.kind not in "fV" and self._data.dtype != _dtypes.bfloat16.numpy:
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def data(self) -> "Tensor":
        """The same storage without autograd history (PyTorch's ``.data``)."""
        return self.detach()

    @data.setter
    def data(self, value: "Tensor") -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f".data must be set to a Tensor, got {type(value).__name__}")
        self._data = value._data
        self._device = value._device

    @property
    def T(self) -> "Tensor":
        return _ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> "Tensor":
        return _ops.transpose(self, -2, -1)

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def element_size(self) -> int:
        return self._data.dtype.itemsize

    # -- conversion --------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (a copy when the tensor is not on the host)."""
        if self._requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()")
        return self._device.backend.to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        array = self._device.backend.to_numpy(self._data)
        return array if dtype is None else array.astype(dtype)

    def __dlpack__(self, **kwargs):
        """DLPack export, zero-copy (``torch.from_dlpack(t)``, ``cupy.from_dlpack(t)``, ``np.from_dlpack(t)``)."""
        export = getattr(self._data, "__dlpack__", None)
        if export is None:
            raise BufferError(f"the {self._device.backend.name!r} backend of device {self._device} has no DLPack "
                              "export; copy through .numpy() instead")
        return export(**kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item() needs a tensor with exactly one element, got shape {tuple(self.shape)}")
        return self._device.backend.to_numpy(self._data).reshape(()).item()

    def tolist(self):
        return self._device.backend.to_numpy(self._data).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self._data.size} elements is ambiguous; "
                               "use .any() or .all()")
        return bool(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError(f"only integer tensors of one element can be used as an index, got {self!r}")
        return int(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def to(self, *args, dtype=None, device=None, copy: bool = False) -> "Tensor":
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, (_dtypes.dtype, type)) or (isinstance(arg, str) and _is_dtype_name(arg)):
                dtype = arg
            else:
                device = arg
        out = self
        if device is not None and Device(device) is not self._device:
            out = _ops.to_device(out, Device(device))
        if dtype is not None and _dtypes.as_dtype(dtype).numpy != out._data.dtype:
            out = _ops.cast(out, _dtypes.as_dtype(dtype))
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> "Tensor":
        return self.to(CPU)

    def cuda(self, index: int | None = None) -> "Tensor":
        return self.to(Device("cuda", index))

    def float(self) -> "Tensor":
        return self.to(_dtypes.float32)

    def double(self) -> "Tensor":
        return self.to(_dtypes.float64)

    def half(self) -> "Tensor":
        return self.to(_dtypes.float16)

    def bfloat16(self) -> "Tensor":
        return self.to(_dtypes.bfloat16)

    def long(self) -> "Tensor":
        return self.to(_dtypes.int64)

    def int(self) -> "Tensor":
        return self.to(_dtypes.int32)

    def bool(self) -> "Tensor":
        return self.to(_dtypes.bool)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other.dtype)

    def detach(self) -> "Tensor":
        """A tensor sharing this one's storage (and version counter) without its history."""
        out = Tensor._make(self._data, self._device, None)
        if self._vbox is None:
            self._vbox = [0]
        out._vbox = self._vbox
        return out

    def detach_(self) -> "Tensor":
        self._node = None
        self._requires_grad = False
        return self

    def clone(self) -> "Tensor":
        return _ops.clone(self)

    def contiguous(self) -> "Tensor":
        return _ops.contiguous(self)

    def is_contiguous(self) -> bool:
        flags = getattr(self._data, "flags", None)
        return bool(flags.c_contiguous) if flags is not None else True

    # -- autograd ----------------------------------------------------------------------

    def backward(self, gradient=None, retain_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Args:
            gradient: d(loss)/d(self), required unless ``self`` has one element.
            retain_graph: keep the graph for another backward.
            inputs: accumulate only into these leaves.
        """
        from .autograd import backward

        backward([self], None if gradient is None else [gradient], retain_graph=retain_graph, inputs=inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` unregisters the hook."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self._node.hooks is None:
                self._node.hooks = []
            self._node.out_device = self._device
            hooks = self._node.hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self._node is not None:
            self._node.retained = weakref.ref(self)

    def _bump_version(self) -> None:
        if self._vbox is None:
            self._vbox = [1]
        else:
            self._vbox[0] += 1

    @property
    def _version(self) -> int:
        return 0 if self._vbox is None else self._vbox[0]

    # -- in-place ops (for tensors no graph needs: optimizer updates, initialisation) --

    def _check_inplace(self, what: str) -> None:
        if self._requires_grad and getattr(_grad_state, "enabled", True):
            kind = "a leaf tensor that requires grad" if self._node is None else "a tensor that is part of a graph"
            raise RuntimeError(f"{what}: in-place change of {kind}; wrap it in `with ember.no_grad():` "
                               "or work on a .detach()ed tensor")

    def _inplace(self, what: str, value) -> "Tensor":
        self._check_inplace(what)
        if isinstance(value, Tensor):
            if value._device is not self._device:
                raise RuntimeError(f"{what}: expected a tensor on {self._device}, got one on {value._device}")
            value = value._data
        xp = self._device.backend.xp
        value = xp.asarray(value)
        if value.shape != self._data.shape:
            value = xp.broadcast_to(value, self._data.shape)
        self._data[...] = value
        self._bump_version()
        return self

    def copy_(self, src) -> "Tensor":
        try:
            return self._inplace("copy_", src)
        except ValueError as exc:
            shape = getattr(src, "shape", None)
            raise ValueError(f"copy_: cannot copy a tensor of shape {shape} into one of shape {self.shape}") from exc

    def fill_(self, value) -> "Tensor":
        return self._inplace("fill_", value)

    def zero_(self) -> "Tensor":
        return self._inplace("zero_", 0)

    def add_(self, other, alpha=1) -> "Tensor":
        other = other._data if isinstance(other, Tensor) else other
        return self._inplace("add_", self._data + (other if alpha == 1 else alpha * other))

    def sub_(self, other, alpha=1) -> "Tensor":
        other = other._data if isinstance(other, Tensor) else other
        return self._inplace("sub_", self._data - (other if alpha == 1 else alpha * other))

    def mul_(self, other) -> "Tensor":
        return self._inplace("mul_", self._data * (other._data if isinstance(other, Tensor) else other))

    def div_(self, other) -> "Tensor":
        return self._inplace("div_", self._data / (other._data if isinstance(other, Tensor) else other))

    def clamp_(self, min=None, max=None) -> "Tensor":
        return self._inplace("clamp_", self._device.backend.xp.clip(self._data, min, max))

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> "Tensor":
        from .random import rand

        return self._inplace("uniform_", rand(*self.shape, dtype=self.dtype, device=self._device)._data * (b - a) + a)

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> "Tensor":
        from .random import randn

        return self._inplace("normal_", randn(*self.shape, dtype=self.dtype, device=self._device)._data * std + mean)

    # -- operators ---------------------------------------------------------------------

    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __eq__(self, other):  # elementwise, as in PyTorch
        return _ops.eq(self, other)

    def __ne__(self, other):
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __and__(self, other):
        return _ops.logical_and(self, other) if self.dtype is _dtypes.bool else _ops.bitwise_and(self, other)

    def __or__(self, other):
        return _ops.logical_or(self, other) if self.dtype is _dtypes.bool else _ops.bitwise_or(self, other)

    def __xor__(self, other):
        return _ops.logical_xor(self, other) if self.dtype is _dtypes.bool else _ops.bitwise_xor(self, other)

    def __invert__(self):
        return _ops.logical_not(self) if self.dtype is _dtypes.bool else _ops.bitwise_not(self)

    __hash__ = object.__hash__

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        if isinstance(value, Tensor):
            value = value._data
        index = _ops.indexing.raw_index(index, self)
        self._data[index] = value
        self._bump_version()

    def __repr__(self) -> str:
        body = np.array2string(self._device.backend.to_numpy(self._data).astype(np.float64)
                               if self._data.dtype == _dtypes.bfloat16.numpy else
                               self._device.backend.to_numpy(self._data), separator=", ", precision=4,
                               prefix="tensor(")
        extras = []
        if self._device is not CPU:
            extras.append(f"device='{self._device}'")
        if self._data.dtype not in (_dtypes.float32.numpy, np.dtype(np.int64), np.dtype(np.bool_)):
            extras.append(f"dtype={self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # Method forms of the ops (``x.sum(dim=1)``) are attached from ember.ops.METHODS
    # at import time, so each op is written once, as a function.


class _HookHandle:
    def __init__(self, hooks: list, hook) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _is_dtype_name(name: str) -> bool:
    try:
        _dtypes.as_dtype(name)
        return True
    except TypeError:
        return False


def _attach_methods() -> None:
    for name in _ops.METHODS:
        if not hasattr(Tensor, name) and hasattr(_ops, name):
            setattr(Tensor, name, getattr(_ops, name))


from .autograd import engine as _engine, function as _function  # noqa: E402

_function.Tensor = _engine.Tensor = Tensor
from . import ops as _ops  # noqa: E402  (ops import Tensor from this module)

_attach_methods()
