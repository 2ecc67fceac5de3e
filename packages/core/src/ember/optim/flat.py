"""A parameter group packed into flat buffers, so an elementwise update runs once for the group.

Adam, SGD and the other optimizers here update every element of a parameter from the same
element of its gradient and state, so a whole group can be updated as one long array. The
group's parameters become views into one flat buffer, and so does each state array
(``exp_avg``, ``momentum_buffer``, ...). A step gathers the gradients into a flat gradient
and runs the optimizer's own ``_update`` once, on a stand-in tensor over the flat buffer:
one fused kernel launch on a GPU instead of one per parameter, one blocked NumPy update
instead of a dozen Python-level calls per parameter. The arithmetic per element is the
same, so the results are identical to updating the parameters one by one.

The packed parameters are those with a gradient (a model's unused parameters stay out).
The views are checked before every step. When something rebinds a parameter's or a state's
array (``Module.to``, ``load_state_dict``, ``p.data = ...``) or the set of parameters with
gradients changes, the group is packed again from the current values; when it can't be
packed (mixed devices or dtypes, state or step counts that differ between parameters), the
step runs parameter by parameter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..host_threads import parallel
from ..tensor import Tensor

__all__ = ["FlatGroup"]


def _tensor_keys(state: dict, shape) -> set:
    return {k for k, v in state.items() if k != "step" and isinstance(v, Tensor) and tuple(v._data.shape) == shape}


class FlatGroup:
    """The flat buffers of one parameter group and the views its parameters and state are."""

    def __init__(self, params: list[Tensor], states: list[dict]) -> None:
        first = params[0]
        self.device, dtype = first._device, first._data.dtype
        xp = self.xp = self.device.backend.xp
        self.params = list(params)
        self.shapes = [tuple(p._data.shape) for p in params]
        self.offsets = [0]
        for p in params:
            self.offsets.append(self.offsets[-1] + int(p._data.size))
        flat = xp.empty(self.offsets[-1], dtype)
        self.views = self._pack(flat, [p._data for p in params])
        for p, view in zip(params, self.views):
            p._data = view
        self.proxy = Tensor._make(flat, self.device, None)
        self.grad = xp.empty(self.offsets[-1], dtype)
        self.state_tensors: dict[str, list[Tensor]] = {}
        self.state_views: dict[str, list] = {}
        self.proxy_state: dict[str, Any] = {}
        for key in sorted(_tensor_keys(states[0], self.shapes[0])):
            tensors = [st[key] for st in states]
            buffer = xp.empty(self.offsets[-1], tensors[0]._data.dtype)
            views = self._pack(buffer, [t._data for t in tensors])
            for t, view in zip(tensors, views):
                t._data = view
            self._adopt(key, buffer, tensors, views)

    def _adopt(self, key: str, buffer, tensors: list[Tensor], views: list) -> None:
        self.proxy_state[key] = Tensor._make(buffer, self.device, None)
        self.state_tensors[key] = tensors
        self.state_views[key] = views

    def _pack(self, buffer, arrays) -> list:
        """Copy ``arrays`` into ``buffer`` and return the views of ``buffer`` they now are."""
        views = self._split(buffer)
        for view, array in zip(views, arrays):
            view[...] = array
        return views

    def _split(self, buffer) -> list:
        return [buffer[start:stop].reshape(shape)
                for start, stop, shape in zip(self.offsets, self.offsets[1:], self.shapes)]

    @staticmethod
    def packable(params: list[Tensor], states: list[dict]) -> bool:
        """Whether ``params`` can share flat buffers: one device and dtype, on a backend with
        views that computes eagerly, and the same kinds of state with the same step count."""
        first = params[0]
        backend = first._device.backend
        if not backend.has_views or backend.lazy:
            return False
        keys = _tensor_keys(states[0], tuple(first._data.shape))
        step = _step_value(states[0])
        for p, st in zip(params, states):
            if p._device != first._device or p._data.dtype != first._data.dtype:
                return False
            own = _tensor_keys(st, tuple(p._data.shape))
            if own != keys or set(st) - {"step"} != own:  # only parameter-shaped state, the same kinds
                return False
            if _step_value(st) != step:
                return False
            if any(st[k]._device != first._device or st[k]._data.dtype != states[0][k]._data.dtype for k in keys):
                return False
        return True

    def current(self, params: list[Tensor], state) -> bool:
        """Whether every parameter and state tensor still is the view it was packed as."""
        if len(params) != len(self.params):
            return False
        steps = set()
        for i, p in enumerate(params):
            if p is not self.params[i] or p._data is not self.views[i]:
                return False
            st = state.get(p, {})
            if set(st) - {"step"} != set(self.state_tensors):
                return False
            for key, tensors in self.state_tensors.items():
                t = st[key]
                if t is not tensors[i] or t._data is not self.state_views[key][i]:
                    return False
            steps.add(_step_value(st))
        return len(steps) == 1

    def update(self, optimizer, group, grads: list, hyper: tuple) -> None:
        """One step of ``optimizer`` over the whole group (its ``_update`` on the flat arrays)."""
        _concatenate_into(self.xp, grads, self.grad)
        old_step = optimizer.state.get(self.params[0], {}).get("step")
        proxy_state = dict(self.proxy_state)
        if old_step is not None:  # every parameter's step count is the same (``current`` checked)
            proxy_state["step"] = old_step
        optimizer.state[self.proxy] = proxy_state
        try:
            optimizer._update(group, self.proxy, self.grad, *hyper)
            proxy_state = optimizer.state[self.proxy]
        finally:
            del optimizer.state[self.proxy]
        for key, value in proxy_state.items():  # state the update created (on the first step)
            if key != "step" and key not in self.proxy_state:
                views = self._split(value._data)
                tensors = [Tensor._make(view, self.device, None) for view in views]
                for p, t in zip(self.params, tensors):
                    optimizer.state[p][key] = t
                self._adopt(key, value._data, tensors, views)
        new_step = proxy_state.get("step")
        if new_step is not None:
            for p in self.params:
                st = optimizer.state[p]
                if isinstance(st.get("step"), Tensor):
                    st["step"]._data[...] = new_step._data
                else:
                    st["step"] = Tensor._make(np.array(new_step._data, copy=True), new_step._device, None)
        for p in self.params:
            p._bump_version()


def _step_value(state: dict):
    step = state.get("step")
    if step is None:
        return None
    return float(step._data) if isinstance(step, Tensor) else float(step)



def _concatenate_into(xp, arrays: list, out) -> None:
    """``out[...] = concatenate([a.reshape(-1) for a in arrays])``; on NumPy the copy is shared
    out over ember's threads by ranges of ``out`` (one parameter, the embedding table say, can
    be most of it).

    An array that is not C-contiguous (a convolution's weight gradient, whose GEMM leaves it
    channels-last) is copied row by row of its first axis straight from its own layout: each
    part copies the rows that start in its range, so no part writes another's elements and
    the array is never first copied whole into a contiguous temporary.
    """
    if xp is not np:
        xp.concatenate([a.reshape(-1) for a in arrays], out=out)
        return
    offsets = np.cumsum([0] + [a.size for a in arrays])

    def part(low, high):
        k = int(np.searchsorted(offsets, low, side="right")) - 1
        while k < len(arrays) and offsets[k] < high:
            a, start, stop = arrays[k], offsets[k], offsets[k + 1]
            if a.flags.c_contiguous:
                lo, hi = max(low, start), min(high, stop)
                out[lo:hi] = a.reshape(-1)[lo - start:hi - start]
            elif a.size:
                row = a.size // a.shape[0]
                first, last = -(-(max(low, start) - start) // row), -(-(min(high, stop) - start) // row)
                if last > first:
                    out[start + first * row:start + last * row].reshape((last - first,) + a.shape[1:])[...] = a[first:last]
            k += 1

    parallel(out.size, part)
