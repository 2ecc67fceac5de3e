"""Checks shared by the GPT-2 and Llama tests: every language model of the zoo must pass them."""

from __future__ import annotations

import numpy as np

import ember
from ember.serialization import load_file, save_file


def ids(batch, length, vocab, seed=0):
    return ember.tensor(np.random.default_rng(seed).integers(0, vocab, size=(batch, length)))


def check_backward_grads(model, vocab):
    x = ids(2, 9, vocab)
    loss = model.loss(x[:, :-1], x[:, 1:])
    assert np.isfinite(loss.item())
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        g = p.grad.numpy()
        assert np.isfinite(g).all(), name
        assert np.abs(g).max() > 0, name


def check_training_lowers_loss(model, vocab, steps=8, lr=3e-3):
    x = ids(4, 17, vocab, seed=1)
    inp, tgt = x[:, :-1], x[:, 1:]
    opt = ember.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = model.loss(inp, tgt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.5, losses


def check_save_load(model, fresh, tmp_path, vocab):
    path = tmp_path / "model.safetensors"
    save_file({k: v for k, v in model.state_dict().items()}, path)
    fresh.load_state_dict(load_file(path))
    x = ids(2, 6, vocab)
    model.eval(), fresh.eval()
    with ember.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), fresh(x).numpy())


def check_cache_matches_full_forward(model, vocab):
    model.eval()
    x = ids(2, 10, vocab)
    with ember.no_grad():
        full = model(x).numpy()
        cache = model.make_cache()
        a = model(x[:, :6], cache=cache).numpy()
        b = model(x[:, 6:9], cache=cache).numpy()   # several new steps at once
        c = model(x[:, 9:], cache=cache).numpy()    # one step
    got = np.concatenate([a, b, c], axis=1)
    np.testing.assert_allclose(got, full, rtol=1e-4, atol=1e-5)


def check_generation(model, vocab):
    prompt = ids(2, 4, vocab)
    greedy = model.generate(prompt, 6, temperature=0)
    assert greedy.shape == (2, 10)
    np.testing.assert_array_equal(greedy.numpy()[:, :4], prompt.numpy())
    # greedy with and without the cache agree; top_k=1 sampling is greedy
    np.testing.assert_array_equal(model.generate(prompt, 6, do_sample=False, use_cache=False).numpy(),
                                  greedy.numpy())
    np.testing.assert_array_equal(model.generate(prompt, 6, top_k=1).numpy(), greedy.numpy())
    # sampling is reproducible under ember.manual_seed / a Generator
    ember.manual_seed(3)
    a = model.generate(prompt, 8, temperature=1.0, top_k=50, top_p=0.9).numpy()
    ember.manual_seed(3)
    b = model.generate(prompt, 8, temperature=1.0, top_k=50, top_p=0.9).numpy()
    np.testing.assert_array_equal(a, b)
    c = model.generate(prompt, 8, temperature=1.0, generator=ember.Generator(7)).numpy()
    d = model.generate(prompt, 8, temperature=1.0, generator=ember.Generator(7)).numpy()
    np.testing.assert_array_equal(c, d)
    # a stop token ends the row (kept) and pads after it; 1-D prompts give 1-D output
    stop = int(greedy.numpy()[0, 4])
    out = model.generate(prompt[0], 6, temperature=0, stop_tokens=[stop]).numpy()
    assert out.ndim == 1 and out[-1] == stop and len(out) == 5


def check_generation_slides_past_context(model, vocab, max_len):
    prompt = ids(1, max_len - 2, vocab)
    out = model.generate(prompt, 5, temperature=0)
    assert out.shape == (1, max_len + 3)
    np.testing.assert_array_equal(out.numpy(), model.generate(prompt, 5, temperature=0, use_cache=False).numpy())
