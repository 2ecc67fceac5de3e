"""Broadcasting arithmetic: add, sub, mul, div, pow, neg (and integer-only floor_divide, remainder).

Each backward may return a gradient of the broadcast shape; the engine sums it back to
the input's shape.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..host_threads import binary
from ._operands import floating, operands

__all__ = ["add", "sub", "mul", "div", "true_divide", "pow", "neg", "floor_divide", "remainder", "square"]


class Add(Function):
    def forward(self, a, b):
        return binary(np.add, a, b)

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    def forward(self, a, b):
        return binary(np.subtract, a, b)

    def backward(self, grad):
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return binary(np.multiply, a, b)

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return (binary(np.multiply, grad, b) if need_a else None), (binary(np.multiply, grad, a) if need_b else None)


class Div(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad):
        a, b = self.saved
        grad_a = grad / b
        return grad_a, (-grad_a * a / b if self.needs_input_grad[1] else None)


class Pow(Function):
    """d(a^b)/da = b a^(b-1);  d(a^b)/db = a^b log(a)."""

    def forward(self, a, b):
        out = a ** b
        self.save_for_backward(a, b, out)
        return out

    def backward(self, grad):
        a, b, out = self.saved
        xp = self.xp
        grad_a = grad * b * a ** (b - 1) if self.needs_input_grad[0] else None
        grad_b = None
        if self.needs_input_grad[1]:
            # NOTE: log(a) is undefined for a <= 0; where a == 0 the true limit of a^b log a is 0.
            safe = xp.where(a > 0, a, xp.ones_like(a))
            grad_b = grad * out * xp.log(safe)
        return grad_a, grad_b


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class FloorDivide(Function):
    differentiable = False

    def forward(self, a, b):
        return self.xp.floor_divide(a, b)


class Remainder(Function):
    differentiable = False

    def forward(self, a, b):
        return self.xp.remainder(a, b)


def add(input, other, alpha=1):
    """``input + alpha * other``, broadcasting."""
    a, b = operands(input, other)
    if alpha != 1:
        b = mul(b, alpha)
    return Add.apply(a, b)


def sub(input, other, alpha=1):
    """``input - alpha * other``, broadcasting."""
    a, b = operands(input, other)
    if alpha != 1:
        b = mul(b, alpha)
    return Sub.apply(a, b)


def mul(input, other):
    """Elementwise product, broadcasting."""
    return Mul.apply(*operands(input, other))


def div(input, other):
    """True division, broadcasting; integer tensors give the default float dtype."""
    a, b = operands(input, other)
    return Div.apply(floating(a), floating(b))


true_divide = div


def pow(input, exponent):
    """``input ** exponent``, broadcasting; both sides are differentiable."""
    a, b = operands(input, exponent)
    return Pow.apply(a, b)


def square(input):
    return mul(input, input)


def neg(input):
    return Neg.apply(input)


def floor_divide(input, other):
    return FloorDivide.apply(*operands(input, other))


def remainder(input, other):
    return Remainder.apply(*operands(input, other))
