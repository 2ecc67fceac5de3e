"""A tiny GPT-2 trains the same on "cuda" as on "cpu" (needs a GPU)."""

from __future__ import annotations

import numpy as np
import pytest

import ember

ember_models = pytest.importorskip("ember_models")


def _train(device, steps=3, config=None, batch=4, fused=None):
    from ember_models.gpt2 import PRESETS, GPT2Config, GPT2LMHeadModel

    config = config or GPT2Config(**PRESETS["tiny"])
    ember.manual_seed(0)
    model = GPT2LMHeadModel(config)
    model.to(device)
    opt = ember.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, fused=fused)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, config.vocab_size, (batch, config.n_positions + 1))
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


def test_gpt2_with_gpt2s_vocabulary_and_context_matches_cpu(cuda, monkeypatch):
    """The benchmark's shapes where they matter, in a narrow model: the 50257-word LM head
    (padded rows, the split backward, the fused cross-entropy), 1024 positions in several
    attention blocks, the fused AdamW over flat buffers. TF32 stays off: full float32."""
    from ember_models.gpt2 import GPT2Config

    from ember_cuda.kernels import flash_attention

    monkeypatch.setattr(flash_attention, "BLOCK_SCORES", 1 << 20)  # 1024 queries in 4 blocks of 256
    config = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=64, n_layer=2, n_head=4)
    cpu_losses, cpu_state = _train("cpu", config=config, batch=1)
    tf32 = ember.cuda.matmul.allow_tf32
    ember.cuda.matmul.allow_tf32 = False
    try:
        gpu_losses, gpu_state = _train(cuda, config=config, batch=1, fused=True)
    finally:
        ember.cuda.matmul.allow_tf32 = tf32
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4)
    assert gpu_losses[-1] < gpu_losses[0] - 0.05
    for name, value in cpu_state.items():
        np.testing.assert_allclose(gpu_state[name], value, rtol=1e-3, atol=1e-4, err_msg=name)
