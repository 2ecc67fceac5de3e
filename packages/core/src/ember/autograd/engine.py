"""The backward pass: one iterative walk over the graph in reverse topological order.

No recursion (a chain of 10,000 ops is fine), every node runs once however many paths
reach it (residual nets stay linear), gradients reaching a tensor along several paths are
summed before it is used, broadcast gradients are reduced to the input's shape, and the
graph is freed afterwards unless ``retain_graph=True``. The gradients of basic-indexing
views stay sparse (``SliceGrad``) until they are summed or used.
"""

from __future__ import annotations

import threading

from ..host_threads import one_blas_thread
from .function import Function
from .axis_sums import leading_sum
from .slice_grad import SliceGrad, accumulate, dense

_anomaly = threading.local()


def topological_order(roots) -> list:
    """Graph nodes reachable from ``roots``, each before every node it depends on."""
    order, visited = [], set()
    stack = [(node, False) for node in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        if node.freed:
            continue
        for parent in node.next:
            if parent is not None and not isinstance(parent, Tensor) and parent not in visited:
                stack.append((parent, False))
    order.reverse()
    return order


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"gradient of shape {grad.shape} cannot be reduced to input shape {shape}")
    if extra:
        grad = leading_sum(grad, extra)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes == tuple(range(len(axes))):  # (1, ..., n): a position table, a bias kept as (1, n)
        grad = leading_sum(grad, len(axes), keepdims=True)
    elif axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape != shape:
        raise RuntimeError(f"gradient of shape {grad.shape} does not match input shape {shape}")
    return grad


def run_backward(roots, root_grads, retain_graph: bool = False, capture=None) -> None:
    """Propagate ``root_grads`` (arrays) from ``roots`` (tensors) to the leaves.

    With ``capture`` (a dict keyed by leaf tensors or graph nodes), gradients of those keys
    are stored there instead of being accumulated into ``.grad`` (``autograd.grad``).
    NumPy's BLAS runs on one thread meanwhile (ember's threads split the products:
    :mod:`ember.host_threads`).
    """
    with one_blas_thread():
        _run_backward(roots, root_grads, retain_graph, capture)


def _run_backward(roots, root_grads, retain_graph, capture) -> None:
    pending: dict = {}
    for root, grad in zip(roots, root_grads):
        key = root._node or root
        previous = pending.get(key)
        pending[key] = grad if previous is None else previous + grad
    nodes = [r._node for r in roots if r._node is not None]
    check_anomaly = getattr(_anomaly, "enabled", False)
    for node in topological_order(nodes):
        grad = pending.pop(node, None)
        if grad is None:
            continue
        grad = dense(grad)
        if node.freed:
            raise RuntimeError(
                f"trying to backward through the graph a second time ({node.name} was already freed); "
                "pass retain_graph=True to the first backward() if you need to backward twice")
        if node.hooks:
            grad = _run_hooks(node.hooks, grad, node)
        if node.retained is not None:
            tensor = node.retained()
            if tensor is not None:
                _accumulate(tensor, grad)
        if capture is not None and node in capture:
            capture[node] = grad
        node.check_saved_versions()
        grads = node.backward(grad)
        if type(grads) is not tuple:
            grads = (grads,)
        if check_anomaly:
            _check_finite(node, grads)
        for parent, g, (shape, dtype) in zip(node.next, grads, node.in_meta):
            if parent is None or g is None:
                continue
            if not isinstance(g, SliceGrad):  # a SliceGrad has the input's shape and dtype already
                if g.shape != shape:
                    g = unbroadcast(g, shape)
                if g.dtype != dtype:
                    g = g.astype(dtype)
            pending[parent] = accumulate(pending.get(parent), g)
        if not retain_graph:
            node.release()
    # What is left in ``pending`` are leaves (and roots that were leaves).
    for leaf, grad in pending.items():
        if not isinstance(leaf, Tensor):
            continue
        grad = dense(grad)
        if leaf._hooks:
            grad = _run_hooks(leaf._hooks, grad, leaf)
        if capture is not None:
            if leaf in capture:
                capture[leaf] = grad
        else:
            _accumulate(leaf, grad)


def _accumulate(tensor, grad) -> None:
    if tensor.grad is None:
        tensor.grad = Tensor._make(grad, tensor._device, None)
    else:
        tensor.grad = Tensor._make(tensor.grad._data + grad, tensor._device, None)


def _run_hooks(hooks, grad, owner):
    for hook in hooks:
        device = owner._device if isinstance(owner, Tensor) else owner.out_device
        result = hook(Tensor._make(grad, device, None))
        if result is not None:
            if not isinstance(result, Tensor) or result.shape != grad.shape:
                raise RuntimeError(f"a gradient hook must return None or a tensor of shape {tuple(grad.shape)}, "
                                   f"got {result!r}")
            grad = result._data
    return grad


def _check_finite(node, grads) -> None:
    xp = node.xp
    for i, grad in enumerate(grads):
        if grad is None:
            continue
        for g in grad.arrays() if isinstance(grad, SliceGrad) else [grad]:
            if g.dtype.kind == "f" and not bool(xp.isfinite(g).all()):
                bad = "nan" if bool(xp.isnan(g).any()) else "inf"
                raise RuntimeError(f"detect_anomaly: {node.name} returned {bad} values in its gradient "
                                   f"for input {i} (shape {tuple(grad.shape)})")


class detect_anomaly:
    """Within this block, backward raises as soon as an op's backward yields NaN or inf,
    naming that op — the first place the numerics went wrong, not where they surfaced."""

    def __enter__(self):
        self._previous = getattr(_anomaly, "enabled", False)
        _anomaly.enabled = True
        return self

    def __exit__(self, *exc):
        _anomaly.enabled = self._previous
        return False


# Set by ember.tensor once the Tensor class exists (the two modules need each other).
Tensor = None

__all__ = ["run_backward", "topological_order", "unbroadcast", "detect_anomaly", "Function"]
