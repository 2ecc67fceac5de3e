"""A tiny GPT-2 trains the same on "cuda" as on "cpu" (needs a GPU)."""

from __future__ import annotations

import numpy as np
import pytest

import ember

ember_models = pytest.importorskip("ember_models")


def _train(device, steps=3):
    from ember_models.gpt2 import PRESETS, GPT2Config, GPT2LMHeadModel

    ember.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**PRESETS["tiny"]))
    model.to(device)
    opt = ember.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 512, (4, 65))
    x = ember.tensor(tokens[:, :-1], device=device)
    y = ember.tensor(tokens[:, 1:], device=device)
    losses = []
    for _ in range(steps):
        loss = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def test_gpt2_train_steps_match_cpu(cuda):
    cpu_losses, cpu_state = _train("cpu")
    gpu_losses, gpu_state = _train(cuda)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4)
    assert gpu_losses[-1] < gpu_losses[0]
    for name, value in cpu_state.items():
        np.testing.assert_allclose(gpu_state[name], value, rtol=1e-3, atol=1e-4, err_msg=name)
