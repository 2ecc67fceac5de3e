"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms")."""

from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer, _for_each_block, _zeros_like, check_betas, check_range

__all__ = ["Lion"]


class Lion(Optimizer):
    r"""Lion, EvoLved Sign Momentum: the update is the sign of an interpolated momentum.

    PyTorch has no Lion; this follows the paper's Algorithm 2 and the reference
    implementation ``lion-pytorch`` (same defaults, same order of operations). With
    :math:`g_t = \pm\nabla f(\theta_{t-1})`, learning rate :math:`\gamma`, betas
    :math:`(\beta_1, \beta_2)` and weight decay :math:`\lambda`:

    .. math::
        c_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        \theta_t &\leftarrow (1 - \gamma\lambda)\,\theta_{t-1} - \gamma\,\mathrm{sign}(c_t) \\
        m_t &\leftarrow \beta_2 m_{t-1} + (1 - \beta_2) g_t

    Every coordinate moves by exactly :math:`\gamma` (or 0 where :math:`c_t = 0`), so Lion
    wants a learning rate 3-10x smaller than AdamW's and a weight decay 3-10x larger.
    State per parameter: ``"exp_avg"`` (:math:`m`). A backend kernel ``"lion_update"`` is
    called as ``kernel(param, grad, exp_avg, *, lr, beta1, beta2, weight_decay, maximize)``.

    Args:
        params: tensors to optimize, or parameter-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-4).
        betas: :math:`(\beta_1, \beta_2)`: interpolation for the update and decay of the
            momentum (default (0.9, 0.99)).
        weight_decay: decoupled weight decay :math:`\lambda` (default 0).
        maximize: maximize the objective instead of minimizing it.
        fused: None uses the backend's kernel when there is one; False never does; True requires one.

    >>> import ember
    >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = ember.optim.Lion([w], lr=0.1)
    >>> w.grad = ember.tensor([0.5, -3.0])
    >>> opt.step()
    >>> [round(x, 4) for x in w.detach().tolist()]
    [0.9, -1.9]
    """

    _kernel_name = "lion_update"
    _elementwise = True

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0,
                 *, maximize: bool = False, fused: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, weight_decay=weight_decay,
                        maximize=maximize, fused=fused)
        super().__init__(params, defaults)

    def _check_hyper(self, group) -> None:
        super()._check_hyper(group)
        if "betas" in group:
            check_betas(group["betas"], high_inclusive=True)
        if "weight_decay" in group:
            check_range("weight_decay", group["weight_decay"], 0.0)

    def _hyper(self, group) -> tuple:
        return (float(group["lr"]), *(float(b) for b in group["betas"]), float(group["weight_decay"]),
                bool(group["maximize"]))

    def _update(self, group, p: Tensor, g, lr, beta1, beta2, weight_decay, maximize) -> None:
        xp = p._device.backend.xp
        state = self.state[p]
        if "exp_avg" not in state:
            state["exp_avg"] = _zeros_like(p)
        m_t = state["exp_avg"]
        kernel = self._kernel(group, p)
        if kernel is not None:
            kernel(p._data, g, m_t._data, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
                   maximize=maximize)
        else:
            decay = 1 - lr * weight_decay if weight_decay != 0 else None
            # With maximize, the gradient is negated: beta1 m + (1 - beta1)(-g) = beta1 m - (1 - beta1) g.
            s1 = -(1 - beta1) if maximize else 1 - beta1
            s2 = -(1 - beta2) if maximize else 1 - beta2

            def update(p_, g_, m_, t_, u_):
                if decay is not None:
                    p_ *= decay
                xp.multiply(m_, beta1, out=t_)        # c = beta1 m + (1 - beta1) g
                xp.multiply(g_, s1, out=u_)
                t_ += u_
                xp.sign(t_, out=t_)                   # p -= lr sign(c)
                t_ *= -lr
                p_ += t_
                m_ *= beta2                           # m = beta2 m + (1 - beta2) g
                xp.multiply(g_, s2, out=u_)
                m_ += u_

            _for_each_block(update, [p._data, g, m_t._data], 2, xp)
        m_t._bump_version()
        p._bump_version()
