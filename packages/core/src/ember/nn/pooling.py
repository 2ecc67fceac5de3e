"""Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d (no parameters).

Each stores its arguments as given (as PyTorch does, so reprs match) and calls the fused
primitives of :mod:`ember.nn.functional.pooling`.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"]


def _single(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    r"""1-d max pooling: ``out[n, c, l] = max_k x_pad[n, c, l*stride + k*dilation]``.

    Args:
        kernel_size: window length.
        stride: step between windows. Default: ``kernel_size``.
        padding: implicit ``-inf`` on both ends (at most half the window). Default: 0.
        dilation: spacing between window taps. Default: 1.
        return_indices: also return each maximum's position (int64). Default: False.
        ceil_mode: keep a partial last window. Default: False.

    Shape:
        ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)``, ``L_out = floor((L + 2p - d(k-1) - 1)/s) + 1``.

    >>> import ember
    >>> MaxPool1d(2)(ember.tensor([[[1.0, 3.0, 2.0, 5.0]]])).tolist()
    [[[3.0, 5.0]]]
    """

    def forward(self, input: Tensor):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)


class MaxPool2d(_MaxPoolNd):
    r"""2-d max pooling over (N, C, H, W) input.

    .. math::
        \text{out}[n, c, i, j] = \max_{p < k_H,\ q < k_W} x_{\text{pad}}[n, c, i s_H + p d_H, j s_W + q d_W]

    The gradient flows to the one element that was the maximum (the first in row-major
    window order when several tie, as in PyTorch).

    Args:
        kernel_size: an int or ``(kH, kW)``.
        stride: an int or ``(sH, sW)``. Default: ``kernel_size``.
        padding: implicit ``-inf`` on every side (at most half the kernel). Default: 0.
        dilation: spacing between window taps. Default: 1.
        return_indices: also return the flat ``h * W + w`` index of each maximum (int64). Default: False.
        ceil_mode: round output sizes up. Default: False.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)``,
        ``H_out = floor((H + 2pH - dH(kH-1) - 1) / sH) + 1``.

    >>> import ember
    >>> pool = MaxPool2d(3, stride=2, padding=1)
    >>> pool
    MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)
    >>> pool(ember.ones(1, 2, 8, 8)).shape
    (1, 2, 4, 4)
    """

    def forward(self, input: Tensor):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)


class AvgPool1d(Module):
    r"""1-d average pooling: ``out[n, c, l] = mean_k x_pad[n, c, l*stride + k]``.

    Args:
        kernel_size: window length.
        stride: step between windows. Default: ``kernel_size``.
        padding: zeros on both ends (at most half the window). Default: 0.
        ceil_mode: keep a partial last window. Default: False.
        count_include_pad: count padded zeros in the divisor. Default: True.

    Shape:
        ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)``.

    >>> import ember
    >>> AvgPool1d(2)(ember.tensor([[[1.0, 3.0, 2.0, 6.0]]])).tolist()
    [[[2.0, 4.0]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        # Stored as 1-tuples, as PyTorch's AvgPool1d does (and shows in its repr).
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    r"""2-d average pooling over (N, C, H, W) input.

    .. math::
        \text{out}[n, c, i, j] = \frac{1}{D_{ij}} \sum_{p < k_H,\ q < k_W} x_{\text{pad}}[n, c, i s_H + p, j s_W + q]

    ``D`` is the window size, the count of non-padding elements (``count_include_pad=False``)
    or ``divisor_override``.

    Args:
        kernel_size: an int or ``(kH, kW)``.
        stride: an int or ``(sH, sW)``. Default: ``kernel_size``.
        padding: zeros on every side (at most half the kernel). Default: 0.
        ceil_mode: round output sizes up. Default: False.
        count_include_pad: count padded zeros in the divisor. Default: True.
        divisor_override: divide by this instead. Default: None.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)``,
        ``H_out = floor((H + 2pH - kH) / sH) + 1``.

    >>> import ember
    >>> pool = AvgPool2d(2)
    >>> pool
    AvgPool2d(kernel_size=2, stride=2, padding=0)
    >>> pool(ember.ones(1, 1, 4, 4)).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override=None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    r"""1-d adaptive average pooling to a fixed length, whatever the input length.

    Output position ``i`` averages ``x[floor(i L / L_out) : ceil((i + 1) L / L_out)]``.

    Args:
        output_size: the output length.

    Shape:
        ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, output_size)``.

    >>> import ember
    >>> AdaptiveAvgPool1d(2)(ember.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]])).tolist()
    [[[2.0, 4.0]]]
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    r"""2-d adaptive average pooling to a fixed grid, whatever the input size.

    .. math::
        \text{out}[n, c, i, j] = \operatorname{mean}\ x[n, c,
            \lfloor iH/H_o \rfloor : \lceil (i+1)H/H_o \rceil,\ \lfloor jW/W_o \rfloor : \lceil (j+1)W/W_o \rceil]

    ``AdaptiveAvgPool2d(1)`` is global average pooling (the head of a ResNet).

    Args:
        output_size: an int or ``(H_out, W_out)``; None in the tuple keeps that input size.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)``.

    >>> import ember
    >>> pool = AdaptiveAvgPool2d((1, 1))
    >>> pool
    AdaptiveAvgPool2d(output_size=(1, 1))
    >>> pool(ember.ones(2, 8, 7, 5)).shape
    (2, 8, 1, 1)
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
