"""Activation functions. Those that are tensor ops (relu, gelu, silu, sigmoid, tanh, softmax,
log_softmax, leaky_relu, elu, hardtanh, relu6, softplus) forward to ``ember.ops``; the rest are
primitives here, plus a fused ``silu(a) * b`` for SwiGLU.
"""

from __future__ import annotations

import numpy as np

from ... import ops as _ops
from ...autograd.function import Function
from ...host_threads import parallel
from ...ops.gelu_float32 import blocks
from ...tensor import Tensor

__all__ = ["relu", "relu_", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax", "softmin", "leaky_relu",
           "elu", "selu", "celu", "hardtanh", "relu6", "hardsigmoid", "hardswish", "mish", "softplus",
           "logsigmoid", "softsign", "glu", "silu_mul", "swiglu"]


def _sigmoid(xp, x):
    """1 / (1 + e^-x), in place on one new array. For x < -88 (float32) e^-x overflows to inf
    and the result is the correct 0, so the overflow warning is silenced."""
    t = xp.negative(x)
    with np.errstate(over="ignore"):
        xp.exp(t, out=t)
    t += 1
    return xp.reciprocal(t, out=t)


# -- the core activations are ops ---------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0).

    >>> import ember
    >>> relu(ember.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return _ops.relu(input)


relu_ = relu


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (``approximate="none"``) or its tanh approximation (``"tanh"``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _ops.gelu(input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    return _ops.silu(input)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e^-x)."""
    return _ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return _ops.tanh(input)


def _softmax_dim(input: Tensor, dim):
    if dim is None:  # PyTorch's legacy implicit choice
        return 0 if input.ndim in (0, 1, 3) else 1
    return dim


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """e^x_i / sum_j e^x_j along ``dim`` (computed stably)."""
    if dtype is not None:
        input = input.to(dtype)
    return _ops.softmax(input, _softmax_dim(input, dim))


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """x_i - log sum_j e^x_j along ``dim`` (computed stably)."""
    if dtype is not None:
        input = input.to(dtype)
    return _ops.log_softmax(input, _softmax_dim(input, dim))


def softmin(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """softmax(-x)."""
    return softmax(-input, dim, dtype)


# -- pointwise primitives -----------------------------------------------------------------


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x.

    >>> import ember
    >>> leaky_relu(ember.tensor([-2.0, 3.0]), 0.5).tolist()
    [-1.0, 3.0]
    """
    return _ops.leaky_relu(input, negative_slope)


class ELU(Function):
    """scale * (x if x > 0 else alpha * (e^(x/beta) - 1)); covers elu, selu and celu."""

    def forward(self, x, alpha, scale, beta):
        xp = self.xp
        self.positive = x > 0
        neg = xp.expm1(xp.minimum(x, 0) / beta) * alpha
        self.neg, self.alpha, self.scale, self.beta = neg, alpha, scale, beta
        out = xp.where(self.positive, x, neg)
        if scale != 1.0:
            out *= scale
        return out

    def backward(self, grad):
        # d/dx alpha (e^(x/beta) - 1) = (neg + alpha) / beta
        slope = self.xp.where(self.positive, 1.0, (self.neg + self.alpha) / self.beta).astype(grad.dtype, copy=False)
        return grad * (slope * self.scale if self.scale != 1.0 else slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (e^x - 1)."""
    return _ops.elu(input, alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. (2017)."""
    return ELU.apply(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE, beta=1.0)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (e^(x/alpha) - 1))."""
    return ELU.apply(input, alpha=alpha, scale=1.0, beta=alpha)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clip(x, min_val, max_val)."""
    return _ops.hardtanh(input, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return _ops.relu6(input)


class Hardsigmoid(Function):
    def forward(self, x):
        self.inside = (x > -3) & (x < 3)
        return self.xp.clip(x / 6 + 0.5, 0, 1)

    def backward(self, grad):
        return grad * self.inside / 6


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    return Hardsigmoid.apply(input)


class Hardswish(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x * self.xp.clip(x / 6 + 0.5, 0, 1)

    def backward(self, grad):
        (x,) = self.saved
        xp = self.xp
        slope = xp.where(x < -3, 0.0, xp.where(x > 3, 1.0, x / 3 + 0.5)).astype(x.dtype, copy=False)
        return grad * slope


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    return Hardswish.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold."""
    return _ops.softplus(input, beta, threshold)


class LogSigmoid(Function):
    def forward(self, x):
        xp = self.xp
        self.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, grad):
        (x,) = self.saved
        return grad * _sigmoid(self.xp, -x)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return LogSigmoid.apply(input)


class Mish(Function):
    def forward(self, x):
        xp = self.xp
        sp = xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        t = xp.tanh(sp)
        self.save_for_backward(x)
        self.t = t
        return x * t

    def backward(self, grad):
        (x,) = self.saved
        t = self.t
        return grad * (t + x * _sigmoid(self.xp, x) * (1 - t * t))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)) (Misra, 2019)."""
    return Mish.apply(input)


class Softsign(Function):
    def forward(self, x):
        self.denom = 1 + self.xp.abs(x)
        return x / self.denom

    def backward(self, grad):
        return grad / (self.denom * self.denom)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return Softsign.apply(input)


class GLU(Function):
    def forward(self, x, dim):
        xp = self.xp
        a, b = xp.split(x, 2, axis=dim)
        s = _sigmoid(xp, b)
        self.a, self.s, self.dim = a, s, dim
        return a * s

    def backward(self, grad):
        a, s = self.a, self.s
        ga = grad * s
        gb = ga * a
        gb *= 1 - s
        return self.xp.concatenate((ga, gb), axis=self.dim)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim`` (Dauphin et al., 2017)."""
    if input.ndim == 0 or input.shape[dim] % 2:
        raise ValueError(f"glu: dimension {dim} of input of shape {tuple(input.shape)} must have an even size")
    return GLU.apply(input, dim=dim % input.ndim)


class SiluMul(Function):
    """silu(a) * b, fused: one pass forward, one backward, no intermediate tensors in the graph.

    With s = sigmoid(a): out = a s b; d/da = b s (1 + a (1 - s)), d/db = a s. Forward keeps s.

    NOTE: NumPy float32/float64 arrays of one shape run both directions on blocks of 256K
    elements written in place (see :mod:`ember.ops.gelu_float32`): 6 passes forward and 8
    backward that stay in cache, instead of passes over whole fresh arrays.
    """

    def forward(self, a, b):
        self.save_for_backward(a, b)
        if _host_blocks(self.xp, a, b):
            out, self.s = _silu_mul_blocks(a, b)
            return out
        s = _sigmoid(self.xp, a)
        self.s = s
        return (a * s) * b

    def backward(self, grad):
        a, b = self.saved
        s, (need_a, need_b) = self.s, self.needs_input_grad
        if _host_blocks(self.xp, a, b, grad):
            return _silu_mul_grad_blocks(a, b, s, grad, need_a, need_b)
        ga = gb = None
        if need_a:
            ga = grad * b
            ga *= s
            ga *= 1 + a * (1 - s)
        if need_b:
            gb = grad * a
            gb *= s
        return ga, gb


def _host_blocks(xp, *arrays) -> bool:
    first = arrays[0]
    return (xp is np and first.dtype in (np.float32, np.float64) and first.ndim > 0
            and all(x.shape == first.shape and x.dtype == first.dtype and x.flags.c_contiguous for x in arrays))


def _silu_mul_blocks(a, b):
    fa, fb = a.reshape(-1), b.reshape(-1)
    out, s = np.empty_like(fa), np.empty_like(fa)

    def part(start, stop):
        with np.errstate(over="ignore"):  # e^-a = inf for very negative a: s = 1 / inf = 0, as it should
            for j in blocks(start, stop):
                ss, o = s[j], out[j]
                np.negative(fa[j], out=ss)
                np.exp(ss, out=ss)
                ss += 1
                np.reciprocal(ss, out=ss)
                np.multiply(fa[j], ss, out=o)
                o *= fb[j]

    parallel(fa.size, part)
    return out.reshape(a.shape), s.reshape(a.shape)


def _silu_mul_grad_blocks(a, b, s, grad, need_a, need_b):
    fa, fb, fs, fg = a.reshape(-1), b.reshape(-1), s.reshape(-1), grad.reshape(-1)
    ga = np.empty_like(fa) if need_a else None
    gb = np.empty_like(fa) if need_b else None

    def part(start, stop):
        for j in blocks(start, stop):
            if need_a:
                t = ga[j]
                np.subtract(1, fs[j], out=t)
                t *= fa[j]
                t += 1
                t *= fs[j]
                t *= fb[j]
                t *= fg[j]
            if need_b:
                u = gb[j]
                np.multiply(fa[j], fs[j], out=u)
                u *= fg[j]

    parallel(fa.size, part)
    return (None if ga is None else ga.reshape(a.shape)), (None if gb is None else gb.reshape(a.shape))


def silu_mul(gate: Tensor, up: Tensor) -> Tensor:
    """silu(gate) * up, fused (the gating of SwiGLU).

    >>> import ember
    >>> round(silu_mul(ember.tensor([1.0]), ember.tensor([2.0])).item(), 4)
    1.4621
    """
    from ...ops._operands import operands

    gate, up = operands(gate, up)
    return SiluMul.apply(gate, up)


def swiglu(input: Tensor, w1: Tensor, w3: Tensor, w2: Tensor, b1: Tensor | None = None, b3: Tensor | None = None,
           b2: Tensor | None = None) -> Tensor:
    """The SwiGLU feed-forward block (Shazeer, 2020): (silu(x W1^T + b1) * (x W3^T + b3)) W2^T + b2.

    Args:
        input: (*, dim).
        w1, w3: (hidden, dim), the gate and up projections.
        w2: (dim_out, hidden), the down projection.
        b1, b3, b2: optional biases.

    >>> import ember
    >>> x = ember.ones(2, 4)
    >>> swiglu(x, ember.ones(8, 4), ember.ones(8, 4), ember.ones(4, 8)).shape
    (2, 4)
    """
    from .linear import linear

    return linear(silu_mul(linear(input, w1, b1), linear(input, w3, b3)), w2, b2)

