"""The conformance suite: every op in the spec table, forward and backward, on one backend."""

from __future__ import annotations

import pytest

from ember.testing import all_specs, check_backward, check_forward

SPECS = all_specs()


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_forward_float32(spec, ember_device):
    check_forward(spec, ember_device, "float32")


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_backward(spec, ember_device, ember_gradcheck_precision):
    check_backward(spec, ember_device, ember_gradcheck_precision)
