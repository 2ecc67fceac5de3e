"""``Function``: one differentiable primitive, its forward and backward side by side.

A primitive subclasses :class:`Function` and writes two methods on raw arrays of the
backend's namespace ``self.xp``::

    class Mul(Function):
        def forward(self, a, b):
            self.save_for_backward(a, b)
            return a * b

        def backward(self, grad):
            a, b = self.saved
            return grad * b, grad * a

``Mul.apply(x, y)`` runs it on tensors. Backward returns one gradient per tensor input
(``None`` where an input needs none; ``self.needs_input_grad`` says which); the engine
reduces a broadcast gradient back to its input's shape, so a backward may return the
broadcast shape. Non-tensor arguments are passed to ``apply`` by keyword and reach
``forward`` the same way. The node itself is the context (as in micrograd), so forward
stores on ``self`` whatever backward needs.
"""

from __future__ import annotations

from .grad_mode import _state


class Function:
    """Base class of every primitive. Instances are graph nodes."""

    #: False for ops with no gradient (comparisons, argmax): their outputs never require grad.
    differentiable = True
    #: True once the engine has freed this node after a backward without retain_graph.
    freed = False
    saved: tuple = ()
    hooks = None
    retained = None

    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for backward; changing one in place before backward is an error."""
        self.saved = arrays

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the primitive on tensors and, when grad is on, record it in the graph."""
        dev = inputs[0]._device
        for t in inputs:
            if t._device is not dev:
                raise _device_mismatch(cls, dev, t._device)
        backend = dev._backend or dev.backend
        node = object.__new__(backend.functions.get(cls, cls))
        node.xp = backend.xp
        node.backend = backend
        out = node.forward(*[t._data for t in inputs], **params)
        if not (cls.differentiable and getattr(_state, "enabled", True)):
            return Tensor._make(out, dev, None)
        needs = tuple([t._requires_grad for t in inputs])
        if True not in needs:
            return Tensor._make(out, dev, None)
        node.needs_input_grad = needs
        node.next = tuple([(t._node or t) if t._requires_grad else None for t in inputs])
        node.in_meta = tuple([(t._data.shape, t._data.dtype) for t in inputs])
        result = Tensor._make(out, dev, node)
        saved = node.saved
        if saved:
            versions = []
            for t in (*inputs, result):
                data = t._data
                for array in saved:
                    if array is data:
                        box = t._vbox
                        if box is None:
                            box = t._vbox = [0]
                        versions.append((box, box[0], t is result))
                        break
            node.saved_versions = versions
        return result

    def forward(self, *arrays, **params):  # pragma: no cover - every primitive overrides it
        raise TypeError(f"{type(self).__name__} does not define forward()")

    def backward(self, grad):  # pragma: no cover - differentiable primitives override it
        raise RuntimeError(f"{type(self).__name__} is not differentiable")

    def check_saved_versions(self) -> None:
        for box, version, is_output in getattr(self, "saved_versions", ()):
            if box[0] != version:
                which = "its output" if is_output else "one of its inputs"
                raise RuntimeError(
                    f"a tensor needed for gradient computation was modified by an in-place operation: "
                    f"{self.name} saved {which} at version {version}, which is now at version {box[0]}. "
                    "Clone the tensor before changing it in place, or change it after backward().")

    def release(self) -> None:
        """Free what forward saved; a later backward through this node is an error."""
        d = self.__dict__
        d.clear()
        d["freed"] = True

    @property
    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _device_mismatch(cls, a, b) -> RuntimeError:
    from ..device import DeviceError

    return DeviceError(f"{cls.__name__}: expected all tensors on the same device, found {a} and {b}; "
                       "move one with .to(device) (ember never moves data between devices implicitly)")


# Set by ember.tensor once the Tensor class exists (the two modules need each other).
Tensor = None
