"""MLX's fused kernels behind ember's primitives.

Each override subclasses the core primitive and keeps its ``forward``/``backward``
signature (see ``Backend.functions``). Forward runs MLX's fused function; backward asks MLX
for the vector-Jacobian product of that same function (``mx.vjp``). MLX is lazy, so the
forward that ``mx.vjp`` re-traces is only computed where the gradient needs it.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
from ember.nn.functional.attention import SDPA
from ember.nn.functional.conv import _ConvFn, _ConvTransposeFn
from ember.nn.functional.normalization import LayerNorm
from ember.nn.functional.pooling import _AvgPoolFn, _MaxPoolFn
from ember.nn.rope import Rotary

from .array import wrap


class _ViaVJP:
    """Forward through an MLX function of arrays; backward through its ``mx.vjp``."""

    def _run(self, fn, *primals):
        self._fn, self._primals = fn, primals
        return fn(*primals)

    def _vjp(self, grad, needs):
        _, grads = mx.vjp(self._fn, list(self._primals), [grad.a])
        return tuple(wrap(g) if need else None for g, need in zip(grads, needs))


class MLXLayerNorm(_ViaVJP, LayerNorm):
    """Layer norm and RMS norm through ``mx.fast.layer_norm`` / ``mx.fast.rms_norm``."""

    def forward(self, x, *params, n, eps, has_weight, has_bias, rms):
        shape = x.shape
        arrays = [p.a.reshape(-1) for p in params]

        def norm(xa, *ps):
            rows = xa.reshape(-1, n)
            w = ps[0] if has_weight else None
            if rms:
                y = mx.fast.rms_norm(rows, w, eps)
            else:
                y = mx.fast.layer_norm(rows, w, ps[-1] if has_bias else None, eps)
            return y.reshape(shape)

        self._shapes = [p.shape for p in params]
        return wrap(self._run(norm, x.a, *arrays))

    def backward(self, grad):
        grads = self._vjp(grad, self.needs_input_grad)
        return (grads[0],) + tuple(None if g is None else g.reshape(s) for g, s in zip(grads[1:], self._shapes))


class MLXAttention(_ViaVJP, SDPA):
    """``mx.fast.scaled_dot_product_attention`` (grouped-query heads included). Dropout on the
    attention weights, or a request for the weights themselves, take the composed path."""

    def forward(self, q, k, v, mask=None, additive=None, causal_offset=None, scale=1.0, dropout_mask=None,
                groups=1, weights_out=None):
        self._composed = dropout_mask is not None or weights_out is not None or (
            mask is not None and additive is not None)
        if self._composed:
            return super().forward(q, k, v, mask, additive, causal_offset, scale, dropout_mask, groups, weights_out)
        l, s = q.shape[-2], k.shape[-2]
        if causal_offset is not None:
            allowed = mx.arange(s)[None, :] <= (mx.arange(l)[:, None] + causal_offset)
            bool_mask = allowed if mask is None else mx.logical_and(allowed, mask.a)
        else:
            bool_mask = None if mask is None else mask.a
        extra = bool_mask if bool_mask is not None else (None if additive is None else additive.a)

        def attend(qa, ka, va):
            return mx.fast.scaled_dot_product_attention(qa, ka, va, scale=scale, mask=extra)

        return wrap(self._run(attend, q.a, k.a, v.a))

    def backward(self, grad):
        if self._composed:
            return super().backward(grad)
        return self._vjp(grad, self.needs_input_grad)


def _conv_nchw(x, w, g):
    """A 2-d convolution of NCHW ``x`` with OIHW ``w`` by ``mx.conv_general``, which works
    channels-last (NHWC and OHWI)."""
    y = mx.conv_general(x.transpose(0, 2, 3, 1), w.transpose(0, 2, 3, 1), stride=list(g.stride),
                        padding=([g.pads[0][0], g.pads[1][0]], [g.pads[0][1], g.pads[1][1]]),
                        kernel_dilation=list(g.dilation), groups=g.groups)
    return y.transpose(0, 3, 1, 2)


class MLXConv(_ViaVJP, _ConvFn):
    """2-d convolution (and 1-d through its height-1 view), bias included."""

    def forward(self, x, w, b=None, *, geometry, x4, w4, y4, out_shape):
        def conv(xa, wa, *ba):
            y = _conv_nchw(xa.reshape(x4), wa.reshape(w4), geometry)
            if ba:
                y = y + ba[0].reshape(1, -1, 1, 1)
            return y.reshape(out_shape)

        return wrap(self._run(conv, *(a.a for a in (x, w, b) if a is not None)))

    def backward(self, grad):
        return self._vjp(grad, self.needs_input_grad)


class MLXConvTranspose(_ViaVJP, _ConvTransposeFn):
    """Transposed convolution: the adjoint in its input of the convolution ``geometry``
    describes, computed as that convolution's vector-Jacobian product."""

    def forward(self, x, w, b=None, *, geometry, x4, w4, y4, out_shape):
        def conv_transpose(xa, wa, *ba):
            zeros = mx.zeros(y4, dtype=xa.dtype)
            _, (y,) = mx.vjp(lambda z: _conv_nchw(z, wa.reshape(w4), geometry), [zeros], [xa.reshape(x4)])
            if ba:
                y = y + ba[0].reshape(1, -1, 1, 1)
            return y.reshape(out_shape)

        return wrap(self._run(conv_transpose, *(a.a for a in (x, w, b) if a is not None)))

    def backward(self, grad):
        return self._vjp(grad, self.needs_input_grad)


def _pool_windows(x, kernel, stride, pads, dilation, out_hw, fill):
    """Every window offset's strided slice of the padded NCHW ``x``: (kh * kw, N, C, Ho, Wo)."""
    (t, b), (lft, r) = pads
    xpad = mx.pad(x, [(0, 0), (0, 0), (t, b), (lft, r)], constant_values=fill) if t or b or lft or r else x
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    return mx.stack([xpad[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
                     for i in range(kernel[0]) for j in range(kernel[1])])


class MLXMaxPool(_MaxPoolFn):
    """Max pooling by a max over the stacked windows. The gradient goes to the first maximum
    of each window (PyTorch's rule for ties), scattered back by the windows' own VJP."""

    def forward(self, x, *, kernel, stride, pads, dilation, x4, out_hw, out_shape, want_grad, box=None):
        floating = mx.issubdtype(x.a.dtype, mx.inexact)
        fill = -float("inf") if floating else (0 if x.a.dtype == mx.bool_ else int(np.iinfo(x.dtype).min))
        self._windows = lambda a: _pool_windows(a.reshape(x4), kernel, stride, pads, dilation, out_hw, fill)
        self._x, self._in_shape = x.a, x.shape
        windows = self._windows(x.a)
        out = mx.max(windows, axis=0)
        if floating:  # NaN wins a window, as in PyTorch
            out = mx.where(mx.any(mx.isnan(windows), axis=0), float("nan"), out)
        self._out = out
        if box is not None:
            box.append(wrap(mx.argmax(self._first_max(windows, out).astype(mx.int32), axis=0).astype(mx.int32)))
        return wrap(out.reshape(out_shape))

    @staticmethod
    def _first_max(windows, out):
        hit = mx.logical_or(windows == out, mx.logical_and(mx.isnan(windows), mx.isnan(out)))
        return mx.logical_and(hit, mx.cumsum(hit.astype(mx.int32), axis=0) == 1)

    def backward(self, grad):
        windows = self._windows(self._x)
        routed = mx.where(self._first_max(windows, self._out), grad.a.reshape(self._out.shape), 0)
        _, (gx,) = mx.vjp(self._windows, [self._x], [routed.astype(windows.dtype)])
        return wrap(gx.reshape(self._in_shape))


class MLXAvgPool(_ViaVJP, _AvgPoolFn):
    """Average pooling: the sum over the stacked windows over each window's divisor."""

    def forward(self, x, *, kernel, stride, pads, x4, out_hw, out_shape, divisor):
        work = mx.float32 if x.a.dtype in (mx.float16, mx.bfloat16) else x.a.dtype
        divisor = mx.array(np.asarray(divisor, dtype=np.float64)).astype(work)

        def avg(xa):
            windows = _pool_windows(xa.reshape(x4).astype(work), kernel, stride, pads, (1, 1), out_hw, 0)
            return (mx.sum(windows, axis=0) / divisor).astype(xa.dtype).reshape(out_shape)

        return wrap(self._run(avg, x.a))

    def backward(self, grad):
        return self._vjp(grad, self.needs_input_grad)


class MLXRotary(_ViaVJP, Rotary):
    """Rotary embedding by ``mx.fast.rope`` when the frequency base is known; otherwise the
    tables' rotation, its halves concatenated (MLX has no writable views)."""

    def forward(self, x, cos, sin, interleaved, base=None, offset=0):
        self.cos, self.sin, self.interleaved, self._fused = cos, sin, interleaved, base is not None
        if not self._fused:
            return wrap(_rotate(x.a, cos.a, sin.a, interleaved))
        dims = 2 * cos.shape[-1]
        return wrap(self._run(lambda a: mx.fast.rope(a, dims, traditional=interleaved, base=base, scale=1.0,
                                                     offset=offset), x.a))

    def backward(self, grad):
        if self._fused:
            return self._vjp(grad, (True,))[0]
        # the transpose of a rotation is the rotation by the opposite angle
        return wrap(_rotate(grad.a, self.cos.a, -self.sin.a, self.interleaved))


def _rotate(x, cos, sin, interleaved: bool):
    rot = 2 * cos.shape[-1]
    if interleaved:
        x1, x2 = x[..., 0:rot:2], x[..., 1:rot:2]
        turned = mx.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).reshape(*x.shape[:-1], rot)
    else:
        half = rot // 2
        x1, x2 = x[..., :half], x[..., half:rot]
        turned = mx.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    if rot < x.shape[-1]:
        turned = mx.concatenate([turned, x[..., rot:]], axis=-1)
    return turned


def _softmax(x, axis):
    return wrap(mx.softmax(x.a, axis=axis, precise=True))


def _log_softmax(x, axis):
    # shift by the max first: x - logsumexp(x) would round x itself when |x| is large
    shifted = x.a - mx.stop_gradient(mx.max(x.a, axis=axis, keepdims=True))
    return wrap(shifted - mx.logsumexp(shifted, axis=axis, keepdims=True))


FUNCTIONS = {LayerNorm: MLXLayerNorm, SDPA: MLXAttention, _ConvFn: MLXConv, _ConvTransposeFn: MLXConvTranspose,
             _MaxPoolFn: MLXMaxPool, _AvgPoolFn: MLXAvgPool, Rotary: MLXRotary}
KERNELS = {"softmax": _softmax, "log_softmax": _log_softmax}
