"""Gradient clipping and flattening parameters: ``clip_grad_norm_``, ``clip_grad_value_``,
``parameters_to_vector``, ``vector_to_parameters`` (PyTorch's ``torch.nn.utils`` names).

The clipping functions rescale each parameter's ``.grad`` tensor: the tensor object stays
the same (references to it see the new values), but its values get new storage, because a
gradient array may be shared between tensors or be a read-only broadcast view.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters"]


def _tensors(parameters, what: str = "parameters") -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    out = list(parameters)
    for i, p in enumerate(out):
        if not isinstance(p, Tensor):
            raise TypeError(f"{what} must be tensors, but item {i} is a {type(p).__name__}")
    return out


def _grads(parameters) -> list[Tensor]:
    return [p.grad for p in _tensors(parameters) if p.grad is not None]


def _vector_norm(array, norm_type: float, xp) -> float:
    """The ``norm_type``-norm of the flattened array, as a Python float (PyTorch's ``vector_norm``)."""
    if array.size == 0:
        return 0.0
    if array.dtype.itemsize < 4 or array.dtype.kind not in "fc":
        array = array.astype(np.float32)
    flat = array.reshape(-1)
    if norm_type == 2.0:
        return float(xp.sqrt(xp.dot(flat, flat)))
    a = xp.abs(flat)
    if norm_type == math.inf:
        return float(a.max())
    if norm_type == -math.inf:
        return float(a.min())
    if norm_type == 0.0:
        return float(xp.count_nonzero(a))
    if norm_type == 1.0:
        return float(a.sum())
    return float(xp.sum(a.astype(np.float64) ** norm_type)) ** (1.0 / norm_type)


def _combine(norms: list[float], norm_type: float) -> float:
    """The norm of the vector of per-tensor norms (= the norm of all the values together)."""
    if norm_type == math.inf:
        return max(norms)
    if norm_type == -math.inf:
        return min(norms)
    if norm_type == 0.0:
        return float(sum(norms))
    return math.fsum(n ** norm_type for n in norms) ** (1.0 / norm_type)


def _norm_tensor(value: float, grads: list[Tensor]) -> Tensor:
    from ..creation import tensor

    dtype = grads[0].dtype if grads and grads[0].dtype.is_floating_point else None
    return tensor(value, dtype=dtype)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    r"""The norm of the values of all ``tensors`` together, as a 0-d tensor.

    .. math:: \|g\|_p = \Big(\sum_i \|g_i\|_p^p\Big)^{1/p}
        \quad(\max_i \|g_i\|_\infty \text{ for } p = \infty)

    Args:
        tensors: a tensor or an iterable of tensors.
        norm_type: the order :math:`p` (a positive number, ``inf``, ``-inf`` or 0).
        error_if_nonfinite: raise when the norm is NaN or infinite.

    >>> import ember
    >>> ember.nn.utils.get_total_norm([ember.tensor([3.0]), ember.tensor([4.0])]).item()
    5.0
    """
    ts = _tensors(tensors, "tensors")
    norm_type = float(norm_type)
    if math.isnan(norm_type):
        raise ValueError("Invalid norm_type=nan: expected a number or inf")
    if not ts:
        return _norm_tensor(0.0, ts)
    total = _combine([_vector_norm(t._data, norm_type, t._device.backend.xp) for t in ts], norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return _norm_tensor(total, ts)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    r"""Rescale the gradients of ``parameters`` so that their total norm is at most ``max_norm``.

    With :math:`N = \|(g_1, \dots, g_n)\|_p` the norm of all the gradients together:

    .. math:: g_i \leftarrow g_i \cdot \min\left(1, \frac{\text{max\_norm}}{N + 10^{-6}}\right)

    exactly as PyTorch does (the same 1e-6; gradients are left as they are when the factor
    is 1). A non-finite :math:`N` scales the gradients by 0 (infinite) or NaN, as in PyTorch,
    unless ``error_if_nonfinite`` makes it an error.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` to clip.
        max_norm: the largest allowed total norm (>= 0).
        norm_type: the order :math:`p` (default 2; ``inf`` for the largest absolute value).
        error_if_nonfinite: raise ``RuntimeError`` when the total norm is NaN or infinite.

    Returns:
        The total norm of the gradients before clipping, as a 0-d tensor.

    >>> import ember
    >>> w = ember.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = ember.tensor([3.0, 4.0])
    >>> ember.nn.utils.clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> [round(x, 4) for x in w.grad.tolist()]
    [0.6, 0.8]
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, np.floating, np.integer)) \
            or not max_norm >= 0:
        raise ValueError(f"Invalid max_norm={max_norm!r}: expected a number >= 0")
    max_norm = float(max_norm)
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if not grads:
        return total
    coef = max_norm / (float(total.item()) + 1e-6)
    if math.isnan(coef) or coef < 1.0:
        with no_grad(), np.errstate(invalid="ignore"):  # inf * 0 is NaN, as in PyTorch
            for g in grads:
                g._data = g._data * coef
                g._bump_version()
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Deprecated name of :func:`clip_grad_norm_` (as in PyTorch)."""
    import warnings

    warnings.warn("nn.utils.clip_grad_norm is deprecated in favor of nn.utils.clip_grad_norm_", FutureWarning,
                  stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters, clip_value: float) -> None:
    r"""Clamp every gradient value of ``parameters`` into ``[-clip_value, clip_value]``.

    .. math:: g \leftarrow \min(\max(g, -c), c)

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` to clip.
        clip_value: the largest allowed absolute value (>= 0).

    >>> import ember
    >>> w = ember.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = ember.tensor([-3.0, 0.5])
    >>> ember.nn.utils.clip_grad_value_([w], clip_value=1.0)
    >>> w.grad.tolist()
    [-1.0, 0.5]
    """
    if isinstance(clip_value, bool) or not isinstance(clip_value, (int, float, np.floating, np.integer)) \
            or not clip_value >= 0:
        raise ValueError(f"Invalid clip_value={clip_value!r}: expected a number >= 0")
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g._data = g._device.backend.xp.clip(g._data, -clip_value, clip_value)
            g._bump_version()


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable).

    Args:
        parameters: an iterable of tensors (all on one device).

    >>> import ember
    >>> ember.nn.utils.parameters_to_vector([ember.ones(2, 2), ember.zeros(1)]).tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0]
    """
    from .. import ops

    params = _tensors(parameters)
    if not params:
        raise ValueError("parameters_to_vector needs at least one parameter")
    device = params[0]._device
    for i, p in enumerate(params):
        if p._device is not device:
            raise RuntimeError(f"parameters_to_vector: parameter {i} is on {p._device}, parameter 0 on {device}; "
                               "all must be on one device")
    return ops.cat([ops.reshape(p, -1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (in place, not differentiable).

    Args:
        vec: a 1-D tensor with as many elements as all the parameters together.
        parameters: an iterable of tensors to overwrite.

    >>> import ember
    >>> a, b = ember.zeros(2), ember.zeros(1)
    >>> ember.nn.utils.vector_to_parameters(ember.tensor([1.0, 2.0, 3.0]), [a, b])
    >>> a.tolist(), b.tolist()
    ([1.0, 2.0], [3.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected an ember Tensor, but got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters expects a 1-D vector, got shape {tuple(vec.shape)}")
    params = _tensors(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise ValueError(f"vector_to_parameters: the vector has {vec.numel()} elements, but the parameters have "
                         f"{total}")
    pointer = 0
    with no_grad():
        for p in params:
            n = p.numel()
            if vec._device is not p._device:
                raise RuntimeError(f"vector_to_parameters: the vector is on {vec._device}, a parameter on {p._device}")
            p._data[...] = vec._data[pointer:pointer + n].reshape(p._data.shape).astype(p._data.dtype, copy=False)
            p._bump_version()
            pointer += n
