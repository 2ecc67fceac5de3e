"""Reverse-mode automatic differentiation: Function, the backward engine, grad modes, gradcheck."""

from __future__ import annotations

from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .engine import detect_anomaly, run_backward
from .gradcheck import gradcheck

__all__ = ["Function", "backward", "grad", "gradcheck", "no_grad", "enable_grad", "is_grad_enabled",
           "set_grad_enabled", "detect_anomaly"]


def _root_grads(outputs, grad_outputs):
    from ..tensor import Tensor

    grads = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward: outputs must be tensors, got {type(out).__name__} at position {i}")
        if not out.requires_grad:
            raise RuntimeError("element {} of tensors does not require grad and does not have a grad_fn "
                               "(was it computed under no_grad(), or from tensors without requires_grad=True?)"
                               .format(i))
        g = None if grad_outputs is None else grad_outputs[i]
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; output {i} has "
                                   f"shape {tuple(out.shape)}, so pass gradient= of that shape")
            g = out._device.backend.xp.ones_like(out._data)
        else:
            if isinstance(g, Tensor):
                if g._device is not out._device:
                    raise RuntimeError(f"gradient is on {g._device} but the output is on {out._device}")
                g = g._data.copy()
            else:
                g = out._device.backend.asarray(g, out._data.dtype, out._device.index or 0)
            if g.shape != out._data.shape:
                raise RuntimeError(f"gradient has shape {tuple(g.shape)} but the output has shape "
                                   f"{tuple(out.shape)}; they must match")
            if g.dtype != out._data.dtype:
                g = g.astype(out._data.dtype)
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph: bool = False, inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of every leaf that needs one."""
    from ..tensor import Tensor

    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is not None and not isinstance(grad_tensors, (list, tuple)):
        grad_tensors = [grad_tensors]
    grads = _root_grads(tensors, grad_tensors)
    if inputs is None:
        run_backward(tensors, grads, retain_graph=retain_graph)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    capture = {t._node or t: None for t in inputs}
    run_backward(tensors, grads, retain_graph=retain_graph, capture=capture)
    from .engine import _accumulate

    for t in inputs:
        g = capture[t._node or t]
        if g is not None:
            _accumulate(t, g)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool = False, allow_unused: bool = False,
         create_graph: bool = False):
    """d(outputs)/d(inputs) as a tuple of tensors, without touching any ``.grad``.

    >>> import ember
    >>> x = ember.tensor([3.0], requires_grad=True)
    >>> ember.autograd.grad((x * x).sum(), x)[0].tolist()
    [6.0]
    """
    from ..tensor import Tensor

    if create_graph:
        raise RuntimeError("create_graph=True (higher-order gradients) is not supported: ember's "
                                  "backward passes compute on raw arrays")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is not None and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    capture = {t._node or t: None for t in inputs}
    run_backward(outputs, _root_grads(outputs, grad_outputs), retain_graph=retain_graph, capture=capture)
    result = []
    for i, t in enumerate(inputs):
        g = capture[t._node or t]
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(Tensor._make(g, t._device, None))
    return tuple(result)
