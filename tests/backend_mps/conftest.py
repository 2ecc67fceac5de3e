"""The MLX backend's tests: device "mps" against the NumPy backend on the same inputs.

The NumPy backend is checked against PyTorch elsewhere; here every layer, optimizer and zoo
model must give the same values and gradients on "mps" as on "cpu". They skip, saying why,
where ember-backend-mps or MLX is not installed.
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("ember_mps") is None:
    pytest.skip("ember-backend-mps is not installed (pip install -e 'packages/backend-mps[cpu]')",
                allow_module_level=True)
if importlib.util.find_spec("mlx") is None:
    pytest.skip("MLX is not installed (pip install 'mlx[cpu]')", allow_module_level=True)
