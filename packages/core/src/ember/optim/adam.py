"""Adam (Kingma & Ba, 2014), with AMSGrad and L2 (or decoupled) weight decay."""

from __future__ import annotations

from ..tensor import Tensor
from .optimizer import (
    Optimizer, _effective_grad, _for_each_block, _lerp_, _step_tensor, _zeros_like, check_betas, check_range,
)

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Adam (PyTorch's ``torch.optim.Adam``: same defaults, same formulas, same state).

    With :math:`g_t = \pm\nabla f(\theta_{t-1})` (minus when ``maximize``), learning rate
    :math:`\gamma`, betas :math:`(\beta_1, \beta_2)`, weight decay :math:`\lambda`:

    .. math::
        g_t &\leftarrow g_t + \lambda \theta_{t-1}
            \quad\text{(L2; with decoupled weight decay instead }
            \theta_{t-1} \leftarrow (1 - \gamma\lambda)\theta_{t-1}\text{)} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat v_t &\leftarrow \max(\hat v_{t-1}, v_t) \text{ if amsgrad, else } v_t \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t}
            \cdot \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    State per parameter: ``"step"`` (a 0-d float tensor), ``"exp_avg"`` (:math:`m`),
    ``"exp_avg_sq"`` (:math:`v`) and, with amsgrad, ``"max_exp_avg_sq"`` (:math:`\hat v`).
    A backend kernel ``"adam_update"`` (``"adamw_update"`` with decoupled weight decay) is
    called as ``kernel(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1,
    beta2, eps, weight_decay, amsgrad, maximize)`` (``max_exp_avg_sq`` is None without
    amsgrad; ``step`` is the already incremented count).

    Args:
        params: tensors to optimize, or parameter-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)`, decay rates of the moment averages (default (0.9, 0.999)).
        eps: :math:`\epsilon`, added to the denominator (default 1e-8).
        weight_decay: :math:`\lambda`, an L2 penalty added to the gradient (default 0).
        amsgrad: normalise by the running maximum of :math:`v` (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the weights directly, as AdamW does.
        fused: None uses the backend's kernel when there is one; False never does; True requires one.

    >>> import ember
    >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = ember.optim.Adam([w], lr=0.1)
    >>> w.grad = ember.tensor([0.5, -3.0])
    >>> opt.step()
    >>> [round(x, 4) for x in w.detach().tolist()]  # the first step moves each weight by lr
    [0.9, -1.9]
    """

    _kernel_name = "adam_update"
    _elementwise = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False, fused: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay, fused=fused)
        super().__init__(params, defaults)

    def _check_hyper(self, group) -> None:
        super()._check_hyper(group)
        if "eps" in group:
            check_range("eps", group["eps"], 0.0)
        if "betas" in group:
            check_betas(group["betas"])
        if "weight_decay" in group:
            check_range("weight_decay", group["weight_decay"], 0.0)

    def _kernel_name_for(self, group) -> str:
        return "adamw_update" if group.get("decoupled_weight_decay") else "adam_update"

    def _hyper(self, group) -> tuple:
        return (float(group["lr"]), *(float(b) for b in group["betas"]), float(group["eps"]),
                float(group["weight_decay"]), bool(group["amsgrad"]), bool(group["maximize"]),
                bool(group["decoupled_weight_decay"]))

    def _update(self, group, p: Tensor, g, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                decoupled) -> None:
        xp = p._device.backend.xp
        state = self.state[p]
        if "exp_avg" not in state:
            state.setdefault("step", _step_tensor())
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = _zeros_like(p)
        step = self._step_count(state)
        m_t, v_t = state["exp_avg"], state["exp_avg_sq"]
        vmax_t = state["max_exp_avg_sq"] if amsgrad else None

        kernel = self._kernel(group, p)
        if kernel is not None:
            kernel(p._data, g, m_t._data, v_t._data, None if vmax_t is None else vmax_t._data, step=step, lr=lr,
                   beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        else:
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2 ** 0.5
            l2 = 0.0 if decoupled else weight_decay
            decay = 1 - lr * weight_decay if decoupled and weight_decay != 0 else None

            def update(p_, g_, m_, v_, *rest):
                if amsgrad:
                    vmax_, t_, u_ = rest
                else:
                    t_, u_ = rest
                if decay is not None:
                    p_ *= decay
                d = _effective_grad(xp, p_, g_, l2, maximize, t_)
                _lerp_(xp, m_, d, 1 - beta1, u_)                      # m = lerp(m, g, 1 - beta1)
                v_ *= beta2                                            # v = beta2 v + (1 - beta2) g g
                xp.multiply(d, 1 - beta2, out=u_)
                u_ *= d
                v_ += u_
                if amsgrad:
                    xp.maximum(vmax_, v_, out=vmax_)
                xp.sqrt(vmax_ if amsgrad else v_, out=u_)             # denom = sqrt(v) / sqrt(bc2) + eps
                u_ /= bias_correction2_sqrt
                u_ += eps
                xp.multiply(m_, -step_size, out=t_)                    # p += (-step_size * m) / denom
                xp.divide(t_, u_, out=u_)
                p_ += u_

            arrays = [p._data, g, m_t._data, v_t._data] + ([vmax_t._data] if amsgrad else [])
            _for_each_block(update, arrays, 2, xp)
        m_t._bump_version()
        v_t._bump_version()
        if vmax_t is not None:
            vmax_t._bump_version()
        p._bump_version()
