"""``NativeBackend``: the NumPy backend plus the compiled kernels of :mod:`ember_native._kernels`."""

from __future__ import annotations

import numpy as np
from ember.nn.functional.normalization import LayerNorm
from ember.numpy_backend import NumpyBackend
from ember.ops.activation import GELU, GELUTanh, SiLU

from .activations import NativeGELU, NativeGELUTanh, NativeSiLU
from .norm import NativeLayerNorm


class NativeBackend(NumpyBackend):
    """Device "cpu". Overrides only the primitives its C kernels make faster (Thinc's ``Ops``
    pattern): ``Function.apply`` runs the subclass in ``functions`` instead of the core's."""

    name = "native"
    device_types = ("cpu",)
    functions = {GELU: NativeGELU, GELUTanh: NativeGELUTanh, SiLU: NativeSiLU, LayerNorm: NativeLayerNorm}

    def describe(self, index: int = 0) -> str:
        return f"NumPy {np.__version__} with ember's compiled C kernels (GELU, SiLU, layer norm, RMS norm) on the host CPU"
