"""The backend protocol: what a device needs to give ember.

The core writes every op once against ``backend.xp``, an array namespace that spells the
Array API as NumPy 2 and CuPy do. A backend overrides only its hot paths by putting fused
kernels in ``backend.kernels`` (Thinc's ``Ops`` pattern); ops look a kernel up by name and
fall back to the composed version when it is missing.

A third-party backend subclasses :class:`Backend`, then registers a factory through the
``ember_register_backends`` hook::

    @ember.hookimpl
    def ember_register_backends(register):
        register("mybackend", make_backend, device_types=("xpu",), priority=50,
                 is_available=probe)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


class Backend:
    """Base class of every backend. Subclasses set ``name``, ``device_types`` and ``xp``.

    Only the methods that differ from NumPy's behaviour need overriding; the defaults here
    are written for an ``xp`` that follows NumPy.
    """

    name: str = "abstract"
    device_types: tuple[str, ...] = ()
    xp: Any = None
    #: Fused kernels by name, e.g. ``{"softmax": fn}``; ops fall back when a name is missing.
    kernels: dict[str, Callable] = {}
    #: Faster versions of whole primitives: ``{CoreFunction: Subclass}``. ``Function.apply``
    #: runs the subclass instead, so it keeps the primitive's forward/backward signature.
    functions: dict[type, type] = {}
    #: Whether slices and reshapes share storage with their source (NumPy, CuPy). Without
    #: views (MLX), ``Tensor.view`` is a reshape, and writing in place into a slice is an error.
    has_views: bool = True
    #: Whether operations only record work until :meth:`evaluate` (MLX). Optimizers evaluate
    #: the parameters and their state once at the end of each ``step()``.
    lazy: bool = False

    def is_available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        """Why ``is_available()`` is False, in words a user can act on."""
        return ""

    def device_count(self) -> int:
        return 1

    def describe(self, index: int = 0) -> str:
        """A one-line description of a device, for ``ember devices``."""
        return self.name

    # -- moving data -------------------------------------------------------------------

    def asarray(self, obj, dtype, index: int = 0):
        """An array on device ``index`` from a NumPy array, Python scalar or nested list."""
        return self.xp.asarray(obj, dtype=dtype)

    def to_numpy(self, array) -> np.ndarray:
        return np.asarray(array)

    def from_numpy(self, array: np.ndarray, index: int = 0):
        return self.xp.asarray(array)

    def device_index_of(self, array) -> int:
        """Which of this backend's devices holds ``array``."""
        return 0

    # -- random numbers ----------------------------------------------------------------

    def random_uniform(self, shape, dtype, generator: np.random.Generator, index: int = 0):
        """Uniform [0, 1) samples. The default draws on the host from ember's generator."""
        return self.from_numpy(generator.random(shape, dtype=np.float64).astype(dtype), index)

    def random_normal(self, shape, dtype, generator: np.random.Generator, index: int = 0):
        return self.from_numpy(generator.standard_normal(shape, dtype=np.float64).astype(dtype), index)

    # -- runtime -----------------------------------------------------------------------

    def evaluate(self, arrays) -> None:
        """Compute the pending values of ``arrays`` (lazy backends; eager ones have none)."""

    def synchronize(self, index: int = 0) -> None:
        """Wait for queued work on the device (a no-op for synchronous backends)."""

    def memory_stats(self, index: int = 0) -> dict[str, int]:
        """Allocator statistics in bytes; an empty dict where the backend keeps none."""
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} devices={self.device_types}>"
