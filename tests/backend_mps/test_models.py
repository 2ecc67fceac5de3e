"""Every zoo model's tiny preset trains on "mps" exactly as on "cpu": same loss, same gradient
for every parameter (each of them finite and nonzero), same weights after SGD steps (momentum)."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember_models

from ..zoo_parity import check_tiny_model_parity
from .parity import host

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("name", ember_models.list_models())
def test_tiny_model_trains_identically_on_mps(name):
    check_tiny_model_parity(name, "mps")


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_generation_on_mps_matches_cpu(name):
    from ember_models import generation

    ember.manual_seed(0)
    cpu = ember_models.create(name, preset="tiny").eval()
    mps = ember_models.create(name, preset="tiny").eval()
    mps.load_state_dict(cpu.state_dict())
    mps.to("mps")
    prompt = RNG.integers(0, cpu.config.vocab_size, (1, 5))
    outs = []
    for model, device in ((cpu, "cpu"), (mps, "mps")):
        ember.manual_seed(7)
        out = generation.generate(model, ember.tensor(prompt, device=device), max_new_tokens=8,
                                  temperature=0.8, top_k=20)
        outs.append(host(out).astype(np.int64))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert outs[1].shape == (1, 13)
