"""Stochastic gradient descent, with momentum, dampening, Nesterov and L2 weight decay."""

from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer, _effective_grad, _for_each_block, _zeros_like, check_range

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (PyTorch's ``torch.optim.SGD``, same defaults and formulas).

    With :math:`g_t = \pm\nabla f(\theta_{t-1})` (minus when ``maximize``), weight decay
    :math:`\lambda`, momentum :math:`\mu`, dampening :math:`\tau` and learning rate :math:`\gamma`:

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        b_t &\leftarrow \begin{cases} g_t & t = 1 \\ \mu b_{t-1} + (1 - \tau) g_t & t > 1 \end{cases}
            \quad\text{(when } \mu \ne 0\text{)} \\
        g_t &\leftarrow \begin{cases} g_t + \mu b_t & \text{nesterov} \\ b_t & \text{otherwise} \end{cases} \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma g_t

    State per parameter: ``"momentum_buffer"`` (:math:`b_t`, only when ``momentum != 0``).
    A backend kernel ``"sgd_update"`` is called as ``kernel(param, grad, momentum_buffer,
    *, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step)`` (the buffer
    is None without momentum; on the first step it holds zeros and ``first_step`` is True).

    Args:
        params: tensors to optimize, or parameter-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-3).
        momentum: momentum factor :math:`\mu` (default 0).
        dampening: dampening :math:`\tau` of the momentum (default 0).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        nesterov: use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: maximize the objective instead of minimizing it.
        fused: None uses the backend's ``"sgd_update"`` kernel when there is one; False never
            does; True requires one.

    >>> import ember
    >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = ember.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = ember.tensor([1.0, 1.0])
    >>> opt.step()
    >>> w.detach().tolist()
    [0.8999999761581421, -2.0999999046325684]
    """

    _kernel_name = "sgd_update"
    _elementwise = True

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, fused=fused)
        super().__init__(params, defaults)

    def _check_hyper(self, group) -> None:
        super()._check_hyper(group)
        if "momentum" in group:
            check_range("momentum", group["momentum"], 0.0)
        if "dampening" in group:
            check_range("dampening", group["dampening"])
        if "weight_decay" in group:
            check_range("weight_decay", group["weight_decay"], 0.0)
        if group.get("nesterov") and (group.get("momentum", 0) <= 0 or group.get("dampening", 0) != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening (nesterov=True needs "
                             f"momentum > 0 and dampening == 0, got momentum={group.get('momentum')}, "
                             f"dampening={group.get('dampening')})")

    def _hyper(self, group) -> tuple:
        return (float(group["lr"]), float(group["momentum"]), float(group["dampening"]),
                float(group["weight_decay"]), bool(group["nesterov"]), bool(group["maximize"]))

    def _update(self, group, p: Tensor, g, lr, momentum, dampening, weight_decay, nesterov, maximize) -> None:
        xp = p._device.backend.xp
        state = self.state[p] if momentum != 0 else None  # no state without momentum (as in PyTorch)
        buf_t = state.get("momentum_buffer") if state is not None else None
        first = momentum != 0 and buf_t is None
        kernel = self._kernel(group, p)
        if kernel is not None:
            if first:
                buf_t = state["momentum_buffer"] = _zeros_like(p)
            kernel(p._data, g, None if buf_t is None else buf_t._data, lr=lr, momentum=momentum,
                   dampening=dampening, weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                   first_step=first)
        elif momentum == 0:
            def update(p_, g_, t_):
                d = _effective_grad(xp, p_, g_, weight_decay, maximize, t_)
                xp.multiply(d, -lr, out=t_)
                p_ += t_

            _for_each_block(update, [p._data, g], 1, xp)
        else:
            if first:
                buf_t = state["momentum_buffer"] = _zeros_like(p)

            def update(p_, g_, b_, t_, u_):
                d = _effective_grad(xp, p_, g_, weight_decay, maximize, t_)
                if first:
                    b_[...] = d  # b_1 = g_1: no dampening on the first step, as in PyTorch
                else:
                    b_ *= momentum
                    if dampening == 0:
                        b_ += d
                    else:
                        xp.multiply(d, 1.0 - dampening, out=u_)
                        b_ += u_
                if nesterov:
                    xp.multiply(b_, momentum, out=u_)
                    u_ += d
                    xp.multiply(u_, -lr, out=u_)
                else:
                    xp.multiply(b_, -lr, out=u_)
                p_ += u_

            _for_each_block(update, [p._data, g, buf_t._data], 2, xp)
            buf_t._bump_version()
        p._bump_version()

