"""Loss functions, each one fused primitive with its reduction built in.

``cross_entropy`` never forms log-probabilities as a graph: forward computes the shifted
logits z = x - max(x) once, exponentiates them in place and keeps the softmax for
backward, whose gradient is softmax - target. It is finite for logits of any magnitude.

Every loss takes ``reduction`` = ``"mean"`` (default), ``"sum"`` or ``"none"``. Class
weights and ``pos_weight`` are constants (no gradient flows into them).
"""

from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...host_threads import binary, rows_of, split
from ...tensor import Tensor

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_similarity"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {', '.join(repr(r) for r in allowed)}, got {reduction!r}")


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def _work_dtype(dtype):
    return np.float32 if dtype.itemsize < 4 else dtype


def _const(t, like: Tensor, what: str):
    """A weight-like argument as a backend array of ``like``'s dtype (or None)."""
    if t is None:
        return None
    if isinstance(t, Tensor):
        if t._device is not like._device:
            raise RuntimeError(f"{what} is on {t._device} but the input is on {like._device}")
        data = t._data
    else:
        data = like._device.backend.asarray(t, None, like._device.index or 0)
    return data.astype(_work_dtype(like._data.dtype), copy=False)


def _scalar(xp, value, dtype):
    return xp.asarray(value, dtype=dtype)


# -- cross-entropy and NLL: class dimension 1 -----------------------------------------------


def _index_target(target: Tensor, out_shape, c: int, ignore_index: int, what: str):
    if tuple(target.shape) != tuple(out_shape):
        raise ValueError(f"{what}: expected class-index target of shape {tuple(out_shape)}, got "
                         f"{tuple(target.shape)}")
    y = target._data.reshape(out_shape[0] if out_shape else 1, -1)
    valid = y != ignore_index
    # One test, so one wait for the device on a GPU; the offending value is looked up only on failure.
    out_of_bounds = ((y < 0) | (y >= c)) & valid
    if y.size and bool(out_of_bounds.any()):
        ys = y[out_of_bounds]
        bad = int(ys.min()) if int(ys.min()) < 0 else int(ys.max())
        raise IndexError(f"{what}: target {bad} is out of bounds for {c} classes "
                         f"(valid: 0..{c - 1}, or ignore_index={ignore_index})")
    return target._device.backend.xp.where(valid, y, 0), valid


def _shape3(shape):
    return (1, shape[0], 1) if len(shape) == 1 else (shape[0], shape[1], -1)


class CrossEntropy(Function):
    """Softmax cross-entropy over dim 1 of input viewed as (N, C, L), with class-index
    targets (``y``, ``valid`` arrays of shape (N, L)) or a probability target tensor."""

    def forward(self, x, *prob_target, y=None, valid=None, weight=None, smoothing=0.0, reduction="mean",
                out_shape=()):
        xp = self.xp
        dtype = _work_dtype(x.dtype)
        self.x_shape, self.reduction, self.weight, self.smoothing = x.shape, reduction, weight, smoothing
        x3 = x.reshape(_shape3(x.shape)).astype(dtype, copy=False)
        n, c, l = x3.shape
        wcol = None if weight is None else weight.reshape(1, c, 1)
        self.probs_target = bool(prob_target)
        if self.probs_target:
            m = x3.max(axis=1, keepdims=True)
            z = x3 - m
            t = prob_target[0].reshape(x3.shape).astype(dtype, copy=False)
            if smoothing:
                t = t * (1 - smoothing) + smoothing / c
            wt = t * wcol if wcol is not None else t
            total = wt.sum(axis=1)  # (N, L): sum_c w_c t_c
            tz = (wt * z).sum(axis=1)
            e = xp.exp(z, out=z)
            s = e.sum(axis=1)
            e /= s[:, None, :]
        else:
            e, s, zy, sz = _softmax_picking(xp, x3, y, wcol if smoothing else None, smoothing)
        lse = xp.log(s)
        self.p = e  # the softmax, all backward needs
        if self.probs_target:
            # loss = -sum_c w_c t_c (z_c - lse)
            loss = lse * total - tz
            self.total, self.wt, self.m_lse = total, wt, m[:, 0, :] + lse
            self.save_for_backward(x)
            self.coef = 1.0 / loss.size if reduction == "mean" else 1.0
            if reduction == "none":
                return loss.astype(x.dtype, copy=False).reshape(out_shape)
            return _scalar(xp, loss.sum() * self.coef, x.dtype)
        # class-index targets: loss = (1 - eps) w_y (lse - z_y) + eps/C (W lse - sum_c w_c z_c)
        self.y, self.valid = y, valid
        wy = valid.astype(dtype) if weight is None else weight[y] * valid
        nll = (lse - zy) * wy
        self.wy = wy
        self.wsum = float(c) if weight is None else float(weight.sum())
        smooth = (lse * self.wsum - sz) * valid if smoothing else None
        if reduction == "mean":
            # both terms are averaged over the summed weights of the counted targets (their number
            # without class weights); no counted target gives NaN, as in PyTorch
            denom = float(wy.sum())
            inv = 1.0 / denom if denom else float("nan")
            self.a, self.b = (1 - smoothing) * inv, smoothing / c * inv
            total = nll.sum() * self.a
            if smoothing:
                total += smooth.sum() * self.b
            return _scalar(xp, total, x.dtype)
        self.a, self.b = 1 - smoothing, smoothing / c
        loss = nll * self.a if smoothing else nll
        if smoothing:
            loss += smooth * self.b
        if reduction == "sum":
            return _scalar(xp, loss.sum(), x.dtype)
        return loss.astype(x.dtype, copy=False).reshape(out_shape)

    def backward(self, grad):
        xp = self.xp
        p = self.p
        n, c, l = p.shape
        g = grad.reshape(n, l) if self.reduction == "none" else grad
        g = g.astype(p.dtype, copy=False)
        wcol = None if self.weight is None else self.weight.reshape(1, c, 1)
        if self.probs_target:
            g = g * self.coef
            gcol = g[:, None, :] if self.reduction == "none" else g
            gx = gt = None
            if self.needs_input_grad[0]:
                gx = p * (self.total * g)[:, None, :] if self.reduction == "none" else p * (self.total[:, None, :] * g)
                gx -= self.wt * gcol
                gx = gx.reshape(self.x_shape)
            if self.needs_input_grad[1]:
                (x,) = self.saved
                logp = x.reshape(p.shape).astype(p.dtype, copy=False) - self.m_lse[:, None, :]
                gt = logp * wcol if wcol is not None else logp
                gt *= -(1 - self.smoothing) * gcol
                gt = gt.reshape(self.x_shape)
            return gx, gt
        # d loss_i / d x_c = a_i (p_c W' - [c == y]) with the weights folded in:
        #   a_i w_y (p_c - [c == y]) + b_i (W p_c - w_c)
        a = self.wy * (g * self.a)
        if self.smoothing:
            b = self.valid * (g * self.b)
            gx = p * (a + b * self.wsum)[:, None, :]
            gx -= b[:, None, :] * wcol if wcol is not None else b[:, None, :]
        else:
            gx = binary(np.multiply, p, a[:, None, :])
        yi = self.y[:, None, :]
        picked = xp.take_along_axis(gx, yi, axis=1)
        picked -= a[:, None, :]
        xp.put_along_axis(gx, yi, picked, axis=1)
        return gx.reshape(self.x_shape)


def _softmax_picking(xp, x3, y, wcol, smoothing):
    """Softmax over dim 1 of (N, C, L) logits, computed as e^(x - max) / sum, with what the loss
    picks from the shifted logits z = x - max first: z at the targets ``y`` and, with label
    smoothing, sum_c w_c z_c. Returns (softmax, sum, z_y, sum_c w_c z_c or None); on NumPy the
    rows are shared out over ember's threads."""
    n, c, l = x3.shape
    e = xp.empty(x3.shape, x3.dtype)
    s, zy = xp.empty((n, l), x3.dtype), xp.empty((n, l), x3.dtype)
    sz = xp.empty((n, l), x3.dtype) if smoothing else None

    def part(lo, hi):
        xs, es = rows_of(x3, lo, hi), rows_of(e, lo, hi)
        xp.subtract(xs, xs.max(axis=1, keepdims=True), out=es)
        rows_of(zy, lo, hi)[...] = xp.take_along_axis(es, rows_of(y, lo, hi)[:, None, :], axis=1)[:, 0, :]
        if smoothing:
            rows_of(sz, lo, hi)[...] = es.sum(axis=1) if wcol is None else (es * wcol).sum(axis=1)
        xp.exp(es, out=es)
        ss = rows_of(s, lo, hi)
        ss[...] = es.sum(axis=1)
        es /= ss[:, None, :]

    split(xp, n, part, work_per_item=c * l)
    return e, s, zy, sz


def _class_count(input: Tensor, what: str) -> tuple[int, tuple]:
    """The number of classes (dim 1, or dim 0 of a 1-D input) and the per-target shape."""
    if input.ndim == 0:
        raise ValueError(f"{what}: input must have a class dimension, got a 0-d tensor")
    if input.ndim == 1:
        return input.shape[0], ()
    return input.shape[1], (input.shape[0], *input.shape[2:])


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy between logits and class indices or class probabilities.

    With class-index targets y, loss_i = -w_y log softmax(x_i)_y, and ``label_smoothing``
    eps replaces the one-hot target by (1 - eps) one_hot + eps / C; ``"mean"`` divides by
    the summed weights of the targets that are not ``ignore_index``. With probability
    targets t (shaped like the input), loss_i = -sum_c w_c t_c log softmax(x_i)_c and
    ``"mean"`` divides by the number of samples. One fused primitive: finite for logits
    of any magnitude, gradient softmax - target.

    Args:
        input: logits (C,), (N, C) or (N, C, d1, ...): the class dimension is 1.
        target: class indices () / (N,) / (N, d1, ...), or probabilities shaped like input.
        weight: (C,) class weights.
        ignore_index: a target value that contributes nothing (index targets only).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        label_smoothing: eps in [0, 1].

    >>> import ember
    >>> logits = ember.tensor([[1e4, 0.0], [0.0, 1e4]])
    >>> cross_entropy(logits, ember.tensor([1, 1])).item()
    5000.0
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if input._data.dtype.kind not in "fV":
        raise TypeError(f"cross_entropy: input must be floating-point logits, got {input.dtype}")
    c, out_shape = _class_count(input, "cross_entropy")
    w = _const(weight, input, "weight")
    if w is not None and w.shape != (c,):
        raise ValueError(f"cross_entropy: weight must have shape ({c},), got {tuple(w.shape)}")
    params = dict(weight=w, smoothing=float(label_smoothing), reduction=reduction, out_shape=out_shape)
    if target._data.dtype.kind in "fV":
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(f"cross_entropy: probability targets must have the input's shape {tuple(input.shape)}, "
                             f"got {tuple(target.shape)} (class-index targets must be an integer tensor)")
        if target._data.dtype != input._data.dtype:
            target = target.to(input.dtype)
        return CrossEntropy.apply(input, target, **params)
    if target._data.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must be integer class indices or float probabilities, "
                        f"got {target.dtype}")
    y, valid = _index_target(target, out_shape, c, ignore_index, "cross_entropy")
    return CrossEntropy.apply(input, y=y, valid=valid, **params)


class NLLLoss(Function):
    """loss_i = -w_{y_i} x_{i, y_i} over dim 1 of input viewed as (N, C, L)."""

    def forward(self, x, y=None, valid=None, weight=None, reduction="mean", out_shape=()):
        xp = self.xp
        x3 = x.reshape(_shape3(x.shape))
        picked = xp.take_along_axis(x3, y[:, None, :], axis=1)[:, 0, :]
        wy = (weight[y] * valid).astype(x.dtype, copy=False) if weight is not None else valid.astype(x.dtype)
        loss = -picked * wy
        self.y, self.wy, self.reduction, self.x_shape, self.shape3 = y, wy, reduction, x.shape, x3.shape
        if reduction == "mean":
            denom = float(wy.sum())
            self.denom = denom if denom else float("nan")
            return _scalar(xp, loss.sum() / self.denom, x.dtype)
        if reduction == "sum":
            return _scalar(xp, loss.sum(), x.dtype)
        return loss.reshape(out_shape)

    def backward(self, grad):
        xp = self.xp
        n, _, l = self.shape3
        g = grad.reshape(n, l) if self.reduction == "none" else (grad / self.denom if self.reduction == "mean" else grad)
        gx = xp.zeros(self.shape3, dtype=grad.dtype)
        xp.put_along_axis(gx, self.y[:, None, :], (-(g * self.wy)).astype(grad.dtype, copy=False)[:, None, :], axis=1)
        return gx.reshape(self.x_shape)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities: -w_y input[y].

    Args:
        input: log-probabilities (C,), (N, C) or (N, C, d1, ...).
        target: class indices () / (N,) / (N, d1, ...).
        weight: (C,) class weights.
        ignore_index: a target value that contributes nothing.
        reduction: ``"mean"`` (divides by the summed weights of counted targets), ``"sum"`` or ``"none"``.

    >>> import ember
    >>> nll_loss(ember.tensor([[-0.5, -2.0]]), ember.tensor([1])).item()
    2.0
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    c, out_shape = _class_count(input, "nll_loss")
    w = _const(weight, input, "weight")
    if w is not None and w.shape != (c,):
        raise ValueError(f"nll_loss: weight must have shape ({c},), got {tuple(w.shape)}")
    if target._data.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must be integer class indices, got {target.dtype}")
    y, valid = _index_target(target, out_shape, c, ignore_index, "nll_loss")
    return NLLLoss.apply(input, y=y, valid=valid, weight=w, reduction=reduction, out_shape=out_shape)


# -- pointwise losses ---------------------------------------------------------------------


def _reduce(xp, loss, reduction, dtype):
    if reduction == "none":
        return loss.astype(dtype, copy=False)
    if reduction == "sum":
        return _scalar(xp, loss.sum(), dtype)
    return _scalar(xp, loss.mean() if loss.size else xp.nan, dtype)


def _upstream(grad, reduction, size):
    return grad / size if reduction == "mean" else grad


class PointwiseLoss(Function):
    """mse / l1 / smooth_l1 / huber of d = input - target, reduced."""

    def forward(self, x, t, kind, beta, reduction):
        xp = self.xp
        d = x - t
        if kind == "mse":
            loss = d * d
        elif kind == "l1" or (kind in ("smooth_l1", "huber") and beta == 0):
            loss = xp.abs(d)
        else:
            ad = xp.abs(d)
            small = ad < beta
            if kind == "smooth_l1":
                loss = xp.where(small, 0.5 * d * d / beta, ad - 0.5 * beta)
            else:
                loss = xp.where(small, 0.5 * d * d, beta * (ad - 0.5 * beta))
        self.d, self.kind, self.beta, self.reduction, self.size = d, kind, beta, reduction, loss.size
        return _reduce(xp, loss, reduction, x.dtype)

    def backward(self, grad):
        xp, d, beta = self.xp, self.d, self.beta
        g = _upstream(grad, self.reduction, self.size)
        if self.kind == "mse":
            local = d * 2
        elif self.kind == "l1" or beta == 0:
            local = xp.sign(d)
        elif self.kind == "smooth_l1":
            local = xp.where(xp.abs(d) < beta, d / beta, xp.sign(d))
        else:
            local = xp.where(xp.abs(d) < beta, d, beta * xp.sign(d))
        gx = local * g
        return (gx if self.needs_input_grad[0] else None), (-gx if self.needs_input_grad[1] else None)


def _pointwise(input, target, kind, beta, reduction, what):
    _check_reduction(reduction)
    from ...ops._operands import operands

    if not isinstance(target, Tensor):
        raise TypeError(f"{what}: target must be a Tensor, got {type(target).__name__}")
    x, t = operands(input, target)
    if x._data.dtype.kind not in "fV":
        raise TypeError(f"{what}: expected floating-point input, got {x.dtype}")
    try:
        np.broadcast_shapes(tuple(x.shape), tuple(t.shape))
    except ValueError:
        raise ValueError(f"{what}: input of shape {tuple(x.shape)} and target of shape {tuple(t.shape)} "
                         "do not broadcast") from None
    return PointwiseLoss.apply(x, t, kind=kind, beta=beta, reduction=reduction)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced.

    >>> import ember
    >>> mse_loss(ember.tensor([1.0, 3.0]), ember.tensor([0.0, 0.0])).item()
    5.0
    """
    return _pointwise(input, target, "mse", 0.0, _legacy_reduction(size_average, reduce, reduction), "mse_loss")


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced.

    >>> import ember
    >>> l1_loss(ember.tensor([1.0, -3.0]), ember.tensor([0.0, 0.0])).item()
    2.0
    """
    return _pointwise(input, target, "l1", 0.0, _legacy_reduction(size_average, reduce, reduction), "l1_loss")


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target), reduced.

    >>> import ember
    >>> smooth_l1_loss(ember.tensor([0.5, 3.0]), ember.tensor([0.0, 0.0]), reduction="sum").item()
    2.625
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _pointwise(input, target, "smooth_l1", float(beta), _legacy_reduction(size_average, reduce, reduction),
                      "smooth_l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target), reduced.

    >>> import ember
    >>> huber_loss(ember.tensor([0.5, 3.0]), ember.tensor([0.0, 0.0]), reduction="sum", delta=2.0).item()
    4.125
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise(input, target, "huber", float(delta), reduction, "huber_loss")


class BinaryCrossEntropy(Function):
    """-w (t log x + (1 - t) log(1 - x)), with the logs clamped at -100 as in PyTorch."""

    def forward(self, x, t, weight, reduction):
        xp = self.xp
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped next
            log_x = xp.maximum(xp.log(x), -100.0)
            log_1mx = xp.maximum(xp.log1p(-x), -100.0)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if weight is not None:
            loss = loss * weight
        self.save_for_backward(x, t)
        self.log_x, self.log_1mx, self.weight = log_x, log_1mx, weight
        self.reduction, self.size = reduction, loss.size
        return _reduce(xp, loss, reduction, x.dtype)

    def backward(self, grad):
        x, t = self.saved
        xp = self.xp
        g = _upstream(grad, self.reduction, self.size)
        if self.weight is not None:
            g = g * self.weight
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = g * (x - t) / xp.maximum((1 - x) * x, 1e-12)
        if self.needs_input_grad[1]:
            gt = g * (self.log_1mx - self.log_x)
        return gx, gt


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x in [0, 1], reduced.

    Prefer :func:`binary_cross_entropy_with_logits` on logits: it is stable where this is not.

    >>> import ember
    >>> round(binary_cross_entropy(ember.tensor([0.5]), ember.tensor([1.0])).item(), 4)
    0.6931
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy: target of shape {tuple(target.shape)} must have the input's "
                         f"shape {tuple(input.shape)}")
    data = input._data
    if data.size and (float(data.min()) < 0 or float(data.max()) > 1):
        raise ValueError("binary_cross_entropy: input values must be probabilities in [0, 1] "
                         "(for logits use binary_cross_entropy_with_logits)")
    if target._data.dtype != input._data.dtype:
        target = target.to(input.dtype)
    return BinaryCrossEntropy.apply(input, target, weight=_const(weight, input, "weight"), reduction=reduction)


class BCEWithLogits(Function):
    """(1 - t) x + (1 + (pw - 1) t) softplus(-x), computed without overflow."""

    def forward(self, x, t, weight, pos_weight, reduction):
        xp = self.xp
        e = xp.abs(x)
        xp.negative(e, out=e)
        xp.exp(e, out=e)  # e^-|x|, kept for backward
        sp_neg = xp.log1p(e)
        sp_neg += xp.maximum(-x, 0)  # softplus(-x) = -log sigmoid(x)
        self.e = e
        if pos_weight is not None:
            lw = 1 + (pos_weight - 1) * t
            loss = (1 - t) * x + lw * sp_neg
        else:
            lw = None
            loss = (1 - t) * x + sp_neg
        if weight is not None:
            loss = loss * weight
        self.save_for_backward(x, t)
        self.sp_neg, self.lw, self.weight, self.pos_weight = sp_neg, lw, weight, pos_weight
        self.reduction, self.size = reduction, loss.size
        return _reduce(xp, loss, reduction, x.dtype)

    def backward(self, grad):
        x, t = self.saved
        xp = self.xp
        g = _upstream(grad, self.reduction, self.size)
        if self.weight is not None:
            g = g * self.weight
        gx = gt = None
        if self.needs_input_grad[0]:
            e = self.e
            sig_neg = xp.where(x >= 0, e, 1)
            sig_neg /= 1 + e  # sigmoid(-x)
            lw = self.lw if self.lw is not None else 1.0
            gx = g * ((1 - t) - lw * sig_neg)
        if self.needs_input_grad[1]:
            local = -x if self.pos_weight is None else -x + (self.pos_weight - 1) * self.sp_neg
            gt = g * local
        return gx, gt


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """-w [pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], stable for logits of any size.

    Args:
        input: logits, any shape.
        target: same shape, in [0, 1].
        weight: broadcastable to the input; rescales each element's loss.
        pos_weight: broadcastable to the input (typically (C,) for the last dimension);
            weights the positive term, trading recall against precision.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    >>> import ember
    >>> binary_cross_entropy_with_logits(ember.tensor([100.0]), ember.tensor([0.0])).item()
    100.0
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"binary_cross_entropy_with_logits: target of shape {tuple(target.shape)} must have the "
                         f"input's shape {tuple(input.shape)}")
    if target._data.dtype != input._data.dtype:
        target = target.to(input.dtype)
    return BCEWithLogits.apply(input, target, weight=_const(weight, input, "weight"),
                               pos_weight=_const(pos_weight, input, "pos_weight"), reduction=reduction)


class KLDiv(Function):
    """target * (log target - input), or exp(t) (t - input) when the target is given as log-probabilities."""

    def forward(self, x, t, log_target, reduction, batch):
        xp = self.xp
        if log_target:
            et = xp.exp(t)
            loss = et * (t - x)
            self.et = et
        else:
            pos = t > 0
            tlogt = xp.where(pos, t * xp.log(xp.where(pos, t, 1)), 0)
            loss = tlogt - t * x
            self.pos = pos
        self.save_for_backward(x, t)
        self.log_target, self.reduction, self.size = log_target, reduction, loss.size
        self.batch = batch
        if reduction == "batchmean":
            return _scalar(xp, loss.sum() / batch, x.dtype)
        return _reduce(xp, loss, reduction, x.dtype)

    def backward(self, grad):
        x, t = self.saved
        xp = self.xp
        if self.reduction == "batchmean":
            g = grad / self.batch
        else:
            g = _upstream(grad, self.reduction, self.size)
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = -(self.et if self.log_target else t) * g
        if self.needs_input_grad[1]:
            if self.log_target:
                gt = self.et * (t - x + 1) * g
            else:
                gt = xp.where(self.pos, xp.log(xp.where(self.pos, t, 1)) + 1 - x, -x) * g
        return gx, gt


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL(target || exp(input)) pointwise: target (log target - input), with input log-probabilities.

    Args:
        input: log-probabilities.
        target: probabilities (or log-probabilities with ``log_target=True``), same shape.
        reduction: ``"batchmean"`` (the true KL divergence: sum / batch size), ``"sum"``,
            ``"mean"`` (sum / number of elements, PyTorch's default) or ``"none"``.

    >>> import ember
    >>> kl_div(ember.tensor([0.0]), ember.tensor([1.0]), reduction="sum").item()
    0.0
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, (*_REDUCTIONS, "batchmean"))
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"kl_div: target of shape {tuple(target.shape)} must have the input's shape "
                         f"{tuple(input.shape)}")
    if target._data.dtype != input._data.dtype:
        target = target.to(input.dtype)
    batch = input.shape[0] if input.ndim else 1
    return KLDiv.apply(input, target, log_target=bool(log_target), reduction=reduction, batch=batch)


class CosineSimilarity(Function):
    def forward(self, a, b, dim, eps):
        xp = self.xp
        na = xp.sqrt((a * a).sum(dim, keepdims=True))
        nb = xp.sqrt((b * b).sum(dim, keepdims=True))
        da, db = xp.maximum(na, eps), xp.maximum(nb, eps)
        cos = (a * b).sum(dim, keepdims=True) / (da * db)
        self.save_for_backward(a, b)
        self.da, self.db, self.cos, self.dim = da, db, cos, dim
        self.a_free, self.b_free = na > eps, nb > eps  # where the norm is not clamped
        return xp.squeeze(cos, axis=dim)

    def backward(self, grad):
        a, b = self.saved
        xp = self.xp
        g = xp.expand_dims(grad, self.dim)
        da, db, cos = self.da, self.db, self.cos
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = g * (b / (da * db) - xp.where(self.a_free, cos / (da * da), 0) * a)
        if self.needs_input_grad[1]:
            gb = g * (a / (da * db) - xp.where(self.b_free, cos / (db * db), 0) * b)
        return ga, gb


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` (inputs broadcast).

    >>> import ember
    >>> cosine_similarity(ember.tensor([[1.0, 0.0]]), ember.tensor([[1.0, 1.0]])).tolist()
    [0.7071067690849304]
    """
    from ...ops._operands import operands

    a, b = operands(x1, x2)
    ndim = max(a.ndim, b.ndim)
    if not -ndim <= dim < ndim:
        raise IndexError(f"cosine_similarity: dim {dim} is out of range for {ndim}-D inputs")
    dim = dim % ndim
    if a.ndim < ndim or b.ndim < ndim:  # align ranks so that ``dim`` means the same axis in both
        a = a.reshape((1,) * (ndim - a.ndim) + tuple(a.shape)) if a.ndim < ndim else a
        b = b.reshape((1,) * (ndim - b.ndim) + tuple(b.shape)) if b.ndim < ndim else b
    return CosineSimilarity.apply(a, b, dim=dim, eps=eps)
