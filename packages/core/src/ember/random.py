"""Random numbers: one seeded generator per process, as ``torch.manual_seed`` gives.

Samples are drawn on the host from a NumPy ``Generator`` and handed to the device's
backend, which may draw them natively instead (``Backend.random_uniform``). The state can
be saved and restored exactly (``get_rng_state`` / ``set_rng_state``), which is what makes
a resumed training run identical to an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .creation import _shape
from .device import resolve
from .tensor import Tensor

__all__ = ["manual_seed", "seed", "Generator", "default_generator", "get_rng_state", "set_rng_state",
           "rand", "randn", "randint", "rand_like", "randn_like", "randint_like", "randperm", "normal",
           "bernoulli", "multinomial"]


class Generator:
    """A seeded source of random numbers (PyTorch's ``torch.Generator``)."""

    def __init__(self, seed: int | None = None) -> None:
        self._np = np.random.default_rng(seed)

    def manual_seed(self, seed: int) -> "Generator":
        if not isinstance(seed, (int, np.integer)):
            raise TypeError(f"a seed must be an integer, got {type(seed).__name__}")
        self._np = np.random.default_rng(int(seed))
        return self

    def get_state(self) -> dict:
        return self._np.bit_generator.state

    def set_state(self, state: dict) -> None:
        if not isinstance(state, dict) or "bit_generator" not in state:
            raise ValueError("not a generator state (expected the dict that get_state() returns)")
        bit_generator = getattr(np.random, state["bit_generator"])()
        bit_generator.state = state
        self._np = np.random.Generator(bit_generator)

    @property
    def numpy(self) -> np.random.Generator:
        return self._np


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed ember's default generator (and NumPy's legacy global one, which some libraries use)."""
    np.random.seed(int(seed) % 2**32)
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the OS and return that seed."""
    value = int(np.random.SeedSequence().entropy % 2**63)
    default_generator.manual_seed(value)
    return value


def get_rng_state() -> dict:
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    default_generator.set_state(state)


def _float_dtype(dtype):
    dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if not dtype.is_floating_point:
        raise TypeError(f"random floats need a floating dtype, got {dtype}")
    return dtype


def _finish(data, dev, requires_grad) -> Tensor:
    out = Tensor._make(data, dev, None)
    if requires_grad:
        out.requires_grad = True
    return out


def rand(*size, generator: Generator | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples from [0, 1)."""
    dev, dtype = resolve(device), _float_dtype(dtype)
    gen = (generator or default_generator).numpy
    return _finish(dev.backend.random_uniform(_shape(size), dtype.numpy, gen, dev.index or 0), dev, requires_grad)


def randn(*size, generator: Generator | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples."""
    dev, dtype = resolve(device), _float_dtype(dtype)
    gen = (generator or default_generator).numpy
    return _finish(dev.backend.random_normal(_shape(size), dtype.numpy, gen, dev.index or 0), dev, requires_grad)


def randint(low, high=None, size=(), *, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    """Integers from [low, high) (``randint(high, size)`` starts at 0), int64 by default."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    dev = resolve(device)
    dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    size = (size,) if isinstance(size, int) else tuple(size)
    values = (generator or default_generator).numpy.integers(low, high, size=size).astype(dtype.numpy)
    return Tensor._make(dev.backend.from_numpy(values, dev.index or 0), dev, None)


def randperm(n: int, *, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1."""
    dev = resolve(device)
    dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    values = (generator or default_generator).numpy.permutation(n).astype(dtype.numpy)
    return Tensor._make(dev.backend.from_numpy(values, dev.index or 0), dev, None)


def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(*input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(*input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input: Tensor, low, high=None, *, dtype=None, device=None) -> Tensor:
    return randint(low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device)


def normal(mean: float, std: float, size, *, generator: Generator | None = None, dtype=None, device=None) -> Tensor:
    size = (size,) if isinstance(size, int) else tuple(size)
    out = randn(*size, generator=generator, dtype=dtype, device=device)
    out._data = out._data * std + mean
    return out


def bernoulli(p: Tensor, *, generator: Generator | None = None) -> Tensor:
    """1.0 with probability ``p`` (elementwise), else 0.0; no gradient."""
    u = rand(*p.shape, generator=generator, dtype=p.dtype, device=p.device)
    return Tensor._make((u._data < p._data).astype(p._data.dtype), p.device, None)


def multinomial(probs: Tensor, num_samples: int = 1, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Sample category indices from each row of ``probs`` (non-negative, need not sum to 1)."""
    gen = (generator or default_generator).numpy
    p = np.asarray(probs.detach().cpu().numpy(), dtype=np.float64)
    squeeze = p.ndim == 1
    p = p.reshape(-1, p.shape[-1])
    if (p < 0).any() or not np.isfinite(p).all():
        raise ValueError("multinomial: probabilities must be finite and non-negative")
    totals = p.sum(-1, keepdims=True)
    if (totals <= 0).any():
        raise ValueError("multinomial: every row needs a positive total probability")
    p = p / totals
    if not replacement and num_samples > p.shape[-1]:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                         f"{p.shape[-1]} categories")
    rows = [gen.choice(p.shape[-1], size=num_samples, replace=replacement, p=row) for row in p]
    out = np.stack(rows).astype(np.int64)
    if squeeze:
        out = out[0]
    dev = probs.device
    return Tensor._make(dev.backend.from_numpy(out, dev.index or 0), dev, None)
