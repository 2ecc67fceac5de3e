"""Normalisation layers: LayerNorm, RMSNorm, BatchNorm1d/2d/3d, GroupNorm (fused primitives in F)."""

from __future__ import annotations

from .. import creation as _creation
from .. import dtypes as _dtypes
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["LayerNorm", "RMSNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm"]


def _shape(normalized_shape) -> tuple[int, ...]:
    return (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)


class LayerNorm(Module):
    """y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias over the trailing ``normalized_shape``
    (Ba et al., 2016). Statistics are per sample; weight starts at ones and bias at zeros.

    Args:
        normalized_shape: the trailing dimensions to normalise over (an int is one dimension).
        eps: added to the variance. Default: 1e-5.
        elementwise_affine: learn weight (and bias). Default: True.
        bias: learn the bias too (when ``elementwise_affine``). Default: True.

    >>> import ember
    >>> ln = LayerNorm(4)
    >>> y = ln(ember.randn(2, 3, 4))
    >>> abs(y.mean(-1)).max().item() < 1e-5
    True
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape, self.eps, self.elementwise_affine = _shape(normalized_shape), eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_creation.empty(*self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(_creation.empty(*self.normalized_shape, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class RMSNorm(Module):
    """y = x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape``
    (Zhang & Sennrich, 2019): LayerNorm without centring or bias.

    Args:
        normalized_shape: the trailing dimensions to normalise over.
        eps: added to the mean square; None (default) uses the input dtype's machine epsilon.
        elementwise_affine: learn a weight (starting at ones). Default: True.

    >>> import ember
    >>> RMSNorm(8)(ember.randn(2, 8)).shape
    (2, 8)
    """

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.normalized_shape, self.eps, self.elementwise_affine = _shape(normalized_shape), eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_creation.ones(*self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class _BatchNorm(Module):
    _expected_dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(_creation.ones(num_features, dtype=dtype, device=device))
            self.bias = Parameter(_creation.zeros(num_features, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _creation.zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", _creation.ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", _creation.zeros((), dtype=_dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self._expected_dims:
            want = " or ".join(f"{d}-D" for d in self._expected_dims)
            raise ValueError(f"{type(self).__name__}: expected {want} input, got shape {tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels in dimension 1, "
                             f"got input of shape {tuple(input.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation (Ioffe & Szegedy, 2015) of (N, C) or (N, C, L) input, per channel.

    In training, y = (x - mean_B) / sqrt(var_B + eps) * weight + bias with the batch's
    statistics, and the running statistics move towards the batch's:
    ``running = (1 - momentum) * running + momentum * batch_stat`` (the unbiased batch
    variance, as in PyTorch; ``momentum=None`` gives a cumulative average). In ``eval()``
    mode the running statistics are used instead.

    Args:
        num_features: C.
        eps: added to the variance. Default: 1e-5.
        momentum: the running statistics' update factor, or None. Default: 0.1.
        affine: learn weight (ones) and bias (zeros). Default: True.
        track_running_stats: keep running statistics (else batch statistics are always used).

    >>> import ember
    >>> bn = BatchNorm1d(3)
    >>> _ = bn(ember.randn(8, 3))
    >>> bn.num_batches_tracked.item()
    1
    """

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel (see :class:`BatchNorm1d`).

    >>> import ember
    >>> BatchNorm2d(3)(ember.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """

    _expected_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) input, per channel (see :class:`BatchNorm1d`)."""

    _expected_dims = (5,)


class GroupNorm(Module):
    """Normalise each group of ``num_channels / num_groups`` channels of each sample (over
    the group's channels and all positions), then apply a per-channel affine map (Wu & He, 2018).
    Independent of the batch size; the same in training and evaluation.

    Args:
        num_groups: how many groups the channels are split into (must divide num_channels).
        num_channels: C.
        eps: added to the variance. Default: 1e-5.
        affine: learn per-channel weight (ones) and bias (zeros). Default: True.

    >>> import ember
    >>> GroupNorm(2, 4)(ember.randn(3, 4, 5)).shape
    (3, 4, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = Parameter(_creation.ones(num_channels, dtype=dtype, device=device))
            self.bias = Parameter(_creation.zeros(num_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
