"""``MLXBackend``: device "mps" on MLX, on Apple silicon's Metal GPU or (elsewhere) MLX's CPU.

MLX is lazy: an operation records work and returns at once; ``mx.eval`` runs it. Ember's
ops build the graph of a whole training step that way, and the optimizer evaluates the
parameters and their state once at the end of ``step()`` (:meth:`MLXBackend.evaluate`), as
an MLX training loop does with ``mx.eval(model.parameters(), optimizer.state)``.
"""

from __future__ import annotations

import numpy as np
from ember.backend import Backend

from . import xp as mlx_numpy
from .array import MLXArray, wrap
from .dtypes import from_numpy, to_numpy


class MLXBackend(Backend):
    name = "mps"
    device_types = ("mps",)
    xp = mlx_numpy
    has_views = False
    lazy = True

    def __init__(self):
        import mlx.core as mx

        from .kernels import FUNCTIONS, KERNELS

        self.mx = mx
        self.functions = dict(FUNCTIONS)
        self.kernels = dict(KERNELS)

    def is_available(self) -> bool:
        return True

    @property
    def on_gpu(self) -> bool:
        return self.mx.default_device().type == self.mx.DeviceType.gpu

    def describe(self, index: int = 0) -> str:
        mx = self.mx
        if self.on_gpu:
            info = mx.metal.device_info() if mx.metal.is_available() else {}
            where = f"the Metal GPU ({info.get('device_name', 'Apple silicon')})"
        else:
            where = "MLX's CPU device (no Metal GPU on this machine)"
        return f"MLX {mx.__version__} on {where}"

    # -- moving data -------------------------------------------------------------------

    def asarray(self, obj, dtype, index: int = 0) -> MLXArray:
        return wrap(from_numpy(np.asarray(obj, dtype=dtype)))

    def from_numpy(self, array, index: int = 0) -> MLXArray:
        return wrap(from_numpy(array))

    def to_numpy(self, array) -> np.ndarray:
        return to_numpy(array.a) if isinstance(array, MLXArray) else np.asarray(array)

    # -- runtime -----------------------------------------------------------------------

    def evaluate(self, arrays) -> None:
        """Run the queued work behind ``arrays`` (MLX's ``mx.eval``), once per training step."""
        self.mx.eval([a.a for a in arrays if isinstance(a, MLXArray)])

    def synchronize(self, index: int = 0) -> None:
        self.mx.synchronize()

    def memory_stats(self, index: int = 0) -> dict[str, int]:
        mx = self.mx
        return {"allocated": mx.get_active_memory(), "peak": mx.get_peak_memory(),
                "cached": mx.get_cache_memory()}
