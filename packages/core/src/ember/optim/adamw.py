"""AdamW (Loshchilov & Hutter, 2017): Adam with decoupled weight decay."""

from __future__ import annotations

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW (PyTorch's ``torch.optim.AdamW``): Adam whose weight decay shrinks the weights
    directly instead of entering the moment estimates.

    With :math:`g_t = \pm\nabla f(\theta_{t-1})`, learning rate :math:`\gamma`, betas
    :math:`(\beta_1, \beta_2)` and weight decay :math:`\lambda`:

    .. math::
        \theta_{t-1} &\leftarrow (1 - \gamma\lambda)\,\theta_{t-1} \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat v_t &\leftarrow \max(\hat v_{t-1}, v_t) \text{ if amsgrad, else } v_t \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t}
            \cdot \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    State per parameter: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"`` (and ``"max_exp_avg_sq"``
    with amsgrad). A backend kernel ``"adamw_update"`` is called as Adam's ``"adam_update"``
    is (see :class:`~ember.optim.Adam`).

    Args:
        params: tensors to optimize, or parameter-group dicts.
        lr: learning rate :math:`\gamma` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon`, added to the denominator (default 1e-8).
        weight_decay: decoupled weight decay :math:`\lambda` (default 1e-2).
        amsgrad: normalise by the running maximum of :math:`v` (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
        fused: None uses the backend's kernel when there is one; False never does; True requires one.

    >>> import ember
    >>> w = ember.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = ember.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = ember.tensor([0.5, -3.0])
    >>> opt.step()
    >>> [round(x, 4) for x in w.detach().tolist()]  # (1 - 0.05) w, then a step of lr
    [0.85, -1.8]
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, fused=fused)

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
