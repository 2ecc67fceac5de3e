"""RMSprop (Hinton's lecture 6e), with momentum and the centered variant."""

from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer, _effective_grad, _for_each_block, _lerp_, _step_tensor, _zeros_like, check_range

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (PyTorch's ``torch.optim.RMSprop``: same defaults, formulas and state).

    With :math:`g_t = \pm\nabla f(\theta_{t-1})`, learning rate :math:`\gamma`, smoothing
    :math:`\alpha`, weight decay :math:`\lambda` and momentum :math:`\mu`:

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1} \\
        v_t &\leftarrow \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
        \bar g_t &\leftarrow \alpha \bar g_{t-1} + (1 - \alpha) g_t
            \quad\text{(centered only)} \\
        d_t &\leftarrow \sqrt{v_t - \bar g_t^2} + \epsilon \text{ if centered, else } \sqrt{v_t} + \epsilon \\
        b_t &\leftarrow \mu b_{t-1} + g_t / d_t, \quad \theta_t \leftarrow \theta_{t-1} - \gamma b_t
            \quad\text{(when } \mu > 0\text{)} \\
        \theta_t &\leftarrow \theta_{t-1} - \gamma\, g_t / d_t \quad\text{(when } \mu = 0\text{)}

    State per parameter: ``"step"``, ``"square_avg"`` (:math:`v`), ``"momentum_buffer"``
    (:math:`b`, when ``momentum > 0``) and ``"grad_avg"`` (:math:`\bar g`, when centered).
    A backend kernel ``"rmsprop_update"`` is called as ``kernel(param, grad, square_avg,
    grad_avg, momentum_buffer, *, step, lr, alpha, eps, weight_decay, momentum, centered,
    maximize)`` (absent buffers are None).

    Args:
        params: tensors to optimize, or parameter-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-2).
        alpha: smoothing constant :math:`\alpha` (default 0.99).
        eps: :math:`\epsilon`, added to the denominator (default 1e-8).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        momentum: momentum factor :math:`\mu` (default 0).
        centered: normalise by the estimated variance of the gradient instead of its second moment.
        maximize: maximize the objective instead of minimizing it.
        fused: None uses the backend's kernel when there is one; False never does; True requires one.

    >>> import ember
    >>> w = ember.tensor([1.0], requires_grad=True)
    >>> opt = ember.optim.RMSprop([w], lr=0.01)
    >>> w.grad = ember.tensor([2.0])
    >>> opt.step()
    >>> round(w.item(), 4)  # 1 - 0.01 * 2 / sqrt(0.01 * 4)
    0.9
    """

    _kernel_name = "rmsprop_update"
    _elementwise = True

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize, fused=fused)
        super().__init__(params, defaults)

    def _check_hyper(self, group) -> None:
        super()._check_hyper(group)
        if "eps" in group:
            check_range("eps", group["eps"], 0.0)
        if "momentum" in group:
            check_range("momentum", group["momentum"], 0.0)
        if "weight_decay" in group:
            check_range("weight_decay", group["weight_decay"], 0.0)
        if "alpha" in group:
            check_range("alpha", group["alpha"], 0.0)

    def _hyper(self, group) -> tuple:
        return (float(group["lr"]), float(group["alpha"]), float(group["eps"]), float(group["weight_decay"]),
                float(group["momentum"]), bool(group["centered"]), bool(group["maximize"]))

    def _update(self, group, p: Tensor, g, lr, alpha, eps, weight_decay, momentum, centered, maximize) -> None:
        xp = p._device.backend.xp
        state = self.state[p]
        if "square_avg" not in state:
            state.setdefault("step", _step_tensor())
            state["square_avg"] = _zeros_like(p)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = _zeros_like(p)
        if centered and "grad_avg" not in state:
            state["grad_avg"] = _zeros_like(p)
        step = self._step_count(state)
        sq_t = state["square_avg"]
        buf_t = state["momentum_buffer"] if momentum > 0 else None
        ga_t = state["grad_avg"] if centered else None

        kernel = self._kernel(group, p)
        if kernel is not None:
            kernel(p._data, g, sq_t._data, None if ga_t is None else ga_t._data,
                   None if buf_t is None else buf_t._data, step=step, lr=lr, alpha=alpha, eps=eps,
                   weight_decay=weight_decay, momentum=momentum, centered=centered, maximize=maximize)
        else:
            def update(p_, g_, sq_, *rest):
                rest = list(rest)
                ga_ = rest.pop(0) if centered else None
                b_ = rest.pop(0) if momentum > 0 else None
                t_, u_ = rest
                d = _effective_grad(xp, p_, g_, weight_decay, maximize, t_)
                sq_ *= alpha                                   # v = alpha v + (1 - alpha) g g
                xp.multiply(d, 1 - alpha, out=u_)
                u_ *= d
                sq_ += u_
                if centered:
                    _lerp_(xp, ga_, d, 1 - alpha, u_)          # gbar = lerp(gbar, g, 1 - alpha)
                    xp.negative(ga_, out=u_)                   # avg = sqrt(v - gbar gbar)
                    u_ *= ga_
                    u_ += sq_
                    xp.sqrt(u_, out=u_)
                else:
                    xp.sqrt(sq_, out=u_)
                u_ += eps
                if b_ is not None:
                    b_ *= momentum                             # b = mu b + g / avg
                    xp.divide(d, u_, out=u_)
                    b_ += u_
                    xp.multiply(b_, -lr, out=u_)               # p -= lr b
                else:
                    xp.multiply(d, -lr, out=t_)                # p += (-lr g) / avg
                    xp.divide(t_, u_, out=u_)
                p_ += u_

            arrays = [p._data, g, sq_t._data] + ([ga_t._data] if centered else []) + (
                [buf_t._data] if buf_t is not None else [])
            _for_each_block(update, arrays, 2, xp)
        for t in (sq_t, ga_t, buf_t):
            if t is not None:
                t._bump_version()
        p._bump_version()
