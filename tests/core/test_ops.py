"""Every op in the shared spec table: forward vs NumPy float64, gradcheck in float64, and PyTorch."""

from __future__ import annotations

import importlib.util

import pytest

from ember.testing import all_specs, check_against_torch, check_backward, check_forward

SPECS = all_specs()
IDS = [s.name for s in SPECS]
HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_forward(spec):
    check_forward(spec, "cpu", "float32")
    check_forward(spec, "cpu", "float64")


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_gradcheck(spec):
    check_backward(spec, "cpu", "float64")


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("spec", [s for s in SPECS if s.torch], ids=[s.name for s in SPECS if s.torch])
def test_matches_torch(spec):
    check_against_torch(spec)
