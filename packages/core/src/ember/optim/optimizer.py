"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and ``state_dict``.

Every optimizer of ember follows PyTorch's ``torch.optim`` API and layout: a list of
parameter groups (dicts that carry their own hyper-parameters), ``defaults`` for the keys a
group leaves out, and ``state[param]`` (a dict of ember tensors) per parameter.

Updates run under ``no_grad`` on the raw backend arrays (``p._data``), in place, and bump
each parameter's version counter (a graph that saved the old value notices the change).

How the update is computed, in order of preference:

1. a fused kernel of the parameter's backend, ``p._device.backend.kernels.get(NAME)``
   (``"sgd_update"``, ``"adam_update"``, ``"adamw_update"``, ``"lion_update"``,
   ``"rmsprop_update"``, ``"adagrad_update"``). It is called with the raw arrays of the
   parameter, its gradient and its state (in the order each optimizer documents), plus the
   hyper-parameters as keywords, and must update the parameter and state arrays in place.
   ``fused=None`` (the default) uses a kernel when the backend has one, ``fused=False``
   never does, and ``fused=True`` raises if the backend has none.
2. otherwise the array code of the optimizer, written with ``out=``/in-place ufuncs on the
   backend's ``xp``. On NumPy it runs over cache-sized blocks of the flattened arrays (see
   ``_for_each_block``), which measured faster than both whole-array in-place updates and
   allocating updates.

NOTE: measured on a shared 2-core AMD EPYC (NumPy 2, float32, Adam over the six tensors of a
784-1024-1024-10 MLP, best of 15-25 interleaved runs, two sessions): allocating updates
8.7-11.7 ms, whole-array in-place (``out=``) 6.3-9.4 ms, in-place over 64Ki-element blocks
5.2-5.9 ms; torch.optim.Adam (foreach=False, one thread) 6.2-11.4 ms. In float64 the blocked
update took 12.9 ms against torch's 27 ms. Allocation loses because every large temporary is
fresh memory from the OS (page faults); whole-array passes lose to blocks because each of the
dozen passes streams the arrays through memory, where a block stays in cache for all of them.
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
from collections import defaultdict
from itertools import chain
from typing import Any, Callable

import numpy as np

from .. import dtypes as _dtypes
from ..autograd.grad_mode import enable_grad, no_grad
from ..device import CPU
from ..host_threads import parallel
from ..tensor import Tensor
from .flat import FlatGroup

__all__ = ["Optimizer", "required"]

#: Bytes of one array a block covers (the working set of an update is a few arrays of this).
_BLOCK_BYTES = 1 << 18


class _RequiredParameter:
    """Marks a hyper-parameter every group must give (``defaults`` has no value for it)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


# -- validation helpers (used by every optimizer) --------------------------------------


def _as_real(name: str, value) -> float:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} given as a tensor must have exactly one element, got shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    return float(value)


def check_range(name: str, value, low: float | None = None, high: float | None = None,
                low_inclusive: bool = True, high_inclusive: bool = True) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``low <= value <= high`` (NaN always fails)."""
    v = _as_real(name, value)
    ok = not math.isnan(v)
    if ok and low is not None:
        ok = v >= low if low_inclusive else v > low
    if ok and high is not None:
        ok = v <= high if high_inclusive else v < high
    if not ok:
        lo = "" if low is None else f"{low} {'<=' if low_inclusive else '<'} "
        hi = "" if high is None else f" {'<=' if high_inclusive else '<'} {high}"
        raise ValueError(f"Invalid {name}={value!r}: expected {lo}{name}{hi}")


def check_betas(betas, high_inclusive: bool = False) -> None:
    """``betas`` must be a pair of numbers in [0, 1) (or [0, 1] with ``high_inclusive``)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas!r}; expected a pair (beta1, beta2)")
    for i, beta in enumerate(betas):
        check_range(f"betas[{i}]", beta, 0.0, 1.0, high_inclusive=high_inclusive)


# -- the array helpers of the update code ----------------------------------------------


def _for_each_block(update: Callable, arrays: list, n_scratch: int, xp) -> None:
    """Call ``update(*arrays, *scratch)`` on cache-sized blocks of same-shape arrays.

    On NumPy, when every array is C-contiguous and larger than a block, the arrays are
    flattened and ``update`` runs once per block of ``_BLOCK_BYTES`` (the views write
    through to the arrays), the blocks shared out over ember's threads
    (:func:`ember.host_threads.parallel`); otherwise it runs once on the whole arrays. ``scratch`` are
    ``n_scratch`` uninitialised buffers of the block's shape and dtype.
    """
    first = arrays[0]
    n = first.size
    block = max(1024, _BLOCK_BYTES // first.dtype.itemsize)
    if xp is np and n > block and all(a.flags.c_contiguous for a in arrays):
        flats = [a.reshape(-1) for a in arrays]

        def part(low, high):  # one thread's range of the flat arrays, block by block
            buffers = [np.empty(min(block, high - low), first.dtype) for _ in range(n_scratch)]
            for start in range(low, high, block):
                stop = min(start + block, high)
                update(*[f[start:stop] for f in flats], *[b[:stop - start] for b in buffers])

        parallel(n, part)
    else:
        update(*arrays, *[xp.empty(first.shape, first.dtype) for _ in range(n_scratch)])


def _lerp_(xp, start, end, weight: float, tmp) -> None:
    """``start += weight * (end - start)`` in place, with PyTorch's two formulas (``lerp_``)."""
    xp.subtract(end, start, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        start += tmp
    else:
        tmp *= 1.0 - weight
        xp.subtract(end, tmp, out=start)


def _effective_grad(xp, p, g, weight_decay: float, maximize: bool, out):
    """``(-g if maximize else g) + weight_decay * p`` (L2 penalty), in ``out`` when it needs one."""
    if weight_decay != 0:
        xp.multiply(p, weight_decay, out=out)
        if maximize:
            out -= g
        else:
            out += g
        return out
    if maximize:
        return xp.negative(g, out=out)
    return g


def _scalar_dtype():
    """The dtype of ``state["step"]``: float64 when that is the default dtype, else float32 (as PyTorch)."""
    return _dtypes.float64 if _dtypes.get_default_dtype() is _dtypes.float64 else _dtypes.float32


def _step_tensor(value: float = 0.0) -> Tensor:
    return Tensor._make(np.array(value, dtype=_scalar_dtype().numpy), CPU, None)


def _zeros_like(p: Tensor, fill: float = 0.0) -> Tensor:
    xp = p._device.backend.xp
    data = xp.zeros(p._data.shape, dtype=p._data.dtype) if fill == 0 else xp.full(p._data.shape, fill,
                                                                                   dtype=p._data.dtype)
    return Tensor._make(data, p._device, None)


def _counts_steps(step):
    """Wrap a subclass's ``step`` so ``_opt_called`` tells LR schedulers it ran."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True
        return step(self, *args, **kwargs)

    wrapper._counts_steps = True
    return wrapper


class Optimizer:
    """Base class of every optimizer.

    Args:
        params: an iterable of tensors (leaves), of ``(name, tensor)`` pairs, or of dicts
            that each define a parameter group (``{"params": [...], "lr": ...}``); a
            group's keys override ``defaults``.
        defaults: the default hyper-parameters of a group.

    Attributes:
        param_groups: the list of groups; each holds ``"params"`` and every hyper-parameter.
        state: ``state[param]`` is a dict of that parameter's state (ember tensors).
        defaults: the hyper-parameters a group gets when it leaves them out.

    A subclass implements ``_hyper(group)`` (its hyper-parameters as numbers) and
    ``_update(group, p, g, *hyper)`` (one parameter's update); it may override ``_check_hyper(group)`` to validate a
    group's hyper-parameters (it runs on ``defaults`` and on every added group).

    >>> import ember
    >>> w = ember.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = ember.optim.SGD([w], lr=0.1)
    >>> opt.param_groups[0]["lr"]
    0.1
    """

    #: Name of the fused backend kernel this optimizer looks up (None: it has none).
    _kernel_name: str | None = None

    #: True for an optimizer whose ``_update`` treats every element alone (SGD, Adam...): a
    #: group may then be updated as one flat array (``flat.py``). A subclass that mixes
    #: elements (a norm, a per-tensor scale) must leave it False.
    _elementwise: bool = False

    #: Update an elementwise optimizer's groups through flat buffers (one pass, one kernel
    #: launch per group). Set False on an instance to update parameter by parameter; a
    #: parameter's array then stays the array it was (``flat.py`` makes it a view).
    flat_updates: bool = True

    _opt_called = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_counts_steps", False):
            cls.step = _counts_steps(step)

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self._check_hyper({k: v for k, v in self.defaults.items() if v is not required})
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._flat_groups: dict[int, FlatGroup] = {}

        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got a Tensor of shape {tuple(params.shape)}; wrap it in a list: [tensor]")
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets changes between runs; use a list instead")
        if isinstance(params, dict):
            raise TypeError("params must be an iterable of tensors or of parameter-group dicts, got a dict; "
                            "wrap a single group in a list: [{'params': ...}]")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # -- groups --------------------------------------------------------------------------

    def _check_hyper(self, group: dict[str, Any]) -> None:
        """Raise ``ValueError`` naming a hyper-parameter of ``group`` that is out of range."""
        if "lr" in group:
            check_range("lr", group["lr"], 0.0)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (fine-tuning a new head,
        unfreezing layers). Keys it leaves out take the optimizer's ``defaults``.

        Args:
            param_group: a dict with ``"params"`` (a tensor or an iterable of tensors or of
                ``(name, tensor)`` pairs) and any hyper-parameters to override.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group must have a 'params' entry (the tensors it optimizes)")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets changes between runs; use a list instead")
        else:
            params = list(params)
        names = None
        if params and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in params):
            names = [name for name, _ in params]
            params = [p for _, p in params]
        index = len(self.param_groups)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize ember Tensors, but parameter {i} of group {index} "
                                f"is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (parameter {i} of group {index} was made by "
                                 f"{p.grad_fn.name}); optimize the leaf it was computed from")

        group = {k: v for k, v in param_group.items() if k not in ("params", "param_names")}
        group["params"] = params
        if names is not None:
            group["param_names"] = names
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"parameter group {index} didn't specify a value of required optimization "
                                 f"parameter {key!r}")
            group.setdefault(key, default)
        try:
            self._check_hyper(group)
        except ValueError as exc:
            raise ValueError(f"parameter group {index}: {exc}") from None

        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            dup = next(i for i, x in enumerate(ids) if ids.index(x) != i)
            raise ValueError(f"parameter group {index} contains parameter {dup} more than once; each parameter "
                             "must appear once (its update would otherwise run twice)")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        kernel_name = self._kernel_name_for(group)
        if kernel_name is not None and group.get("fused"):
            for p in params:
                if p._device.backend.kernels.get(kernel_name) is None:
                    raise RuntimeError(f"fused=True, but the {p._device.backend.name!r} backend of device "
                                       f"{p._device} has no {kernel_name!r} kernel; use fused=None "
                                       "(use a kernel where there is one) or fused=False")
        self.param_groups.append(group)

    # -- stepping ------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter.

        Args:
            set_to_none: set ``p.grad = None`` (default, cheapest) instead of filling it
                with zeros. A zero-filled gradient gets new storage, because a gradient
                array may be shared with another tensor or be a read-only broadcast view.
        """
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if grad._node is not None:
                        grad = grad.detach()
                        p.grad = grad
                    grad._requires_grad = False
                    grad._data = grad._device.backend.xp.zeros(grad._data.shape, dtype=grad._data.dtype)
                    grad._bump_version()

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; return ``closure()``'s loss if given.

        Args:
            closure: re-evaluates the model and returns the loss (run with grad enabled).
        """
        self._opt_called = True
        loss = self._closure_loss(closure)
        with no_grad():
            for index, group in enumerate(self.param_groups):
                hyper = self._hyper(group)
                if self._elementwise and self.flat_updates and self._step_flat(index, group, hyper):
                    continue
                for p in group["params"]:
                    g = self._grad_array(p)
                    if g is not None:
                        self._update(group, p, g, *hyper)
        self._evaluate_lazy()
        return loss

    def _step_flat(self, index: int, group: dict, hyper: tuple) -> bool:
        """Update the whole group at once through its flat buffers (see ``flat.py``); False
        when it can't this step (then the caller updates parameter by parameter)."""
        params, grads = [], []
        for p in group["params"]:  # the parameters without a gradient are left alone, as ever
            g = self._grad_array(p, contiguous=False)  # packing copies it into the flat gradient anyway
            if g is not None:
                params.append(p)
                grads.append(g)
        if len(params) < 2:
            return False
        flat = self._flat_groups.get(index)
        if flat is None or not flat.current(params, self.state):
            states = [self.state.get(p, {}) for p in params]
            if not FlatGroup.packable(params, states):
                return False
            flat = self._flat_groups[index] = FlatGroup(params, states)
        flat.update(self, group, grads, hyper)
        return True

    def _evaluate_lazy(self) -> None:
        """On a lazy backend (MLX), compute the new parameters and state now: one evaluation
        of the whole step's graph, instead of a graph that grows from step to step."""
        pending: dict = {}
        for group in self.param_groups:
            for p in group["params"]:
                backend = p._device.backend
                if backend.lazy:
                    arrays = pending.setdefault(backend, [])
                    arrays.append(p._data)
                    arrays.extend(t._data for t in self.state.get(p, {}).values() if isinstance(t, Tensor))
        for backend, arrays in pending.items():
            backend.evaluate(arrays)

    def _hyper(self, group) -> tuple:
        """The group's hyper-parameters as plain numbers, in the order ``_update`` takes them."""
        raise NotImplementedError(f"{type(self).__name__} must implement _hyper()")

    def _update(self, group, p: Tensor, g, *hyper) -> None:
        """Update one parameter ``p`` (under no_grad) from its gradient array ``g``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update()")

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _grad_array(self, p: Tensor, contiguous: bool = True):
        """``p.grad``'s array, checked against ``p`` and cast to its dtype (and on NumPy made
        C-contiguous unless ``contiguous`` is False); None when it has none."""
        grad = p.grad
        if grad is None:
            return None
        g = grad._data
        if g.shape != p._data.shape:
            raise RuntimeError(f"the gradient of a parameter of shape {tuple(p._data.shape)} has shape "
                               f"{tuple(g.shape)}")
        if grad._device is not p._device:
            raise RuntimeError(f"a parameter on {p._device} has its gradient on {grad._device}")
        if g.dtype != p._data.dtype:
            g = g.astype(p._data.dtype)
        if contiguous and p._device.backend.xp is np and not g.flags.c_contiguous:
            g = np.ascontiguousarray(g)
        return g

    def _kernel_name_for(self, group: dict[str, Any]) -> str | None:
        """The name of the fused backend kernel that performs this group's update."""
        return self._kernel_name

    def _kernel(self, group: dict[str, Any], p: Tensor):
        """The backend's fused kernel for this optimizer, or None (fused=False, or none exists)."""
        name = self._kernel_name_for(group)
        if name is None or group.get("fused") is False:
            return None
        return p._device.backend.kernels.get(name)

    @staticmethod
    def _step_count(state: dict[str, Any]) -> float:
        """Increment ``state["step"]`` (a 0-d tensor, as in PyTorch) and return its new value."""
        step_t = state.get("step")
        if not isinstance(step_t, Tensor):
            step_t = state["step"] = _step_tensor(0.0 if step_t is None else float(step_t))
        step_t._data += 1
        step_t._bump_version()
        return float(step_t._data)

    # -- saving and loading --------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout, with parameters replaced by indices.

        ``{"state": {index: {name: tensor or number}}, "param_groups": [{..., "params": [indices]}]}``,
        where parameters are numbered in order through the groups. The state tensors are
        the optimizer's own (not copies), as in PyTorch: copy the dict (or save it) before
        stepping on if you want a snapshot.
        """
        mapping: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {mapping[id(p)]: value for p, value in self.state.items() if id(p) in mapping}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state produced by :meth:`state_dict` (copies its tensors).

        The saved groups must match this optimizer's groups in number and sizes; state
        tensors are copied onto each parameter's device and dtype (except ``"step"``), and
        must have the parameter's shape.

        Args:
            state_dict: a dict with ``"state"`` and ``"param_groups"``.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"an optimizer state dict needs the keys 'state' and 'param_groups', got {keys}")
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, but the optimizer has "
                             f"{len(groups)}")
        for i, (group, saved) in enumerate(zip(groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group: group {i} has {len(saved['params'])} parameters in the state "
                                 f"dict and {len(group['params'])} in the optimizer")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key not in id_map:
                raise ValueError(f"loaded state dict has state for parameter {key!r}, which no parameter group "
                                 "lists")
            p = id_map[key]
            new_state[p] = {name: self._load_value(p, key, name, v) for name, v in value.items()}

        new_groups = []
        for group, saved in zip(groups, saved_groups):
            new = {k: v for k, v in group.items() if k != "params"}
            new.update(copy.deepcopy({k: v for k, v in saved.items() if k != "params"}))
            new["params"] = group["params"]
            self._check_hyper(new)
            new_groups.append(new)
        self.state = new_state
        self.param_groups = new_groups

    @staticmethod
    def _load_value(p: Tensor, index, name: str, value):
        if isinstance(value, (numbers.Number, str, type(None))):
            return value
        if not isinstance(value, (Tensor, np.ndarray)) and not hasattr(value, "__array__"):
            return copy.deepcopy(value)
        array = value._device.backend.to_numpy(value._data) if isinstance(value, Tensor) else np.asarray(value)
        if name == "step":
            return Tensor._make(np.array(array, copy=True), CPU, None)
        if array.ndim > 0 and tuple(array.shape) != tuple(p._data.shape):
            raise ValueError(f"loaded state {name!r} of parameter {index} has shape {tuple(array.shape)}, but the "
                             f"parameter has shape {tuple(p._data.shape)}")
        dtype = p._data.dtype if array.dtype.kind in "fcV" and p._data.dtype.kind in "fcV" else array.dtype
        backend = p._device.backend
        data = backend.from_numpy(np.array(array, dtype=dtype, copy=True), p._device.index or 0)
        return Tensor._make(data, p._device, None)

    # -- display -------------------------------------------------------------------------

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

