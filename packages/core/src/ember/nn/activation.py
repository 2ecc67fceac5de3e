"""Activation layers: each wraps the function of the same name in ``ember.nn.functional``.

Also ``SwiGLU``, the gated feed-forward block of LLaMA-style transformers.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .linear import Linear
from .module import Module

__all__ = ["ReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softmin", "LeakyReLU", "ELU",
           "SELU", "CELU", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "Mish", "Softplus", "LogSigmoid",
           "Softsign", "GLU", "SwiGLU"]


class ReLU(Module):
    """max(x, 0), elementwise.

    >>> import ember
    >>> ReLU()(ember.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)


class GELU(Module):
    """x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel, 2016); with
    ``approximate="tanh"``, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Args:
        approximate: ``"none"`` (exact, default) or ``"tanh"``.

    >>> import ember
    >>> round(GELU()(ember.tensor([1.0])).item(), 4)
    0.8413
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x) (swish).

    >>> import ember
    >>> round(SiLU()(ember.tensor([1.0])).item(), 4)
    0.7311
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input)


class Sigmoid(Module):
    """1 / (1 + e^-x).

    >>> import ember
    >>> Sigmoid()(ember.tensor([0.0])).item()
    0.5
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x).

    >>> import ember
    >>> Tanh()(ember.tensor([0.0])).item()
    0.0
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class Softmax(Module):
    """e^x_i / sum_j e^x_j along ``dim``.

    Args:
        dim: the dimension that sums to one.

    >>> import ember
    >>> Softmax(dim=-1)(ember.zeros(1, 4)).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x_i - log sum_j e^x_j along ``dim``.

    Args:
        dim: the dimension to normalise over.

    >>> import ember
    >>> round(LogSoftmax(dim=-1)(ember.zeros(1, 2)).tolist()[0][0], 4)
    -0.6931
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """softmax(-x) along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x.

    Args:
        negative_slope: the slope for x < 0. Default: 0.01.

    >>> import ember
    >>> LeakyReLU(0.1)(ember.tensor([-10.0])).tolist()
    [-1.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x if x > 0 else alpha (e^x - 1) (Clevert et al., 2015).

    >>> import ember
    >>> round(ELU()(ember.tensor([-1.0])).item(), 4)
    -0.6321
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(Module):
    """scale * elu(x, alpha), the self-normalising activation (Klambauer et al., 2017)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input)


class CELU(Module):
    """max(0, x) + min(0, alpha (e^(x/alpha) - 1))."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Hardtanh(Module):
    """clip(x, min_val, max_val).

    >>> import ember
    >>> Hardtanh()(ember.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val, self.max_val = min_val, max_val

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Module):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return F.relu6(input)


class Hardsigmoid(Module):
    """relu6(x + 3) / 6."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return F.hardsigmoid(input)


class Hardswish(Module):
    """x relu6(x + 3) / 6 (Howard et al., 2019)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return F.hardswish(input)


class Mish(Module):
    """x tanh(softplus(x)) (Misra, 2019)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input)


class Softplus(Module):
    """log(1 + e^(beta x)) / beta, and x where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """log(sigmoid(x)), stable for large |x|."""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class GLU(Module):
    """a * sigmoid(b), a and b the halves of the input along ``dim`` (Dauphin et al., 2017).

    >>> import ember
    >>> GLU()(ember.ones(2, 6)).shape
    (2, 3)
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class SwiGLU(Module):
    """The gated feed-forward block of LLaMA-style transformers (Shazeer, 2020):

        y = W2 (silu(W1 x) * (W3 x))

    W1 (the gate) and W3 (the up projection) map dim -> hidden_dim, W2 maps back to
    ``dim_out`` (default dim). The gating ``silu(a) * b`` is one fused primitive.

    Args:
        dim: the input size.
        hidden_dim: the inner size (LLaMA uses about 8/3 * dim).
        dim_out: the output size. Default: dim.
        bias: give the three projections biases. Default: False.

    >>> import ember
    >>> ffn = SwiGLU(8, 16)
    >>> ffn(ember.randn(2, 5, 8)).shape
    (2, 5, 8)
    """

    def __init__(self, dim: int, hidden_dim: int, dim_out: int | None = None, bias: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.w1 = Linear(dim, hidden_dim, bias=bias, device=device, dtype=dtype)
        self.w3 = Linear(dim, hidden_dim, bias=bias, device=device, dtype=dtype)
        self.w2 = Linear(hidden_dim, dim if dim_out is None else dim_out, bias=bias, device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        return self.w2(F.silu_mul(self.w1(input), self.w3(input)))
