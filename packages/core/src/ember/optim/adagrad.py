"""Adagrad (Duchi, Hazan & Singer, 2011)."""

from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer, _effective_grad, _for_each_block, _step_tensor, _zeros_like, check_range

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (PyTorch's ``torch.optim.Adagrad``: same defaults, formulas and state).

    With :math:`g_t = \pm\nabla f(\theta_{t-1})`, learning rate :math:`\gamma`, learning-rate
    decay :math:`\eta` and weight decay :math:`\lambda`:

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        \tilde\gamma_t &\leftarrow \gamma / (1 + (t - 1)\eta) \\
        s_t &\leftarrow s_{t-1} + g_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \tilde\gamma_t \frac{g_t}{\sqrt{s_t} + \epsilon}

    with :math:`s_0` = ``initial_accumulator_value``. State per parameter: ``"step"`` and
    ``"sum"`` (:math:`s`), created when the optimizer is built (as in PyTorch). A backend
    kernel ``"adagrad_update"`` is called as ``kernel(param, grad, sum, *, step, lr,
    lr_decay, weight_decay, eps, maximize)``.

    Args:
        params: tensors to optimize, or parameter-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-2).
        lr_decay: learning-rate decay :math:`\eta` (default 0).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        initial_accumulator_value: starting value of the sum of squares (default 0).
        eps: :math:`\epsilon`, added to the denominator (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
        fused: None uses the backend's kernel when there is one; False never does; True requires one.

    >>> import ember
    >>> w = ember.tensor([1.0], requires_grad=True)
    >>> opt = ember.optim.Adagrad([w], lr=0.1)
    >>> w.grad = ember.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)  # 1 - 0.1 * 2 / sqrt(4)
    0.9
    """

    _kernel_name = "adagrad_update"
    _elementwise = True

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(group, p)

    def _init_state(self, group, p: Tensor) -> dict:
        state = self.state[p]
        if "sum" not in state:
            state.setdefault("step", _step_tensor())
            state["sum"] = _zeros_like(p, float(group["initial_accumulator_value"]))
        return state

    def _check_hyper(self, group) -> None:
        super()._check_hyper(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            if name in group:
                check_range(name, group[name], 0.0)

    def _hyper(self, group) -> tuple:
        return (float(group["lr"]), float(group["lr_decay"]), float(group["weight_decay"]), float(group["eps"]),
                bool(group["maximize"]))

    def _update(self, group, p: Tensor, g, lr, lr_decay, weight_decay, eps, maximize) -> None:
        xp = p._device.backend.xp
        state = self._init_state(group, p)
        step = self._step_count(state)
        sum_t = state["sum"]
        kernel = self._kernel(group, p)
        if kernel is not None:
            kernel(p._data, g, sum_t._data, step=step, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                   maximize=maximize)
        else:
            clr = lr / (1 + (step - 1) * lr_decay)

            def update(p_, g_, s_, t_, u_):
                d = _effective_grad(xp, p_, g_, weight_decay, maximize, t_)
                xp.multiply(d, d, out=u_)        # s += g g
                s_ += u_
                xp.sqrt(s_, out=u_)              # std = sqrt(s) + eps
                u_ += eps
                xp.multiply(d, -clr, out=t_)     # p += (-clr g) / std
                xp.divide(t_, u_, out=u_)
                p_ += u_

            _for_each_block(update, [p._data, g, sum_t._data], 2, xp)
        sum_t._bump_version()
        p._bump_version()
