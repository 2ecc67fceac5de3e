"""Activations and selections: relu, gelu, silu, softplus, leaky_relu, elu, hardtanh, clamp,
maximum, minimum and where.

Backward passes rebuild their masks from what forward saved (the output where it is enough,
as for relu) instead of keeping boolean masks alive between forward and backward, and apply
them by multiplying (``grad * mask``): NumPy's ``where`` is several times slower.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import dtypes
from ..autograd.function import Function
from ..host_threads import elementwise
from ..tensor import _SCALARS, Tensor
from . import gelu_float32
from ._operands import floating, lift, operands
from .unary import _blockwise, _normal_cdf, _own, _sigmoid

__all__ = ["relu", "relu6", "gelu", "silu", "softplus", "leaky_relu", "elu", "hardtanh", "clamp", "clip",
           "maximum", "minimum", "where"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_C = 0.044715


# -- primitives ----------------------------------------------------------------------------


def _relu_into(x, out):
    np.maximum(x, 0, out=out)


def _relu_grad_into(grad, out, dx):
    np.multiply(grad, out > 0, out=dx, dtype=dx.dtype)  # the mask is cast in the loop, not as an array


class ReLU(Function):
    """max(x, 0); d/dx = 1 where the output is positive. NumPy float arrays are split over
    ember's threads (:func:`ember.host_threads.elementwise`)."""

    def forward(self, a):
        xp = self.xp
        out = elementwise(_relu_into, a, a) if _host_float(xp, a) else xp.maximum(a, 0)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        if _host_float(self.xp, out) and grad.dtype == out.dtype and grad.shape == out.shape:
            return elementwise(_relu_grad_into, grad, grad, out)
        return grad * (out > 0)


def _host_float(xp, a) -> bool:
    return xp is np and type(a) is np.ndarray and a.dtype.kind == "f"


def _host_float32(xp, a) -> bool:
    """Whether ``a`` takes the kernels of :mod:`ember.ops.gelu_float32` (NumPy float32, not 0-d)."""
    return xp is np and a.dtype == np.float32 and a.ndim > 0


class GELU(Function):
    """x Phi(x); d/dx = Phi(x) + x phi(x). Phi is kept from forward: recomputing erf costs more.
    NumPy float32 arrays take the kernels of :mod:`ember.ops.gelu_float32`."""

    def forward(self, a):
        xp = self.xp
        if _host_float32(xp, a):
            out, cdf = gelu_float32.gelu_forward(a)
        else:
            out, cdf = _blockwise(xp, lambda x: _gelu(xp, x), a)
        self.save_for_backward(a, cdf)
        return out

    def backward(self, grad):
        a, cdf = self.saved
        xp = self.xp
        if _host_float32(xp, a):
            return gelu_float32.gelu_backward(a, cdf, grad)
        return _blockwise(xp, lambda x, c, g: (_gelu_grad(xp, x, c, g),), a, cdf, grad)[0]


def _gelu(xp, x):
    cdf = _normal_cdf(xp, x)
    return x * cdf, cdf


def _gelu_grad(xp, x, cdf, grad):
    c = xp.clip(x, -40.0, 40.0)  # phi(40) underflows to 0; x^2 must not overflow
    t = _own(xp, c * c)
    t *= -0.5
    xp.exp(t, out=t)
    t *= c
    t *= _INV_SQRT_2PI
    t += cdf
    t *= grad
    return t


class GELUTanh(Function):
    """x/2 (1 + tanh u), u = sqrt(2/pi) (x + 0.044715 x^3)."""

    def forward(self, a):
        xp = self.xp
        if _host_float32(xp, a):
            out, sig = gelu_float32.gelu_tanh_forward(a)  # keeps (1 + tanh u) / 2, not tanh u
            self.save_for_backward(a, sig)
            return out
        out, th = _blockwise(xp, lambda x: _gelu_tanh(xp, x), a)
        self.save_for_backward(a, th)
        return out

    def backward(self, grad):
        a, th = self.saved
        xp = self.xp
        if _host_float32(xp, a):
            return gelu_float32.gelu_tanh_backward(a, th, grad)
        return _blockwise(xp, lambda x, t, g: (_gelu_tanh_grad(xp, x, t, g),), a, th, grad)[0]


def _gelu_tanh(xp, x):
    c = xp.clip(x, -1e4, 1e4)  # tanh(u) = +-1 long before; x^3 must not overflow
    th = _own(xp, c * c)
    th *= _GELU_TANH_C
    th += 1
    th *= c
    th *= _SQRT_2_OVER_PI
    xp.tanh(th, out=th)
    out = th + 1
    out *= 0.5
    out *= x
    return out, th


def _gelu_tanh_grad(xp, x, th, grad):
    # d/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) du/dx,  du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    c = xp.clip(x, -1e4, 1e4)
    s = _own(xp, c * c)
    s *= 3 * _GELU_TANH_C
    s += 1
    s *= _SQRT_2_OVER_PI
    s *= c
    t = _own(xp, th * th)
    xp.subtract(1, t, out=t)
    t *= s
    t += th
    t += 1
    t *= 0.5
    t *= grad
    return t


class SiLU(Function):
    def forward(self, a):
        s = _sigmoid(self.xp, a)
        self.save_for_backward(a, s)
        return a * s

    def backward(self, grad):
        a, s = self.saved  # d/dx x s(x) = s (1 + x (1 - s))
        t = _own(self.xp, 1 - s)
        t *= a
        t += 1
        t *= s
        t *= grad
        return t


class Softplus(Function):
    def forward(self, a, beta, threshold):
        xp = self.xp
        self.beta, self.threshold = beta, threshold
        self.save_for_backward(a)
        return _blockwise(xp, lambda x: (_softplus(xp, x, beta, threshold),), a)[0]

    def backward(self, grad):
        # d/dx = sigmoid(beta x), and exactly 1 in the linear region beta x > threshold.
        (a,) = self.saved
        xp = self.xp
        z = a * self.beta if self.beta != 1 else a
        t = _sigmoid(xp, z)
        xp.maximum(t, z > self.threshold, out=t)
        t *= grad
        return t


def _softplus(xp, x, beta, threshold):
    z = x * beta if beta != 1 else x
    # NOTE: log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no exp of a positive number, so no overflow.
    t = _own(xp, xp.abs(z))
    xp.negative(t, out=t)
    xp.exp(t, out=t)
    t = _log1p_inplace(xp, t)
    t *= z <= threshold  # PyTorch's linear region: exactly x above the threshold
    out = _own(xp, xp.maximum(z, 0))
    out += t
    if beta != 1:
        out /= beta
    return out


def _log1p_inplace(xp, y):
    """log(1 + y) for 0 <= y <= 1, in place. In float32, log(u) - ((u - 1) - y) / u with u = 1 + y:
    as accurate as log1p within an ulp or two, and about twice as fast in NumPy (log is
    vectorized, log1p is not)."""
    if y.dtype != np.float32:
        return xp.log1p(y, out=y)
    u = _own(xp, y + 1)
    d = u - 1
    d -= y
    d /= u
    xp.log(u, out=u)
    u -= d
    return u


class LeakyReLU(Function):
    def forward(self, a, slope):
        xp = self.xp
        out = _own(xp, a * slope)
        (xp.maximum if slope <= 1 else xp.minimum)(out, a, out=out)
        self.slope = slope
        # With a positive slope the output has the input's sign, so it is all backward needs.
        self.save_for_backward(out if slope > 0 else a)
        return out

    def backward(self, grad):
        (ref,) = self.saved  # d/dx = 1 where x > 0, else slope
        t = _own(self.xp, (ref > 0).astype(grad.dtype))
        t *= 1 - self.slope
        t += self.slope
        t *= grad
        return t


class ELU(Function):
    def forward(self, a, alpha):
        xp = self.xp
        out = _blockwise(xp, lambda x: (_elu(xp, x, alpha),), a)[0]
        self.alpha = alpha
        # With alpha >= 0 the output is positive exactly where the input is.
        if alpha >= 0:
            self.save_for_backward(out)
        else:
            self.save_for_backward(out, a)
        return out

    def backward(self, grad):
        out, ref = self.saved[0], self.saved[-1]  # d/dx = 1 for x > 0, alpha e^x = out + alpha else
        t = _own(self.xp, self.xp.minimum(out, 0))  # min: no inf * 0 where x = inf
        t += self.alpha - 1
        t *= ref <= 0
        t += 1
        t *= grad
        return t


def _elu(xp, x, alpha):
    t = _expm1_nonpositive(xp, _own(xp, xp.minimum(x, 0)))
    t *= alpha
    out = xp.maximum(x, 0)
    out += t
    return out


def _expm1_nonpositive(xp, x):
    """e^x - 1 for x <= 0, in place. In float32, (u - 1) x / log(u) with u = e^x (Kahan's trick:
    the rounding errors of u - 1 and log u cancel): within a few ulps of expm1, and about twice
    as fast in NumPy, whose exp and log are vectorized and whose expm1 is not."""
    if x.dtype != np.float32:
        return xp.expm1(x, out=x)
    xp.maximum(x, -20.0, out=x)  # e^-20 - 1 is -1 in float32; log u stays accurate above it
    u = xp.exp(x)
    one = u == 1  # |x| below float32's resolution at 1: e^x - 1 = x, which 0/0 would lose
    d = xp.log(u)
    d += one
    u -= 1
    u += one
    u *= x
    u /= d
    return u


class Hardtanh(Function):
    def forward(self, a, lo, hi):
        self.lo, self.hi = lo, hi
        self.save_for_backward(a)
        return self.xp.clip(a, lo, hi)

    def backward(self, grad):
        (a,) = self.saved  # PyTorch: the gradient passes strictly inside (lo, hi)
        inside = a > self.lo
        inside &= a < self.hi
        return grad * inside


class Clamp(Function):
    def forward(self, a, lo, hi):
        xp = self.xp
        if lo is None:
            out = xp.minimum(a, hi)
        elif hi is None:
            out = xp.maximum(a, lo)
        else:
            out = xp.clip(a, lo, hi)
        self.empty = lo is not None and hi is not None and lo > hi
        self.save_for_backward(a, out)
        return out

    def backward(self, grad):
        a, out = self.saved
        if self.empty:  # min > max: every output is max, and no input gets a gradient (PyTorch)
            return self.xp.zeros_like(grad)
        # NOTE: out == a exactly where min <= a <= max, bounds included as in PyTorch.
        return grad * (a == out)


class ClampTensor(Function):
    """min(max(x, lo), hi) with tensor bounds; gradients go to whichever of x, lo, hi was picked."""

    def forward(self, a, *bounds, has_min, has_max):
        xp = self.xp
        lo = bounds[0] if has_min else None
        hi = bounds[-1] if has_max else None
        out = a
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        self.has_min, self.has_max = has_min, has_max
        self.save_for_backward(a, *bounds)
        return out

    def backward(self, grad):
        a = self.saved[0]
        lo = self.saved[1] if self.has_min else None
        hi = self.saved[-1] if self.has_max else None
        needs = self.needs_input_grad
        grads = [None]
        if needs[0]:
            keep = True
            if lo is not None:
                keep = a >= lo
            if hi is not None:
                keep = keep & (a <= hi)
            grads[0] = grad * keep
        if lo is not None:
            if needs[1]:
                picked = a < lo
                if hi is not None:
                    picked &= lo <= hi
                grads.append(grad * picked)
            else:
                grads.append(None)
        if hi is not None:
            if needs[-1]:
                picked = a > hi
                if lo is not None:
                    picked |= lo > hi
                grads.append(grad * picked)
            else:
                grads.append(None)
        return tuple(grads)


def _split_grad(node, grad, a, b, a_wins):
    """Gradients of max/min: all to the winner, half each on a tie (PyTorch's convention)."""
    need_a, need_b = node.needs_input_grad
    weight = _own(node.xp, a_wins.astype(grad.dtype))
    tie = a == b
    if tie.any():
        weight[tie] = 0.5
    ga = grad * weight
    return (ga if need_a else None), (grad - ga if need_b else None)


class Maximum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved
        return _split_grad(self, grad, a, b, a > b)


class Minimum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.minimum(a, b)

    def backward(self, grad):
        a, b = self.saved
        return _split_grad(self, grad, a, b, a < b)


class Where(Function):
    def forward(self, cond, a, b):
        self.save_for_backward(cond)
        return self.xp.where(cond, a, b)

    def backward(self, grad):
        (cond,) = self.saved
        xp = self.xp
        _, need_a, need_b = self.needs_input_grad
        if not bool(xp.isfinite(grad).all()):  # inf * 0 would be nan where PyTorch gives 0
            return (None, xp.where(cond, grad, 0) if need_a else None, xp.where(cond, 0, grad) if need_b else None)
        ga = grad * cond if need_a else None
        if need_b:
            gb = grad * ~cond if ga is None else grad - ga
        else:
            gb = None
        return None, ga, gb


# -- public functions ----------------------------------------------------------------------


def relu(input):
    """``max(x, 0)``, elementwise; gradient 1 where ``x > 0``, else 0.

    Args:
        input: a tensor.

    >>> import ember
    >>> ember.relu(ember.tensor([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.0, 2.0]
    """
    return ReLU.apply(input)


def relu6(input):
    """``min(max(x, 0), 6)``: :func:`hardtanh` between 0 and 6.

    Args:
        input: a tensor.

    >>> import ember
    >>> ember.relu6(ember.tensor([-1.0, 3.0, 8.0])).tolist()
    [0.0, 3.0, 6.0]
    """
    return hardtanh(input, 0.0, 6.0)


def gelu(input, approximate: str = "none"):
    """The Gaussian error linear unit ``x Phi(x) = x/2 (1 + erf(x / sqrt 2))``.

    ``approximate="tanh"`` computes ``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` instead
    (GPT-2's "gelu_new"). The exact form is accurate to double precision in float64; in
    float32 on the CPU, Phi is within 3.5e-7 of the true value (``ember.ops.gelu_float32``),
    and exactly 0 or 1 from ``|x| = 6`` on.

    Args:
        input: a floating tensor.
        approximate: ``"none"`` (exact, with erf) or ``"tanh"``.

    >>> import ember
    >>> [round(v, 4) for v in ember.gelu(ember.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.1587, 0.0, 0.8413]
    """
    if approximate == "none":
        return GELU.apply(floating(input))
    if approximate == "tanh":
        return GELUTanh.apply(floating(input))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input):
    """The sigmoid linear unit (swish) ``x * sigmoid(x)``; gradient ``s (1 + x (1 - s))``.

    Args:
        input: a floating tensor.

    >>> import ember
    >>> [round(v, 4) for v in ember.silu(ember.tensor([-1.0, 0.0, 1.0])).tolist()]
    [-0.2689, 0.0, 0.7311]
    """
    return SiLU.apply(floating(input))


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + e^(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``.

    Computed as ``(max(z, 0) + log1p(e^-|z|)) / beta``, so it is finite (and warning-free) for
    every finite input; the gradient is ``sigmoid(beta x)``.

    Args:
        input: a floating tensor.
        beta: the sharpness (larger is closer to relu).
        threshold: above ``beta x > threshold`` the function is the identity.

    >>> import ember
    >>> [round(v, 4) for v in ember.softplus(ember.tensor([-1e4, 0.0, 1e4])).tolist()]
    [0.0, 0.6931, 10000.0]
    """
    return Softplus.apply(floating(input), beta=_number(beta, "beta"), threshold=_number(threshold, "threshold"))


def leaky_relu(input, negative_slope: float = 0.01):
    """``x`` where ``x > 0``, else ``negative_slope * x``.

    Args:
        input: a tensor.
        negative_slope: the slope for negative inputs.

    >>> import ember
    >>> ember.leaky_relu(ember.tensor([-2.0, 3.0]), 0.5).tolist()
    [-1.0, 3.0]
    """
    return LeakyReLU.apply(input, slope=_number(negative_slope, "negative_slope"))


def elu(input, alpha: float = 1.0):
    """The exponential linear unit: ``x`` where ``x > 0``, else ``alpha (e^x - 1)``.

    Args:
        input: a floating tensor.
        alpha: the value the function tends to as ``x -> -inf`` is ``-alpha``.

    >>> import ember
    >>> [round(v, 4) for v in ember.elu(ember.tensor([-1.0, 2.0])).tolist()]
    [-0.6321, 2.0]
    """
    return ELU.apply(floating(input), alpha=_number(alpha, "alpha"))


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0):
    """``x`` clipped to ``[min_val, max_val]``; the gradient passes strictly inside the interval.

    Args:
        input: a tensor.
        min_val: the lower bound.
        max_val: the upper bound.

    >>> import ember
    >>> ember.hardtanh(ember.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    lo, hi = _number(min_val, "min_val"), _number(max_val, "max_val")
    if lo > hi:
        raise ValueError(f"hardtanh: min_val ({lo}) must not be greater than max_val ({hi})")
    if input._data.dtype.kind in "iub" and (isinstance(lo, float) or isinstance(hi, float)):
        input = floating(input)
    return Hardtanh.apply(input, lo=lo, hi=hi)


def clamp(input, min=None, max=None):  # noqa: A002 - PyTorch's names
    """``min(max(x, min), max)``, elementwise; either bound may be left out.

    The gradient passes where ``min <= x <= max`` (bounds included, as in PyTorch). Bounds may be
    numbers or tensors (broadcasting); tensor bounds get the gradient where they are the result.

    Args:
        input: a tensor.
        min: the lower bound, a number, a tensor or None.
        max: the upper bound, a number, a tensor or None.

    >>> import ember
    >>> ember.clamp(ember.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0).tolist()
    [0.0, 0.5, 1.0]
    """
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        bounds = [b if isinstance(b, Tensor) else lift(b, input) for b in (min, max) if b is not None]
        tensors = [input, *bounds]
        if any(t._data.dtype != input._data.dtype for t in bounds):
            target = functools.reduce(dtypes.promote_types, [t.dtype for t in tensors])
            tensors = [t.to(target) for t in tensors]
        return ClampTensor.apply(*tensors, has_min=min is not None, has_max=max is not None)
    lo = None if min is None else _number(min, "min")
    hi = None if max is None else _number(max, "max")
    if input._data.dtype.kind in "iub" and (isinstance(lo, float) or isinstance(hi, float)):
        input = floating(input)
    return Clamp.apply(input, lo=lo, hi=hi)


def clip(input, min=None, max=None):  # noqa: A002 - PyTorch's names
    """Alias of :func:`clamp`.

    Args:
        input: a tensor.
        min: the lower bound, a number, a tensor or None.
        max: the upper bound, a number, a tensor or None.

    >>> import ember
    >>> ember.clip(ember.tensor([-2.0, 3.0]), max=1.0).tolist()
    [-2.0, 1.0]
    """
    return clamp(input, min, max)


def maximum(input, other):
    """The larger of ``input`` and ``other``, elementwise, broadcasting (nan if either is nan).

    The gradient goes to the larger; on a tie each gets half (as PyTorch).

    Args:
        input: a tensor.
        other: a tensor or a number.

    >>> import ember
    >>> ember.maximum(ember.tensor([1.0, 5.0]), ember.tensor([3.0, 2.0])).tolist()
    [3.0, 5.0]
    """
    return Maximum.apply(*operands(input, other))


def minimum(input, other):
    """The smaller of ``input`` and ``other``, elementwise, broadcasting (nan if either is nan).

    The gradient goes to the smaller; on a tie each gets half (as PyTorch).

    Args:
        input: a tensor.
        other: a tensor or a number.

    >>> import ember
    >>> ember.minimum(ember.tensor([1.0, 5.0]), ember.tensor([3.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    return Minimum.apply(*operands(input, other))


def where(condition, input=None, other=None):
    """``input`` where ``condition`` is true, else ``other``, broadcasting all three.

    ``input`` and ``other`` may be numbers (they take the other operand's dtype). The gradient of
    each goes where it was picked. ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.

    Args:
        condition: a bool tensor.
        input: values where ``condition`` is true (a tensor or a number).
        other: values where ``condition`` is false (a tensor or a number).

    >>> import ember
    >>> x = ember.tensor([-1.0, 2.0])
    >>> ember.where(x > 0, x, 0.0).tolist()
    [0.0, 2.0]
    """
    if not isinstance(condition, Tensor):
        raise TypeError(f"where: condition must be a bool tensor, got {type(condition).__name__}")
    if condition._data.dtype.kind != "b":
        raise TypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}; "
                        "compare it first (e.g. x > 0) or call .bool()")
    if input is None and other is None:
        xp = condition._device.backend.xp
        return tuple(Tensor._make(i, condition._device, None) for i in xp.nonzero(xp.atleast_1d(condition._data)))
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = lift(input, condition)
    a, b = operands(input, other)
    return Where.apply(condition, a, b)


def _number(value, name):
    """A Python number from a number-like argument (NumPy scalars would change result dtypes)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Tensor):
        value = value.item()
    if not isinstance(value, _SCALARS):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return value
