"""``Parameter``: a tensor that a :class:`~ember.nn.Module` learns; ``Buffer``: one it only keeps.

Assigning a ``Parameter`` to a module attribute registers it (``module.parameters()`` finds
it, the optimizer updates it, ``state_dict()`` saves it). A ``Buffer`` assigned the same way
is registered as state that is saved but not learned (running statistics, masks).
"""

from __future__ import annotations

from ..tensor import Tensor

__all__ = ["Parameter", "Buffer"]


def _storage_of(data, what: str):
    if data is None:
        from ..creation import empty

        data = empty(0)
    if not isinstance(data, Tensor):
        from ..creation import tensor

        data = tensor(data)
    return data


class Parameter(Tensor):
    """A tensor registered as a learnable weight when assigned to a module attribute.

    It shares storage with the tensor it wraps (no copy), is a leaf, and requires grad
    unless told otherwise. Operations on it return plain tensors.

    Args:
        data: the initial value (a Tensor, or anything ``ember.tensor`` accepts).
        requires_grad: whether the optimizer should learn it. Default: True.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.zeros(2))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __new__(cls, data=None, requires_grad: bool = True):
        data = _storage_of(data, "Parameter")
        out = cls._make(data._data, data._device, None)
        if data._vbox is None:
            data._vbox = [0]
        out._vbox = data._vbox  # in-place changes through either name are seen by autograd
        if requires_grad:
            out.requires_grad = True
        return out

    def __init__(self, data=None, requires_grad: bool = True) -> None:  # all done in __new__
        pass

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = type(self)(Tensor._make(self._data.copy(), self._device, None), self._requires_grad)
        if self.grad is not None:
            out.grad = Tensor._make(self.grad._data.copy(), self._device, None)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach().cpu().numpy(), str(self._device), self._requires_grad))


def _rebuild_parameter(array, device, requires_grad):
    from ..creation import tensor

    return Parameter(tensor(array, device=device), requires_grad)


class Buffer(Tensor):
    """Marks a tensor as module state that is not learned (PyTorch's ``nn.Buffer``).

    ``module.running_mean = Buffer(ember.zeros(3))`` does what
    ``module.register_buffer("running_mean", ember.zeros(3))`` does. The module stores a
    plain tensor sharing this one's storage.

    Args:
        data: the value.
        persistent: whether ``state_dict()`` includes it. Default: True.

    >>> import ember
    >>> m = ember.nn.Module()
    >>> m.steps = ember.nn.Buffer(ember.zeros(1))
    >>> [name for name, _ in m.named_buffers()]
    ['steps']
    """

    __slots__ = ("persistent",)

    def __new__(cls, data=None, *, persistent: bool = True):
        data = _storage_of(data, "Buffer")
        out = cls._make(data._data, data._device, None)
        out.persistent = bool(persistent)
        return out

    def __init__(self, data=None, *, persistent: bool = True) -> None:
        pass

    def __repr__(self) -> str:
        return "Buffer containing:\n" + super().__repr__()
