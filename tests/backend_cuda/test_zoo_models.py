"""Every zoo model's tiny preset trains on "cuda" exactly as on "cpu" (needs a GPU): the same
loss for 3 SGD steps, the same finite, nonzero gradient for every parameter, the same weights."""

from __future__ import annotations

import pytest

ember_models = pytest.importorskip("ember_models")

from ..zoo_parity import check_tiny_model_parity  # noqa: E402


@pytest.mark.parametrize("name", ember_models.list_models())
def test_tiny_model_trains_identically_on_cuda(cuda, name):
    check_tiny_model_parity(name, str(cuda))
