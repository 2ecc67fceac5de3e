"""One table of op specifications, shared by ember's own tests and the backend conformance suite.

An :class:`OpSpec` says how to call an op (``fn(lib, *inputs)``, written so that the same
lambda runs with ``lib=ember`` and ``lib=torch``), what it must compute (a NumPy float64
``reference``), and which inputs to try (``make_inputs(rng)`` returns float64 / int64
NumPy arrays). :func:`check_forward`, :func:`check_backward` and :func:`check_against_torch`
are the single helper every gradient test goes through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

#: Forward tolerances (atol, rtol) per dtype name, against a float64 reference.
FORWARD_TOLERANCE = {"float64": (1e-10, 1e-8), "float32": (1e-5, 1e-4), "float16": (2e-2, 2e-2),
                     "bfloat16": (5e-2, 5e-2)}


@dataclass
class OpSpec:
    """How to call one op, what it must give, and on which inputs."""

    name: str
    fn: Callable
    reference: Callable
    make_inputs: Callable[[np.random.Generator], tuple]
    #: Indices of inputs to differentiate (default: every floating input); () for no gradient.
    grad_inputs: tuple | None = None
    #: Skip the torch comparison (no such torch op, or torch differs by design).
    torch: bool = True
    #: Extra tolerance factor for ops whose float32 error grows with size (matmul, cumsum...).
    tol_scale: float = 1.0
    eps: float = 1e-6
    tags: tuple = field(default_factory=tuple)

    def __repr__(self) -> str:
        return f"OpSpec({self.name})"

    def grad_indices(self, arrays) -> tuple:
        if self.grad_inputs is not None:
            return self.grad_inputs
        return tuple(i for i, a in enumerate(arrays) if np.asarray(a).dtype.kind == "f")


SPECS: list[OpSpec] = []


def register(*specs: OpSpec) -> None:
    names = {s.name for s in SPECS}
    for spec in specs:
        if spec.name in names:
            raise ValueError(f"duplicate op spec {spec.name!r}")
        SPECS.append(spec)
        names.add(spec.name)


def all_specs() -> list[OpSpec]:
    from . import specs  # noqa: F401  (importing fills SPECS)

    return list(SPECS)


def _to_ember(arrays, device, dtype, grad_indices):
    import ember

    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            t = ember.tensor(a, dtype=dtype, device=device)
            if i in grad_indices:
                t.requires_grad = True
        else:
            t = ember.tensor(a, device=device)
        out.append(t)
    return out


def _as_host(value) -> np.ndarray:
    import ember

    if isinstance(value, ember.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def check_forward(spec: OpSpec, device="cpu", dtype="float32", seed: int = 0) -> None:
    """The op's output on ``device`` in ``dtype`` matches the float64 NumPy reference."""
    import ember

    arrays = spec.make_inputs(np.random.default_rng(seed))
    expected = np.asarray(spec.reference(*arrays))
    got = spec.fn(ember, *_to_ember(arrays, device, dtype, ()))
    got_host = _as_host(got)
    if got_host.shape != expected.shape:
        raise AssertionError(f"{spec.name}: output shape {got_host.shape}, expected {expected.shape}")
    atol, rtol = FORWARD_TOLERANCE[str(dtype).removeprefix("ember.")]
    atol, rtol = atol * spec.tol_scale, rtol * spec.tol_scale
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got_host, expected, err_msg=f"{spec.name} on {device}")
    else:
        np.testing.assert_allclose(got_host.astype(np.float64), expected, atol=atol, rtol=rtol,
                                   err_msg=f"{spec.name} forward on {device} in {dtype}")


def check_backward(spec: OpSpec, device="cpu", dtype="float64", seed: int = 0) -> None:
    """Autograd's gradient of the op matches central finite differences.

    ``dtype`` is "float64", "float32", or "float64-approx" (float64 storage whose
    transcendental functions are only float32-accurate: a larger step, looser tolerances).
    """
    import ember

    arrays = spec.make_inputs(np.random.default_rng(seed))
    indices = spec.grad_indices(arrays)
    if not indices:
        return
    approx = dtype == "float64-approx"
    dtype = "float64" if approx else dtype
    inputs = _to_ember(arrays, device, dtype, indices)
    if approx:  # float64 storage, float32-accurate transcendentals: errors of ~1e-7 / eps
        eps, atol, rtol = max(spec.eps, 1e-3), 1e-4 * spec.tol_scale, 1e-3 * spec.tol_scale
    elif dtype == "float64":
        eps, atol, rtol = spec.eps, 1e-6 * spec.tol_scale, 1e-4 * spec.tol_scale
    else:  # a backend without float64 checks in float32, with tolerances to match
        eps, atol, rtol = 1e-2, 2e-2 * spec.tol_scale, 2e-2 * spec.tol_scale
    ember.autograd.gradcheck(lambda *xs: spec.fn(ember, *xs), inputs, eps=eps, atol=atol, rtol=rtol, seed=seed)


def check_against_torch(spec: OpSpec, seed: int = 0) -> None:
    """Forward and backward equal PyTorch's in float64 on the CPU (skipped without torch)."""
    import ember
    import torch

    arrays = spec.make_inputs(np.random.default_rng(seed))
    indices = spec.grad_indices(arrays)
    ours = _to_ember(arrays, "cpu", "float64", indices)
    theirs = []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        t = torch.tensor(a)
        if i in indices:
            t.requires_grad_(True)
        theirs.append(t)
    out_ours, out_theirs = spec.fn(ember, *ours), spec.fn(torch, *theirs)
    np.testing.assert_allclose(_as_host(out_ours), out_theirs.detach().numpy(), atol=1e-9, rtol=1e-7,
                               err_msg=f"{spec.name}: forward differs from torch")
    if not indices:
        return
    cotangent = np.random.default_rng(seed + 1).standard_normal(out_theirs.shape)
    out_ours.backward(ember.tensor(cotangent, dtype="float64"))
    out_theirs.backward(torch.tensor(cotangent))
    for i in indices:
        ours_grad = ours[i].grad
        theirs_grad = theirs[i].grad
        if theirs_grad is None:
            assert ours_grad is None or not np.any(ours_grad.numpy()), f"{spec.name}: input {i} grad should be zero"
            continue
        assert ours_grad is not None, f"{spec.name}: input {i} got no gradient, torch gives one"
        np.testing.assert_allclose(ours_grad.numpy(), theirs_grad.numpy(), atol=1e-8, rtol=1e-6,
                                   err_msg=f"{spec.name}: gradient of input {i} differs from torch")
