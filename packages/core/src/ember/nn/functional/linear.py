"""``linear``: y = x W^T + b as one fused primitive."""

from __future__ import annotations

from ...autograd.axis_sums import column_sums_product, leading_sum
from ...autograd.function import Function
from ...host_threads import matmul, matmuls
from ...tensor import Tensor

__all__ = ["linear"]


class Linear(Function):
    """y = x W^T + b for x of shape (*, in), W (out, in), b (out,).

    Every leading dimension is folded into one GEMM in forward and in both weight products
    of backward: dW = g^T x, db = sum(g), dx = g W.
    """

    def forward(self, x, weight, bias=None):
        self.save_for_backward(x, weight)
        if x.ndim == 1:
            out = matmul(weight, x)
            if bias is not None:
                out += bias
            return out
        out = matmul(x.reshape(-1, x.shape[-1]), weight.T, bias=bias)
        return out.reshape(*x.shape[:-1], weight.shape[0])

    def backward(self, grad):
        x, weight = self.saved
        needs = self.needs_input_grad
        has_bias = len(needs) > 2
        # NOTE: NumPy's stacked matmul (3-D @ 2-D) is many times slower than one 2-D GEMM, so
        # every product runs on the (rows, features) views.
        g2 = grad.reshape(-1, grad.shape[-1])
        want_bias = has_bias and needs[2]
        # db = ones @ g joins the other two products unless a subclass sums its own way
        bias_product = column_sums_product(g2) if want_bias and type(self).bias_grad is Linear.bias_grad else None
        # one hand-off between ember's threads for all the products (matmuls)
        gx, gw, gb = matmuls((g2, weight) if needs[0] else None,
                             (g2.T, x.reshape(-1, x.shape[-1])) if needs[1] else None, bias_product)
        if gx is not None:
            gx = gx.reshape(x.shape)
        if want_bias and gb is None:
            gb = self.bias_grad(g2)
        return (gx, gw, gb) if has_bias else (gx, gw)

    def bias_grad(self, g2):
        """db = the column sums of the (rows, out) gradient; a backend overrides it where a sum is slow."""
        return leading_sum(g2, 1)


def _check_linear(input: Tensor, weight: Tensor, bias) -> None:
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {tuple(input.shape)} does not fit weight of shape "
                         f"{tuple(weight.shape)}; the input's last dimension must be in_features={weight.shape[1]}")
    if input._data.dtype != weight._data.dtype:
        raise TypeError(f"linear: input is {input.dtype} but weight is {weight.dtype}; cast one of them "
                        "(e.g. model.to(input.dtype) or input.to(weight.dtype))")
    if bias is not None:
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
        if bias._data.dtype != weight._data.dtype:
            raise TypeError(f"linear: bias is {bias.dtype} but weight is {weight.dtype}")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b.

    Args:
        input: (*, in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Returns:
        (*, out_features).

    >>> import ember
    >>> x = ember.ones(2, 3)
    >>> linear(x, ember.ones(4, 3), ember.zeros(4)).tolist()[0]
    [3.0, 3.0, 3.0, 3.0]
    """
    _check_linear(input, weight, bias)
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)
