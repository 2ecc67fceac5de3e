"""Normalisation as fused primitives: layer_norm, rms_norm, batch_norm, group_norm; and normalize.

Each primitive computes its statistics once in forward, keeps the normalised input
x_hat and 1/sigma for backward, and writes the input gradient in one pass:

    dx = (1/sigma) * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)),  g_hat = g * weight

(RMSNorm drops the ``mean(g_hat)`` term). float16/bfloat16 inputs are normalised in float32.
"""

from __future__ import annotations

import math

import numpy as np

from ...autograd.axis_sums import leading_sum, trailing_dot, trailing_sum
from ...autograd.function import Function
from ...host_threads import elementwise, matmul, rows_of, split
from ...tensor import Tensor

__all__ = ["layer_norm", "rms_norm", "batch_norm", "group_norm", "instance_norm", "normalize"]


def _work_dtype(dtype):
    """float32 for half-precision inputs (their statistics need more bits), else the dtype itself."""
    return np.float32 if dtype.itemsize < 4 else dtype


def _dot_reduce(a, b, axes, keepdims=False):
    """sum(a * b) over ``axes`` of 3-D arrays, where ``axes`` is (0, 2) or (2,)."""
    d = trailing_dot(a, b)
    if axes == (0, 2):
        d = d.sum(0)
        return d.reshape(1, -1, 1) if keepdims else d
    return d[..., None] if keepdims else d


def _col_dot(a, b):
    return np.einsum("ij,ij->j", a, b) if isinstance(a, np.ndarray) else (a * b).sum(0)


def _norm_params(shape, weight, bias):
    tensors, flags = [], (weight is not None, bias is not None)
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None:
            if tuple(t.shape) != tuple(shape):
                raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(t.shape)}")
            tensors.append(t)
    return tensors, flags


# -- layer norm and RMS norm: statistics over the trailing dimensions ----------------------


class LayerNorm(Function):
    """Layer norm (``rms=False``) or RMS norm over the last ``n`` elements of each row.

    Forward keeps the input, the row means and 1/sigma (rstd); backward works from them
    without forming x_hat. With xc = x - mean (x itself for RMS norm) and g_hat = g * weight:

        dx = rstd g_hat - rstd mean(g_hat) - xc c,  c = rstd^3 mean(g_hat xc)
        dweight = sum over rows of g xc rstd,  dbias = sum over rows of g

    NOTE: a (4160, 192) activation streams through memory at about 1 ns an element a pass,
    and writing a fresh array costs as much again, so backward fills two arrays in place
    (8 passes instead of 11). Row sums and the weight and bias gradients are matrix-vector
    products (BLAS), several times faster than NumPy's sums over an axis. Walking the rows
    in cache-sized blocks was measured too: no faster, for the calls it adds. On NumPy the
    rows are shared out over ember's threads (:mod:`ember.host_threads`); each thread's
    weight and bias gradients are summed afterwards.
    """

    def forward(self, x, *params, n, eps, has_weight, has_bias, rms):
        xp = self.xp
        work = x.reshape(-1, n).astype(_work_dtype(x.dtype), copy=False)
        rows = work.shape[0]
        mean = None if rms else xp.empty(rows, work.dtype)
        rstd = xp.empty(rows, work.dtype)
        out = xp.empty(work.shape, work.dtype)
        weight = params[0].reshape(-1) if has_weight else None
        bias = params[-1].reshape(-1) if has_bias else None

        def part(s, e):
            w, r, o = rows_of(work, s, e), rows_of(rstd, s, e), rows_of(out, s, e)
            if not rms:
                m = rows_of(mean, s, e)
                m[...] = trailing_sum(w)
                m /= n
                xp.subtract(w, m[:, None], out=o)
            r[...] = trailing_dot(o, o) if not rms else trailing_dot(w, w)
            r /= n
            r += eps
            xp.sqrt(r, out=r)
            xp.reciprocal(r, out=r)
            if rms:
                xp.multiply(w, r[:, None], out=o)
            else:
                o *= r[:, None]
            if weight is not None:
                o *= weight
            if bias is not None:
                o += bias

        split(xp, rows, part, work_per_item=n)
        self.mean, self.rstd, self.n, self.in_shape = mean, rstd, n, x.shape
        self.has_weight, self.has_bias = has_weight, has_bias
        self.param_shape = params[0].shape if params else None
        self.weight = weight
        self.save_for_backward(x)
        if out.dtype != x.dtype:
            out = out.astype(x.dtype)
        return out.reshape(x.shape)

    def backward(self, grad):
        (x,) = self.saved
        xp, n, rstd, mean, weight = self.xp, self.n, self.rstd, self.mean, self.weight
        needs = self.needs_input_grad
        work = x.reshape(-1, n).astype(rstd.dtype, copy=False)
        g = grad.reshape(-1, n)
        if g.dtype != work.dtype:
            g = g.astype(work.dtype)
        want_w = self.has_weight and needs[1]
        want_b = self.has_bias and needs[2 if self.has_weight else 1]
        out = xp.empty(work.shape, work.dtype) if want_w or needs[0] else None
        partial_sums = []  # (gw, gb) of each part's rows

        def part(s, e):
            gs, r, w = rows_of(g, s, e), rows_of(rstd, s, e), rows_of(work, s, e)
            xc = w - rows_of(mean, s, e)[:, None] if mean is not None else w  # RMS norm: not written to
            o = rows_of(out, s, e) if out is not None else None
            gw = gb = None
            if want_w:
                xp.multiply(gs, xc, out=o)
                gw = matmul(r, o)
            if want_b:
                gb = leading_sum(gs, 1)
            partial_sums.append((gw, gb))
            if needs[0]:
                if weight is not None:
                    xp.multiply(gs, weight, out=o)
                else:
                    xp.copyto(o, gs)
                c = trailing_dot(o, xc)
                c *= r * r * r / n
                if mean is None:
                    xc = w * c[:, None]
                else:
                    xc *= c[:, None]
                    m = trailing_sum(o)
                    m *= r / n
                    xc += m[:, None]
                o *= r[:, None]
                o -= xc

        split(xp, work.shape[0], part, work_per_item=n)
        result = [out.reshape(grad.shape) if needs[0] else None]
        if self.has_weight:
            result.append(sum(p[0] for p in partial_sums).reshape(self.param_shape) if want_w else None)
        if self.has_bias:
            result.append(sum(p[1] for p in partial_sums).reshape(self.param_shape) if want_b else None)
        return tuple(result)


def _trailing(input: Tensor, normalized_shape, what: str) -> tuple[tuple[int, ...], int]:
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape[-k:]) != normalized_shape:
        raise ValueError(f"{what}: normalized_shape {normalized_shape} must match the last dimensions of the "
                         f"input, got input of shape {tuple(input.shape)}")
    return normalized_shape, math.prod(normalized_shape)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias over the trailing ``normalized_shape``.

    The variance is the biased one (divided by n), as in PyTorch.

    Args:
        input: (*, *normalized_shape).
        normalized_shape: the trailing dimensions to normalise over.
        weight, bias: of shape ``normalized_shape``, or None.
        eps: added to the variance.

    >>> import ember
    >>> y = layer_norm(ember.tensor([[1.0, 2.0, 3.0]]), (3,))
    >>> [round(v, 4) for v in y.tolist()[0]]
    [-1.2247, 0.0, 1.2247]
    """
    shape, n = _trailing(input, normalized_shape, "layer_norm")
    params, (hw, hb) = _norm_params(shape, weight, bias)
    return LayerNorm.apply(input, *params, n=n, eps=eps, has_weight=hw, has_bias=hb, rms=False)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """y = x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` (Zhang & Sennrich, 2019).

    Args:
        input: (*, *normalized_shape).
        normalized_shape: the trailing dimensions to normalise over.
        weight: of shape ``normalized_shape``, or None.
        eps: added to the mean square; None means the machine epsilon of the input's dtype
            (PyTorch's default).

    >>> import ember
    >>> [round(v, 4) for v in rms_norm(ember.tensor([3.0, 4.0]), (2,)).tolist()]
    [0.8485, 1.1314]
    """
    shape, n = _trailing(input, normalized_shape, "rms_norm")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps) if input._data.dtype.kind == "f" else float(np.finfo(np.float32).eps)
    params, (hw, _) = _norm_params(shape, weight, None)
    return LayerNorm.apply(input, *params, n=n, eps=eps, has_weight=hw, has_bias=False, rms=True)


# -- batch norm and group norm: statistics over (batch, spatial) and (channel group, spatial) --


def _channel_norm_backward(self, grad, group_shape):
    """Shared backward of batch/group norm. ``xhat`` is (N, C, L); statistics were taken
    over ``self.axes`` of the (possibly regrouped) view ``group_shape``."""
    (xhat,) = self.saved
    needs = self.needs_input_grad
    g = grad.reshape(xhat.shape)
    if g.dtype != xhat.dtype:
        g = g.astype(xhat.dtype)
    out = [None]
    if needs[0]:
        ghat = g * self.weight[:, None] if self.weight is not None else g.copy()
        if self.stats_are_constants:  # eval-mode batch norm: a per-channel affine map
            ghat *= self.rstd.reshape(1, -1, 1)
            out[0] = ghat.reshape(grad.shape)
        else:
            gv = ghat.reshape(group_shape)
            xv = xhat.reshape(group_shape)
            axes, count = self.axes, self.count
            c2 = gv.sum(axis=axes, keepdims=True) / count
            c1 = _dot_reduce(gv, xv, axes, keepdims=True) / count
            gv -= c2
            gv -= xv * c1
            gv *= self.rstd_view
            out[0] = gv.reshape(grad.shape)
    i = 1
    if self.has_weight:
        out.append(_dot_reduce(g, xhat, (0, 2)) if needs[i] else None)
        i += 1
    if self.has_bias:
        out.append(g.sum(axis=(0, 2)) if needs[i] else None)
    return tuple(out)


def _affine_channels(xhat, weight, bias):
    out = xhat * weight[:, None] if weight is not None else (xhat.copy() if bias is not None else xhat)
    if bias is not None:
        out += bias[:, None]
    return out


#: Batch norm's elementwise passes split over ember's threads in parts of at least this many
#: elements: at 2^17 a part, the hand-offs cost a (32, 128, 8, 8) batch norm more than they saved.
_BATCH_NORM_PART = 1 << 18


def _scale_shift(xp, a, scale=None, shift=None):
    """``a * scale + shift`` with per-channel ``scale`` and ``shift`` (either may be None); on
    NumPy split over ember's threads by rows of ``a`` (:func:`ember.host_threads.elementwise`)."""
    if xp is not np:
        out = a if scale is None else a * scale
        return out if shift is None else out + shift

    def rows(a_rows, out):
        if scale is None:
            np.add(a_rows, shift, out=out)
        else:
            np.multiply(a_rows, scale, out=out)
            if shift is not None:
                out += shift
    return elementwise(rows, a, a, minimum=_BATCH_NORM_PART)


def _input_grad(xp, g, centered, scale, x_factor=None, shift=None):
    """``g * scale - centered * x_factor - shift`` with per-channel factors (``x_factor`` and
    ``shift`` None: ``g * scale``); on NumPy split over ember's threads by rows of ``g``."""
    if xp is not np:
        gx = g * scale
        if x_factor is not None:
            gx -= centered * x_factor
            gx -= shift
        return gx

    def rows(g_rows, c_rows, out):
        np.multiply(g_rows, scale, out=out)
        if x_factor is not None:
            out -= c_rows * x_factor
            out -= shift
    return elementwise(rows, g, g, centered, minimum=_BATCH_NORM_PART)


class _ChannelsView:
    """How batch norm sees its input ``x`` (N, C, *): as the 2-d or 3-d array it reduces over
    every axis but the channels of, in the input's own memory layout.

    * channels-last (an (N, C) input, or a channels-last convolution output): the (rows, C)
      matrix, folded into a (rows/k, k*C) view with ``k*C`` near 1024 (k a power of two that
      divides rows), so that per-channel sums and broadcasts run over long contiguous rows
      instead of C-long ones; per-channel vectors are tiled k times;
    * otherwise (N, C, L), reduced over axes (0, 2).
    """

    def __init__(self, x):
        n, c = x.shape[:2]
        self.c, self.k = c, 1
        last = x if x.ndim == 2 else x.transpose(0, *range(2, x.ndim), 1)
        flags = getattr(last, "flags", None)
        self.rows = x.ndim == 2 or (flags is not None and flags.c_contiguous)
        if self.rows:
            m = x.size // c if c else 0
            while m % (2 * self.k) == 0 and 2 * self.k * c <= 1024:
                self.k *= 2
            self.shape, self.axes = (m // self.k, self.k * c), (0,)
        else:
            self.shape, self.axes = (n, c, x.size // max(n * c, 1)), (0, 2)

    def view(self, xp, a):
        """``a`` (shaped like the input) in this layout: a view, or a copy if its layout differs."""
        if self.rows and a.ndim > 2:
            a = xp.ascontiguousarray(a.transpose(0, *range(2, a.ndim), 1))
        return a.reshape(self.shape)

    def unview(self, v, shape):
        """The inverse of :meth:`view`: ``v`` as an array of ``shape`` (a view)."""
        if not self.rows or len(shape) == 2:
            return v.reshape(shape)
        nd = len(shape)
        return v.reshape(shape[0], *shape[2:], shape[1]).transpose(0, nd - 1, *range(1, nd - 1))

    def per_channel(self, xp, vec):
        """A (C,) vector shaped to broadcast against this view."""
        return xp.tile(vec, self.k).reshape(1, -1) if self.rows else vec.reshape(1, -1, 1)

    def sum(self, v):
        """Per-channel sum of ``v`` (in the rows layout a column sum: BLAS's ``ones @ v`` on NumPy)."""
        s = leading_sum(v, 1) if self.rows else v.sum(axis=self.axes)
        return s.reshape(self.k, self.c).sum(0) if self.k > 1 else s

    def dot(self, a, b):
        """Per-channel sum of ``a * b``, without the product where the namespace allows."""
        if not self.rows:
            return _dot_reduce(a, b, self.axes)
        s = _col_dot(a, b)
        return s.reshape(self.k, self.c).sum(0) if self.k > 1 else s


class BatchNorm(Function):
    """Batch norm over every axis but the channels. The statistics are taken on the input's
    own memory layout (see :class:`_ChannelsView`), and the output keeps that layout."""

    def forward(self, x, *params, running_mean, running_var, training, momentum, eps, has_weight, has_bias):
        xp = self.xp
        lay = _ChannelsView(x)
        work = lay.view(xp, x).astype(_work_dtype(x.dtype), copy=False)
        count = x.size // lay.c
        if training:
            mean = lay.sum(work) / count
            centered = _scale_shift(xp, work, shift=-lay.per_channel(xp, mean))
            var = lay.dot(centered, centered) / count
            rstd = 1.0 / xp.sqrt(var + eps)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += (momentum * mean).astype(running_mean.dtype)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * var * (count / max(count - 1, 1))).astype(running_var.dtype)
        else:
            rstd = 1.0 / xp.sqrt(running_var.astype(work.dtype) + eps)
            centered = _scale_shift(xp, work, shift=-lay.per_channel(xp, running_mean.astype(work.dtype)))
        weight = params[0] if has_weight else None
        bias = params[-1] if has_bias else None
        if weight is not None and weight.dtype != centered.dtype:
            weight = weight.astype(centered.dtype)
        self.weight, self.has_weight, self.has_bias = weight, has_weight, has_bias
        self.training, self.rstd, self.layout, self.count = training, rstd, lay, count
        # x_hat = centered * rstd is never formed: rstd is folded into per-channel factors.
        self.save_for_backward(centered)
        shift = None if bias is None else lay.per_channel(xp, bias.astype(centered.dtype, copy=False))
        out = _scale_shift(xp, centered, lay.per_channel(xp, rstd if weight is None else weight * rstd), shift)
        return lay.unview(out.astype(x.dtype, copy=False), x.shape)

    def backward(self, grad):
        """dx = w/sigma * (g - mean(g) - x_hat * mean(g * x_hat)); in eval mode dx = w/sigma * g."""
        (centered,) = self.saved
        xp, lay, needs, rstd = self.xp, self.layout, self.needs_input_grad, self.rstd
        g = lay.view(xp, grad)
        if g.dtype != centered.dtype:
            g = g.astype(centered.dtype)
        scale = rstd if self.weight is None else self.weight * rstd   # w / sigma, per channel
        want_w = self.has_weight and needs[1]
        want_b = self.has_bias and needs[-1]
        sum_g = lay.sum(g) if want_b or (needs[0] and self.training) else None
        sum_gx = lay.dot(g, centered) * rstd if want_w or (needs[0] and self.training) else None   # sum(g * x_hat)
        gx = None
        if needs[0]:
            x_factor = shift = None  # eval mode: dx = w/sigma * g
            if self.training:
                x_factor = lay.per_channel(xp, scale * rstd * sum_gx / self.count)
                shift = lay.per_channel(xp, scale * sum_g / self.count)
            gx = lay.unview(_input_grad(xp, g, centered, lay.per_channel(xp, scale), x_factor, shift), grad.shape)
        out = [gx]
        if self.has_weight:
            out.append(sum_gx if want_w else None)
        if self.has_bias:
            out.append(sum_g if want_b else None)
        return tuple(out)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalise each channel over the batch (and spatial) dimensions (Ioffe & Szegedy, 2015).

    In training, y = (x - mean_B) / sqrt(var_B + eps) * weight + bias with the batch's
    (biased) statistics, and the running statistics are updated in place:
    ``running = (1 - momentum) * running + momentum * stat`` with the *unbiased* batch
    variance, as in PyTorch. Otherwise the running statistics are used.

    Args:
        input: (N, C) or (N, C, *spatial).
        running_mean, running_var: (C,) tensors, or None (then ``training`` must be True).
        weight, bias: (C,) or None.
        training: use (and update) batch statistics.
        momentum: the running statistics' update factor.
        eps: added to the variance.

    >>> import ember
    >>> x = ember.tensor([[1.0], [3.0]])
    >>> [round(v[0], 4) for v in batch_norm(x, None, None, training=True).tolist()]
    [-1.0, 1.0]
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, *), got {tuple(input.shape)}")
    c = input.shape[1]
    if training:
        count = input.numel() // c if c else 0
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"of shape {tuple(input.shape)}")
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
    for t, name in ((running_mean, "running_mean"), (running_var, "running_var")):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},), got {tuple(t.shape)}")
    params, (hw, hb) = _norm_params((c,), weight, bias)
    rm = running_mean._data if running_mean is not None else None
    rv = running_var._data if running_var is not None else None
    out = BatchNorm.apply(input, *params, running_mean=rm, running_var=rv, training=training,
                          momentum=momentum, eps=eps, has_weight=hw, has_bias=hb)
    if training:
        for t in (running_mean, running_var):
            if t is not None:
                t._bump_version()
    return out


class GroupNorm(Function):
    def forward(self, x, *params, groups, eps, has_weight, has_bias):
        xp = self.xp
        n, c = x.shape[0], x.shape[1]
        work = x.reshape(n, groups, -1).astype(_work_dtype(x.dtype), copy=False)
        count = work.shape[2]
        xhat = work - work.mean(axis=2, keepdims=True)
        var = _dot_reduce(xhat, xhat, (2,), keepdims=True) / count
        rstd = 1.0 / xp.sqrt(var + eps)
        xhat *= rstd
        xhat = xhat.reshape(n, c, -1)
        self.weight = params[0] if has_weight else None
        bias = params[-1] if has_bias else None
        if self.weight is not None and self.weight.dtype != xhat.dtype:
            self.weight = self.weight.astype(xhat.dtype)
        self.has_weight, self.has_bias, self.stats_are_constants = has_weight, has_bias, False
        self.rstd_view, self.axes, self.count = rstd, (2,), count
        self.group_shape = (n, groups, count)
        self.save_for_backward(xhat)
        out = _affine_channels(xhat, self.weight, bias)
        return out.astype(x.dtype, copy=False).reshape(x.shape)

    def backward(self, grad):
        return _channel_norm_backward(self, grad, self.group_shape)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each group of ``C / num_groups`` channels (and all spatial positions) of
    each sample, then apply a per-channel affine map (Wu & He, 2018).

    Args:
        input: (N, C, *).
        num_groups: must divide C.
        weight, bias: (C,) or None.
        eps: added to the variance.

    >>> import ember
    >>> [round(v, 4) for v in group_norm(ember.tensor([[1.0, 3.0]]), 1).tolist()[0]]
    [-1.0, 1.0]
    """
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *), got {tuple(input.shape)}")
    c = input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} must divide the number of channels {c}")
    params, (hw, hb) = _norm_params((c,), weight, bias)
    return GroupNorm.apply(input, *params, groups=num_groups, eps=eps, has_weight=hw, has_bias=hb)


def instance_norm(input: Tensor, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample over its spatial positions (group norm with C groups)."""
    return group_norm(input, input.shape[1], weight, bias, eps)


class Normalize(Function):
    def forward(self, x, p, dim, eps):
        xp = self.xp
        ax = xp.abs(x)
        norm = xp.sqrt((x * x).sum(dim, keepdims=True)) if p == 2 else (ax ** p).sum(dim, keepdims=True) ** (1.0 / p)
        denom = xp.maximum(norm, eps)
        self.p, self.dim, self.norm, self.denom, self.clipped = p, dim, norm, denom, norm <= eps
        self.save_for_backward(x)
        return x / denom

    def backward(self, grad):
        (x,) = self.saved
        xp, p, denom = self.xp, self.p, self.denom
        gx = grad / denom
        proj = (grad * x).sum(self.dim, keepdims=True) / (denom * denom)
        safe = xp.where(self.clipped, 1.0, self.norm)
        dnorm = x / safe if p == 2 else xp.sign(x) * (xp.abs(x) / safe) ** (p - 1)
        gx -= xp.where(self.clipped, 0.0, proj) * dnorm
        return gx


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``.

    >>> import ember
    >>> [round(v, 4) for v in normalize(ember.tensor([[3.0, 4.0]])).tolist()[0]]
    [0.6, 0.8]
    """
    if p <= 0:
        raise ValueError(f"normalize: p must be positive, got {p}")
    return Normalize.apply(input, p=float(p), dim=dim % input.ndim if input.ndim else 0, eps=eps)
