"""Loss layers: each wraps the function of the same name in ``ember.nn.functional``.

Class weights and ``pos_weight`` are registered as buffers (saved, moved with ``.to()``,
not learned), as in PyTorch.
"""

from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
           "BCEWithLogitsLoss", "KLDivLoss", "CosineSimilarity"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F.loss._legacy_reduction(size_average, reduce, reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits against class indices or class probabilities.

    loss_i = -w_{y_i} log softmax(x_i)_{y_i} (class indices, with optional label smoothing
    and an ignored index), or -sum_c w_c t_ic log softmax(x_i)_c (probabilities). One fused,
    numerically stable primitive (see ``F.cross_entropy``).

    Args:
        weight: (C,) class weights.
        ignore_index: a target value that contributes nothing. Default: -100.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
        label_smoothing: mix eps of the uniform distribution into the targets. Default: 0.

    Shape:
        input (N, C) or (N, C, d1, ...) or (C,); target (N,) / (N, d1, ...) / () indices,
        or probabilities shaped like the input.

    >>> import ember
    >>> loss = CrossEntropyLoss()(ember.zeros(2, 4), ember.tensor([0, 3]))
    >>> round(loss.item(), 4)
    1.3863
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood -w_y x_y of class indices given log-probabilities (pair it
    with LogSoftmax; CrossEntropyLoss does both at once).

    Args:
        weight: (C,) class weights.
        ignore_index: a target value that contributes nothing. Default: -100.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    >>> import ember
    >>> NLLLoss()(ember.tensor([[-1.0, -2.0]]), ember.tensor([1])).item()
    2.0
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """(input - target)^2, reduced.

    >>> import ember
    >>> MSELoss()(ember.tensor([1.0, 3.0]), ember.zeros(2)).item()
    5.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """|input - target|, reduced.

    >>> import ember
    >>> L1Loss(reduction="sum")(ember.tensor([1.0, -3.0]), ember.zeros(2)).item()
    4.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target), reduced.

    Args:
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
        beta: where the loss turns from quadratic to linear. Default: 1.

    >>> import ember
    >>> SmoothL1Loss()(ember.tensor([0.5]), ember.zeros(1)).item()
    0.125
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), reduced.

    >>> import ember
    >>> HuberLoss(delta=1.0)(ember.tensor([3.0]), ember.zeros(1)).item()
    2.5
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x (logs clamped at -100).
    Prefer BCEWithLogitsLoss on logits.

    >>> import ember
    >>> round(BCELoss()(ember.tensor([0.5]), ember.tensor([1.0])).item(), 4)
    0.6931
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable primitive.

    Args:
        weight: rescales each element's loss (broadcast to the input).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
        pos_weight: weight of the positive term, broadcast along the last dimension (C,).

    >>> import ember
    >>> round(BCEWithLogitsLoss()(ember.zeros(3), ember.ones(3)).item(), 4)
    0.6931
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """KL(target || exp(input)) pointwise, for log-probability inputs.

    Args:
        reduction: ``"batchmean"`` (the mathematically correct KL: sum / batch size),
            ``"sum"``, ``"mean"`` (sum / number of elements; the default, as in PyTorch) or ``"none"``.
        log_target: the target is given as log-probabilities too.

    >>> import ember
    >>> KLDivLoss(reduction="batchmean")(ember.tensor([[0.0]]), ember.tensor([[1.0]])).item()
    0.0
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineSimilarity(Module):
    """x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along ``dim``.

    >>> import ember
    >>> CosineSimilarity(dim=1)(ember.ones(2, 3), ember.ones(2, 3)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"
