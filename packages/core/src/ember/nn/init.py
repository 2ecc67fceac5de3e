"""Weight initialisation, in place and without gradient tracking (``torch.nn.init``'s names).

Every function fills its tensor from ember's seeded generator (``ember.manual_seed``) and
returns it. The layers use PyTorch's defaults: Linear draws its weight with
``kaiming_uniform_(a=sqrt(5))`` (which is U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and its bias
from the same range; Embedding draws N(0, 1); norms start at ones and zeros.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_", "orthogonal_",
           "_calculate_fan_in_and_fan_out"]


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended scale of weights feeding ``nonlinearity`` (PyTorch's table).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2));
    selu: 3/4.

    Args:
        nonlinearity: the activation's name.
        param: the negative slope for ``"leaky_relu"`` (default 0.01).

    >>> round(calculate_gain("relu"), 4)
    1.4142
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; expected one of linear, conv*, sigmoid, tanh, "
                     "relu, leaky_relu, selu")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor of at least 2 dimensions, got shape {tuple(tensor.shape)}")
    receptive = 1
    for n in tensor.shape[2:]:
        receptive *= n
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _host_rng(generator):
    from ..random import default_generator

    return (generator or default_generator).numpy


def _fill_from_host(tensor: Tensor, values: np.ndarray) -> Tensor:
    dev = tensor._device
    with no_grad():
        tensor.copy_(Tensor._make(dev.backend.from_numpy(values.astype(tensor._data.dtype), dev.index or 0), dev, None))
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of U(a, b).

    >>> import ember
    >>> w = uniform_(ember.empty(3, 4), -0.1, 0.1)
    >>> bool((w.abs() <= 0.1).all())
    True
    """
    if generator is not None:
        return _fill_from_host(tensor, _host_rng(generator).uniform(a, b, tensor.shape))
    with no_grad():
        return tensor.uniform_(a, b)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of N(mean, std^2)."""
    if generator is not None:
        return _fill_from_host(tensor, _host_rng(generator).normal(mean, std, tensor.shape))
    with no_grad():
        return tensor.normal_(mean, std)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_ needs a 2-D tensor, got shape {tuple(tensor.shape)}")
    return _fill_from_host(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> Tensor:
    """He: U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    Args:
        tensor: at least 2-D (out_features, in_features, *kernel).
        a: the negative slope of the leaky ReLU that follows.
        mode: ``"fan_in"`` keeps the forward variance, ``"fan_out"`` the backward one.
        nonlinearity: the activation that follows.

    >>> import ember, math
    >>> w = kaiming_uniform_(ember.empty(8, 16), a=math.sqrt(5))   # PyTorch's Linear default
    >>> bool((w.abs() <= 1 / math.sqrt(16)).all())
    True
    """
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """He: N(0, std^2) with std = gain / sqrt(fan)."""
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)), generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """Fill with N(mean, std^2) samples redrawn until they lie in [a, b] (absolute bounds, as in PyTorch).

    >>> import ember
    >>> w = trunc_normal_(ember.empty(100), std=1.0, a=-0.5, b=0.5)
    >>> bool((w.abs() <= 0.5).all())
    True
    """
    if not a < b:
        raise ValueError(f"trunc_normal_ needs a < b, got a={a}, b={b}")
    rng = _host_rng(generator)
    n = tensor.numel()
    out = np.empty(n, dtype=np.float64)
    filled = 0
    for _ in range(1000):
        draws = rng.normal(mean, std, max(2 * (n - filled), 16))
        keep = draws[(draws >= a) & (draws <= b)][: n - filled]
        out[filled:filled + keep.size] = keep
        filled += keep.size
        if filled == n:
            break
    else:  # the interval holds almost no mass: fall back to uniform within it
        out[filled:] = rng.uniform(a, b, n - filled)
    return _fill_from_host(tensor, out.reshape(tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix, flattening trailing dimensions (Saxe et al., 2013)."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_ needs a tensor of at least 2 dimensions, got shape {tuple(tensor.shape)}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _host_rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill_from_host(tensor, gain * q.reshape(tensor.shape))
