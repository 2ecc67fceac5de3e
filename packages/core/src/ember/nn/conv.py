"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d.

Each holds a weight and an optional bias, initialised as PyTorch does (weight:
``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias: the same
range), and calls the fused primitives of :mod:`ember.nn.functional.conv`.
"""

from __future__ import annotations

import math

from .. import creation as _creation
from ..tensor import Tensor
from . import functional as F
from . import init
from .functional.conv import _ntuple, _pad_mode, _resolve_padding
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What every convolution layer shares: arguments, parameters, initialisation and repr."""

    _spatial = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding, device, dtype) -> None:
        super().__init__()
        name = type(self).__name__
        n = self._spatial
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {', '.join(map(repr, _PADDING_MODES))}, "
                             f"got {padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size", name)
        self.stride = _ntuple(stride, n, "stride", name)
        self.dilation = _ntuple(dilation, n, "dilation", name)
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
            # Validates the string ('same' needs stride 1) once, here, rather than on every call.
            _resolve_padding(padding, self.kernel_size, self.stride, self.dilation, n, name)
            self.padding = padding
        else:
            self.padding = _ntuple(padding, n, "padding", name)
        self.output_padding = _ntuple(output_padding, n, "output_padding", name)
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(_creation.empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(_creation.empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight ~ kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias ~ U(+-1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _padded(self, input: Tensor):
        """For a padding_mode other than 'zeros': the input padded explicitly, and padding 0."""
        if self.padding_mode == "zeros":
            return input, self.padding
        n = self._spatial
        pads = _resolve_padding(self.padding, self.kernel_size, self.stride, self.dilation, n, type(self).__name__)
        pads = pads[2 - n:]
        if input.ndim not in (n + 1, n + 2):
            return input, self.padding  # let the functional form report the wrong rank
        return _pad_mode(input, pads, self.padding_mode, type(self).__name__), 0

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._spatial:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._spatial:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    r"""1-d convolution over (N, C_in, L) input.

    .. math::
        \text{out}[n, o, l] = b[o] + \sum_{c, k} W[o, c, k]\, x_{\text{pad}}[n, g(o) C_{in}/G + c, l s + k d]

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel_size: the kernel length.
        stride: step between output positions. Default: 1.
        padding: an int, ``'valid'`` or ``'same'``. Default: 0.
        dilation: spacing between kernel taps. Default: 1.
        groups: independent channel groups (``in_channels`` is depthwise). Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        device, dtype: where and how the parameters are created.

    Shape:
        ``(N, C_in, L)`` or ``(C_in, L)`` -> ``(N, C_out, L_out)``,
        ``L_out = floor((L + 2p - d(k-1) - 1) / s) + 1``.

    >>> import ember
    >>> layer = Conv1d(4, 8, 3, padding=1)
    >>> layer
    Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=(1,))
    >>> layer(ember.ones(2, 4, 10)).shape
    (2, 8, 10)
    """

    _spatial = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        input, padding = self._padded(input)
        return F.conv1d(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    r"""2-d convolution over (N, C_in, H, W) input (im2col + one GEMM per group).

    .. math::
        \text{out}[n, o, i, j] = b[o] + \sum_{c, p, q} W[o, c, p, q]\,
            x_{\text{pad}}[n,\ g(o) C_{in}/G + c,\ i s_H + p d_H,\ j s_W + q d_W]

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel_size: an int or ``(kH, kW)``.
        stride: an int or ``(sH, sW)``. Default: 1.
        padding: an int, ``(pH, pW)``, ``'valid'`` or ``'same'``. Default: 0.
        dilation: an int or ``(dH, dW)``. Default: 1.
        groups: independent channel groups (``groups == in_channels`` is depthwise). Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        device, dtype: where and how the parameters are created.

    Shape:
        ``(N, C_in, H, W)`` or ``(C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``,
        ``H_out = floor((H + 2pH - dH(kH-1) - 1) / sH) + 1``.

    Weight ``(C_out, C_in/groups, kH, kW)`` and bias ``(C_out,)`` start as
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), ``fan_in = C_in/groups * kH * kW``.

    >>> import ember
    >>> layer = Conv2d(3, 16, 3, stride=2, padding=1, bias=False)
    >>> layer
    Conv2d(3, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)
    >>> layer(ember.ones(2, 3, 32, 32)).shape
    (2, 16, 16, 16)
    """

    _spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        input, padding = self._padded(input)
        return F.conv2d(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def _output_padding(self, input: Tensor, output_size) -> tuple[int, ...]:
        """The output_padding that gives ``output_size`` (PyTorch's ``forward(input, output_size)``)."""
        if output_size is None:
            return self.output_padding
        n = self._spatial
        name = type(self).__name__
        output_size = tuple(int(s) for s in output_size)
        if len(output_size) > n:
            output_size = output_size[-n:]
        if len(output_size) != n:
            raise ValueError(f"{name}: output_size must have {n} or {n + 2} elements, got {output_size}")
        spatial = tuple(input.shape[-n:])
        smallest = tuple((spatial[d] - 1) * self.stride[d] - 2 * self.padding[d]
                         + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(n))
        largest = tuple(s + st - 1 for s, st in zip(smallest, self.stride))
        padding = []
        for d in range(n):
            if not smallest[d] <= output_size[d] <= largest[d]:
                raise ValueError(f"{name}: requested an output size of {output_size}, but valid sizes for input of "
                                 f"shape {tuple(input.shape)} range from {smallest} to {largest}")
            padding.append(output_size[d] - smallest[d])
        return tuple(padding)


class ConvTranspose1d(_ConvTransposeNd):
    r"""1-d transposed convolution: the gradient of :class:`Conv1d` with respect to its input.

    .. math:: \text{out}[n, o, l s + k d - p] \mathrel{+}= \sum_c x[n, c, l]\, W[c, o, k]

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel_size: the kernel length.
        stride: upsampling factor. Default: 1.
        padding: removed from both ends of the output. Default: 0.
        output_padding: added to one end of the output (smaller than stride or dilation). Default: 0.
        groups: independent channel groups. Default: 1.
        bias: learn an additive bias. Default: True.
        dilation: spacing between kernel taps. Default: 1.
        padding_mode: only ``'zeros'``.
        device, dtype: where and how the parameters are created.

    Shape:
        ``(N, C_in, L)`` -> ``(N, C_out, L_out)``, ``L_out = (L - 1)s - 2p + d(k - 1) + output_padding + 1``.

    >>> import ember
    >>> ConvTranspose1d(4, 2, 4, stride=2, padding=1)(ember.ones(1, 4, 5)).shape
    (1, 2, 10)
    """

    _spatial = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    r"""2-d transposed convolution ("deconvolution"): the gradient of :class:`Conv2d` w.r.t. its input.

    .. math::
        \text{out}[n, o, i s_H + p d_H - p_H, j s_W + q d_W - p_W] \mathrel{+}= \sum_c x[n, c, i, j]\, W[c, o, p, q]

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel_size: an int or ``(kH, kW)``.
        stride: upsampling factor(s). Default: 1.
        padding: rows/columns removed from each side of the output. Default: 0.
        output_padding: rows/columns added at the bottom/right (smaller than stride or dilation). Default: 0.
        groups: independent channel groups. Default: 1.
        bias: learn an additive bias. Default: True.
        dilation: spacing between kernel taps. Default: 1.
        padding_mode: only ``'zeros'``.
        device, dtype: where and how the parameters are created.

    Shape:
        ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``,
        ``H_out = (H - 1)sH - 2pH + dH(kH - 1) + output_paddingH + 1``; or pass
        ``output_size`` to ``forward`` to pick among the sizes a strided Conv2d maps to ``H``.

    Weight ``(C_in, C_out/groups, kH, kW)``; both it and the bias start as
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with PyTorch's ``fan_in = C_out/groups * kH * kW``.

    >>> import ember
    >>> layer = ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
    >>> layer
    ConvTranspose2d(8, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))
    >>> layer(ember.ones(1, 8, 5, 5)).shape
    (1, 4, 10, 10)
    """

    _spatial = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups, self.dilation)
