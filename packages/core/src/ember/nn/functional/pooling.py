"""Pooling: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d.

Each is one fused primitive on NCHW arrays (the 1-d forms run on a height-1 view). Sliding
windows are never materialized: a pooling loops over the ``kh*kw`` kernel offsets, and each
step is one strided slice of the padded input, vectorized over batch, channels and pixels.
Max pooling records which offset won (the first maximum in row-major window order, as
PyTorch does; a NaN always wins) and its backward routes each gradient to that one element.
Adaptive average pooling is ``P_h @ x @ P_w^T`` with two small averaging matrices (any
input and output size), or a reshape and mean when the sizes divide.
"""

from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled
from ...host_threads import matmul
from ...tensor import Tensor
from .conv import _as_4d, _ntuple, _pad, _positive, _window, _work_dtype

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d"]


def _check_input(input, fn: str, spatial: int, floating: bool = True) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim not in (spatial + 1, spatial + 2):
        layout = "(N, C, L) or (C, L)" if spatial == 1 else "(N, C, H, W) or (C, H, W)"
        raise ValueError(f"{fn}: expected a {spatial + 2}-d input {layout} (or {spatial + 1}-d without a batch "
                         f"dimension), got input of shape {tuple(input.shape)}")
    if any(n == 0 for n in input.shape[-spatial - 1:]):
        raise ValueError(f"{fn}: expected an input with non-zero channels and spatial sizes, got input of shape "
                         f"{tuple(input.shape)}")
    if floating and not input.dtype.is_floating_point:
        raise TypeError(f"{fn}: expected a floating-point input, got dtype {input.dtype}")


def _pool_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size: with ceil_mode, a last window must start inside the input
    or the left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _pool_setup(input, kernel_size, stride, padding, dilation, ceil_mode, spatial, fn):
    kernel = _positive(_ntuple(kernel_size, spatial, "kernel_size", fn), "kernel_size", fn)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel
    stride = _positive(_ntuple(stride, spatial, "stride", fn), "stride", fn)
    pad = _positive(_ntuple(padding, spatial, "padding", fn), "padding", fn, allow_zero=True)
    dilation = _positive(_ntuple(dilation, spatial, "dilation", fn), "dilation", fn)
    if any(p > k // 2 for p, k in zip(pad, kernel)):  # PyTorch's bound, dilation notwithstanding
        raise ValueError(f"{fn}: padding should be at most half of the kernel size, got padding="
                         f"{pad if spatial > 1 else pad[0]}, kernel_size={kernel if spatial > 1 else kernel[0]}")
    x4 = _as_4d(tuple(input.shape), spatial)
    if spatial == 1:
        kernel, stride, pad, dilation = (1, *kernel), (1, *stride), (0, *pad), (1, *dilation)
    in_hw = x4[2:]
    out_hw = tuple(_pool_out_size(s, k, st, p, d, ceil_mode)
                   for s, k, st, p, d in zip(in_hw, kernel, stride, pad, dilation))
    if min(out_hw) < 1:
        raise ValueError(f"{fn}: input of spatial size {in_hw[2 - spatial:]} is too small for kernel_size "
                         f"{kernel[2 - spatial:]} (padding {pad[2 - spatial:]}, dilation {dilation[2 - spatial:]}): "
                         f"the output would have size {out_hw[2 - spatial:]}")
    # Right/bottom padding also covers the windows ceil_mode adds past the input.
    pads = tuple((p, max(p, (o - 1) * st + d * (k - 1) + 1 - s - p))
                 for s, k, st, p, d, o in zip(in_hw, kernel, stride, pad, dilation, out_hw))
    batched = input.ndim == spatial + 2
    out_shape = (*x4[:2], *out_hw[2 - spatial:]) if batched else (x4[1], *out_hw[2 - spatial:])
    return kernel, stride, pad, pads, dilation, x4, out_hw, out_shape


# -- max pooling --------------------------------------------------------------------------


def _first_max_masks(windows, out):
    """For each kernel offset, where it is the first (in row-major window order) to hold its
    window's maximum ``out``: PyTorch's tie-breaking. Yields (offset, boolean mask)."""
    free = None
    for k, win in enumerate(windows):
        won = win == out
        if free is None:
            free = ~won
        else:
            won &= free
            free ^= won
        yield k, won


class _MaxPoolFn(Function):
    """Max pooling over NCHW arrays. Forward keeps only the maximum; backward recomputes which
    element of each window held it. ``box``, when given, receives the winning offsets."""

    def forward(self, x, *, kernel, stride, pads, dilation, x4, out_hw, out_shape, want_grad, box=None):
        xp = self.xp
        self.kernel, self.stride, self.pads, self.dilation, self.out_hw = kernel, stride, pads, dilation, out_hw
        self.in_shape, self.x4, self.out_shape = x.shape, x4, out_shape
        floating = x.dtype.kind not in "iub"
        low = -np.inf if floating else (np.iinfo(x.dtype).min if x.dtype.kind != "b" else False)
        xpad = _pad(xp, x.reshape(x4), pads, low)
        windows = self._windows(xpad)
        out = windows[0].copy()
        for win in windows[1:]:
            xp.maximum(out, win, out=out)  # NaN propagates, as in PyTorch
        self.arg = None
        if floating and (want_grad or box is not None) and bool(xp.isnan(out).any()):
            self.arg = self._nan_arg(windows)
        if box is not None:
            box.append(self.arg if self.arg is not None else self._arg(windows, out))
        if want_grad:
            out = out.reshape(out_shape)
            self.save_for_backward(x, out)
            self.xpad = xpad
        return out.reshape(out_shape)

    def _windows(self, xpad):
        kh, kw = self.kernel
        return [_window(xpad, i, j, self.out_hw, self.stride, self.dilation) for i in range(kh) for j in range(kw)]

    def _arg(self, windows, out):
        arg = self.xp.zeros(out.shape, dtype=np.uint8 if len(windows) <= 256 else np.int32)
        for k, won in _first_max_masks(windows, out):
            if k:
                arg[won] = k
        return arg

    def _nan_arg(self, windows):
        """PyTorch's rule where a window holds NaN: an element wins if it is greater than the running
        maximum or is NaN (so the last NaN wins)."""
        xp = self.xp
        best = windows[0].copy()
        arg = xp.zeros(best.shape, dtype=np.uint8 if len(windows) <= 256 else np.int32)
        for k, win in enumerate(windows[1:], 1):
            better = (win > best) | xp.isnan(win)
            xp.copyto(best, win, where=better)
            arg[better] = k
        return arg

    def backward(self, grad):
        xp = self.xp
        n, c, h, w = self.x4
        (t, b), (lft, r) = self.pads
        _, out = self.saved
        out = out.reshape(n, c, *self.out_hw)
        grad = grad.reshape(out.shape)
        acc = xp.zeros((n, c, h + t + b, w + lft + r), dtype=grad.dtype)
        targets = self._windows(acc)
        if self.arg is None:
            routes = _first_max_masks(self._windows(self.xpad), out)
        else:
            routes = ((k, self.arg == k) for k in range(len(targets)))
        disjoint = all(s >= d * (k - 1) + 1 for s, d, k in zip(self.stride, self.dilation, self.kernel))
        for k, won in routes:
            if disjoint:  # each input element is in at most one window: write, no sums
                xp.multiply(grad, won, out=targets[k])
            else:
                targets[k] += grad * won
        return acc[:, :, t:t + h, lft:lft + w].reshape(self.in_shape)


def _flat_indices(xp, arg, kernel, stride, pad, dilation, in_hw):
    """Winning offsets -> PyTorch's indices: the flat position in each input plane (int64)."""
    kh, kw = kernel
    ho, wo = arg.shape[-2:]
    arg = arg.astype(np.int64)
    rows = xp.arange(ho, dtype=np.int64).reshape(ho, 1) * stride[0] - pad[0] + (arg // kw) * dilation[0]
    cols = xp.arange(wo, dtype=np.int64) * stride[1] - pad[1] + (arg % kw) * dilation[1]
    return rows * in_hw[1] + cols


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, spatial, fn):
    _check_input(input, fn, spatial, floating=False)
    kernel, stride, pad, pads, dilation, x4, out_hw, out_shape = _pool_setup(
        input, kernel_size, stride, padding, dilation, ceil_mode, spatial, fn)
    box = [] if return_indices else None
    want_grad = input.requires_grad and is_grad_enabled()
    out = _MaxPoolFn.apply(input, kernel=kernel, stride=stride, pads=pads, dilation=dilation, x4=x4,
                           out_hw=out_hw, out_shape=out_shape, want_grad=want_grad, box=box)
    if not return_indices:
        return out
    xp = input._device.backend.xp
    flat = _flat_indices(xp, box[0], kernel, stride, pad, dilation, x4[2:]).reshape(out_shape)
    return out, Tensor._make(flat, input._device, None)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    r"""1-d max pooling over (N, C, L) input.

    .. math:: \text{out}[n, c, l] = \max_{0 \le k < K} x_{\text{pad}}[n, c, l \cdot s + k \cdot d]

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)``.
        kernel_size: window length.
        stride: step between windows (default: ``kernel_size``).
        padding: implicit ``-inf`` added on both sides (at most half the window).
        dilation: spacing between window taps.
        ceil_mode: round the output length up, so a partial last window is kept.
        return_indices: also return each maximum's position along L (int64).

    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.max_pool1d(ember.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2).tolist()
    [[[3.0, 5.0]]]
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    r"""2-d max pooling over (N, C, H, W) input.

    .. math::
        \text{out}[n, c, i, j] = \max_{p < k_H,\ q < k_W}
            x_{\text{pad}}[n, c,\ i s_H + p d_H,\ j s_W + q d_W]

    The gradient goes to the one element that was the maximum: the first in row-major order
    within the window when several tie (PyTorch's choice).

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size: an int or ``(kH, kW)``.
        stride: an int or ``(sH, sW)`` (default: ``kernel_size``).
        padding: implicit ``-inf`` on every side (at most half the kernel size).
        dilation: spacing between window taps.
        ceil_mode: round output sizes up (a window must still start inside the input or the
            left/top padding).
        return_indices: also return, for each output, the flat index ``h * W + w`` of its
            maximum in the input plane (int64), as ``max_unpool2d`` expects.

    Returns:
        ``(N, C, H_out, W_out)``, ``H_out = floor((H + 2pH - dH(kH-1) - 1) / sH) + 1``.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> x = ember.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.max_pool2d(x, 2)[0, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


# -- average pooling ----------------------------------------------------------------------


def _divisor(in_hw, kernel, stride, pad, out_hw, count_include_pad, divisor_override, dtype):
    """The number each window's sum is divided by, as an (H_out, W_out) NumPy array."""
    if divisor_override is not None:
        return np.full(out_hw, float(divisor_override), dtype=dtype)
    per_dim = []
    for size, k, s, p, o in zip(in_hw, kernel, stride, pad, out_hw):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, size + p)
        if count_include_pad:
            per_dim.append(end - start)
        else:
            per_dim.append(np.minimum(end, size) - np.maximum(start, 0))
    return np.outer(per_dim[0], per_dim[1]).astype(dtype)


class _AvgPoolFn(Function):
    def forward(self, x, *, kernel, stride, pads, x4, out_hw, out_shape, divisor):
        xp = self.xp
        self.kernel, self.stride, self.pads, self.x4, self.out_hw = kernel, stride, pads, x4, out_hw
        self.in_shape = x.shape
        work = _work_dtype(x.dtype)
        self.divisor = div = xp.asarray(divisor.astype(work))
        xpad = _pad(xp, x.reshape(x4).astype(work, copy=False), pads, 0)
        out = None
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                win = _window(xpad, i, j, out_hw, stride, (1, 1))
                if out is None:
                    out = win.copy()
                else:
                    out += win
        out /= div
        return out.reshape(out_shape).astype(x.dtype, copy=False)

    def backward(self, grad):
        xp = self.xp
        n, c, h, w = self.x4
        (t, b), (lft, r) = self.pads
        g = grad.reshape(n, c, *self.out_hw).astype(self.divisor.dtype, copy=False) / self.divisor
        acc = xp.zeros((n, c, h + t + b, w + lft + r), dtype=g.dtype)
        disjoint = all(s >= k for s, k in zip(self.stride, self.kernel))
        for i in range(self.kernel[0]):
            for j in range(self.kernel[1]):
                view = _window(acc, i, j, self.out_hw, self.stride, (1, 1))
                if disjoint:
                    view[...] = g
                else:
                    view += g
        return acc[:, :, t:t + h, lft:lft + w].reshape(self.in_shape)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, spatial, fn):
    _check_input(input, fn, spatial)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or isinstance(divisor_override, bool) or divisor_override == 0):
        raise ValueError(f"{fn}: divisor_override must be a non-zero int or None, got {divisor_override!r}")
    kernel, stride, pad, pads, _, x4, out_hw, out_shape = _pool_setup(
        input, kernel_size, stride, padding, 1, ceil_mode, spatial, fn)
    divisor = _divisor(x4[2:], kernel, stride, pad, out_hw, count_include_pad, divisor_override, np.float64)
    return _AvgPoolFn.apply(input, kernel=kernel, stride=stride, pads=pads, x4=x4, out_hw=out_hw,
                            out_shape=out_shape, divisor=divisor)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    r"""1-d average pooling over (N, C, L) input.

    .. math:: \text{out}[n, c, l] = \frac{1}{K} \sum_{k < K} x_{\text{pad}}[n, c, l \cdot s + k]

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)``.
        kernel_size: window length.
        stride: step between windows (default: ``kernel_size``).
        padding: zeros added on both sides (at most half the window).
        ceil_mode: round the output length up, so a partial last window is kept.
        count_include_pad: divide by the window length including padded zeros (default) or
            only by the number of real elements.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.avg_pool1d(ember.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2).tolist()
    [[[2.0, 4.0]]]
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    r"""2-d average pooling over (N, C, H, W) input.

    .. math::
        \text{out}[n, c, i, j] = \frac{1}{D_{ij}} \sum_{p < k_H,\ q < k_W} x_{\text{pad}}[n, c, i s_H + p, j s_W + q]

    where ``D`` is the window size (clipped to the padded input), the number of real elements
    in the window (``count_include_pad=False``), or ``divisor_override``.

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        kernel_size: an int or ``(kH, kW)``.
        stride: an int or ``(sH, sW)`` (default: ``kernel_size``).
        padding: zeros on every side (at most half the kernel size).
        ceil_mode: round output sizes up.
        count_include_pad: whether padded zeros count in the divisor.
        divisor_override: divide every window's sum by this instead.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> x = ember.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.avg_pool2d(x, 2)[0, 0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                     "avg_pool2d")


# -- adaptive average pooling -------------------------------------------------------------


def _bins_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size) matrix averaging each of PyTorch's adaptive bins
    ``[floor(i * size / out), ceil((i + 1) * size / out))``."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    pos = np.arange(size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class _AdaptiveAvgPoolFn(Function):
    def forward(self, x, *, x4, out_hw, out_shape):
        xp = self.xp
        self.x4, self.out_hw, self.in_shape = x4, out_hw, x.shape
        n, c, h, w = x4
        ho, wo = out_hw
        dtype = x.dtype
        work = _work_dtype(dtype)
        x = x.reshape(x4).astype(work, copy=False)
        if h % ho == 0 and w % wo == 0:
            self.mats = None
            out = x.reshape(n, c, ho, h // ho, wo, w // wo).mean(axis=(3, 5))
        else:
            self.mats = (xp.asarray(_bins_matrix(h, ho, work)), xp.asarray(_bins_matrix(w, wo, work)))
            ph, pw = self.mats
            out = matmul(matmul(ph, x), pw.T)
        return out.reshape(out_shape).astype(dtype, copy=False)

    def backward(self, grad):
        xp = self.xp
        n, c, h, w = self.x4
        ho, wo = self.out_hw
        grad = grad.reshape(n, c, ho, wo)
        if self.mats is None:
            kh, kw = h // ho, w // wo
            g = grad / (kh * kw)
            out = xp.broadcast_to(g.reshape(n, c, ho, 1, wo, 1), (n, c, ho, kh, wo, kw)).reshape(n, c, h, w)
        else:
            ph, pw = self.mats
            out = matmul(matmul(ph.T, grad.astype(ph.dtype, copy=False)), pw)
        return out.reshape(self.in_shape)


def _adaptive_avg_pool(input, output_size, spatial, fn):
    _check_input(input, fn, spatial)
    if spatial == 1:
        if isinstance(output_size, (tuple, list)) and len(output_size) == 1:
            output_size = output_size[0]
        sizes = (output_size,)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        sizes = tuple(output_size)
    else:
        sizes = (output_size, output_size)
    in_size = tuple(input.shape[-spatial:])
    sizes = tuple(s if v is None else v for v, s in zip(sizes, in_size))
    sizes = _positive(_ntuple(sizes, spatial, "output_size", fn), "output_size", fn)
    x4 = _as_4d(tuple(input.shape), spatial)
    out_hw = (1, *sizes) if spatial == 1 else sizes
    out_shape = (*tuple(input.shape[:-spatial]), *sizes)
    return _AdaptiveAvgPoolFn.apply(input, x4=x4, out_hw=out_hw, out_shape=out_shape)


def adaptive_avg_pool1d(input, output_size):
    r"""1-d adaptive average pooling: ``output_size`` bins whatever the input length.

    Bin ``i`` averages ``x[floor(i L / L_out) : ceil((i + 1) L / L_out)]``.

    Args:
        input: ``(N, C, L)`` or unbatched ``(C, L)``.
        output_size: the output length.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.adaptive_avg_pool1d(ember.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2).tolist()
    [[[2.0, 4.0]]]
    """
    return _adaptive_avg_pool(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input, output_size):
    r"""2-d adaptive average pooling: an ``output_size`` grid of bins whatever the input size.

    .. math::
        \text{out}[n, c, i, j] = \operatorname{mean}\ x[n, c,
            \lfloor iH/H_o \rfloor : \lceil (i+1)H/H_o \rceil,\ \lfloor jW/W_o \rfloor : \lceil (j+1)W/W_o \rceil]

    Args:
        input: ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
        output_size: an int, or ``(H_out, W_out)`` where None keeps that input size.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> x = ember.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.adaptive_avg_pool2d(x, 1).flatten().tolist()
    [7.5]
    """
    return _adaptive_avg_pool(input, output_size, 2, "adaptive_avg_pool2d")
