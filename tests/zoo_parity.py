"""One check shared by the backend tests: every zoo model's tiny preset trains on a device
exactly as on "cpu": same loss, same gradient for every parameter (each of them finite and
nonzero), same weights after SGD steps (momentum)."""

from __future__ import annotations

import numpy as np

import ember
import ember_models
from ember import optim
from ember.nn import functional as F


def host(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy(), dtype=np.float64)


def assert_close(a, b, what: str, rtol=2e-4, atol=2e-5) -> None:
    np.testing.assert_allclose(host(a) if isinstance(a, ember.Tensor) else a,
                               host(b) if isinstance(b, ember.Tensor) else b,
                               rtol=rtol, atol=atol, err_msg=what)


RNG = np.random.default_rng(0)


def _lm_loss(model, ids):
    logits = model(ids)
    logits = logits[0] if isinstance(logits, tuple) else logits
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def _batch(name, config):
    if name in ("gpt2", "llama"):
        return {"ids": RNG.integers(0, config.vocab_size, (2, 12))}
    if name == "bert":
        ids = RNG.integers(4, config.vocab_size, (2, 10))
        mask = np.ones_like(ids)
        mask[1, 7:] = 0
        return {"ids": ids, "mask": mask, "labels": np.where(RNG.random(ids.shape) < 0.3, ids, -100)}
    if name in ("vit", "resnet"):
        c = getattr(config, "num_channels", getattr(config, "in_channels", 1))
        size = getattr(config, "image_size", 16)
        return {"x": RNG.standard_normal((4, c, size, size)).astype(np.float32), "y": RNG.integers(0, 10, 4)}
    if name == "clip":
        ids = RNG.integers(2, config.vocab_size, (3, 6))
        ids[:, -1] = config.eos_token_id
        return {"x": RNG.standard_normal((3, config.num_channels, config.image_size, config.image_size))
                .astype(np.float32), "ids": ids}
    raise AssertionError(name)


def _loss(name, model, batch, device):
    t = {k: ember.tensor(v, device=device) for k, v in batch.items()}
    if name in ("gpt2", "llama"):
        return _lm_loss(model, t["ids"])
    if name == "bert":
        out = model(t["ids"], attention_mask=t["mask"], labels=t["labels"])
        return out[0] if isinstance(out, tuple) else out.loss
    if name in ("vit", "resnet"):
        out = model(t["x"])
        return F.cross_entropy(out[0] if isinstance(out, tuple) else out, t["y"])
    if name == "clip":
        return model.loss(t["x"], t["ids"])
    raise AssertionError(name)


def check_tiny_model_parity(name: str, device: str) -> None:
    """Train ``name``'s tiny preset 3 SGD steps on the CPU and on ``device`` from the same weights."""
    ember.manual_seed(0)
    cpu = ember_models.create(name, preset="tiny")
    other = ember_models.create(name, preset="tiny")
    other.load_state_dict(cpu.state_dict())
    other.to(device)
    batch = _batch(name, cpu.config)
    opts = [optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for m in (cpu, other)]
    for step in range(3):
        losses = []
        for model, opt, device in ((cpu, opts[0], "cpu"), (other, opts[1], device)):
            ember.manual_seed(step)  # the same dropout masks on both devices
            opt.zero_grad()
            loss = _loss(name, model, batch, device)
            loss.backward()
            losses.append(loss)
        assert losses[1].device.type == ember.device(device).type
        assert_close(losses[0], losses[1], f"{name} loss at step {step}", rtol=1e-4, atol=1e-5)
        if step == 0:
            for (pname, p), q in zip(cpu.named_parameters(), other.parameters()):
                assert q.grad is not None, f"{name}.{pname} got no gradient on {device}"
                g = host(q.grad)
                assert np.isfinite(g).all() and np.abs(g).max() > 0, f"{name}.{pname}: gradient {g.ravel()[:4]}"
                assert_close(p.grad, q.grad, f"{name}.{pname} gradient", rtol=2e-3, atol=1e-5)
        for opt in opts:
            opt.step()
    for (pname, p), q in zip(cpu.named_parameters(), other.parameters()):
        assert_close(p, q, f"{name}.{pname} after 3 SGD steps", rtol=1e-3, atol=1e-4)
