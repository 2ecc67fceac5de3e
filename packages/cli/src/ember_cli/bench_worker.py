"""One benchmark case in a fresh process: ``python -m ember_cli.bench_worker JSON`` prints JSON.

Each case runs alone so that its peak memory (the growth of the process's peak resident
set over what it held before the model was built) is its own, for ember and PyTorch alike.
The step timed is a full training step: forward, cross-entropy, backward, AdamW update.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _ember_step(case):
    import numpy as np

    import ember
    from ember_models import get_spec

    from .config import Resolver

    r = Resolver(case["model"], case.get("preset"))
    for s in case.get("sets", []):
        r.apply_set(s)
    cfg = r.config
    ember.manual_seed(0)
    model = get_spec(case["model"]).builder(cfg.model)
    device = ember.device(case.get("device") or "cpu")
    model.to(device)
    opt = ember.optim.create("AdamW", model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    shape = (case["batch_size"], case["seq_len"])
    x = ember.tensor(rng.integers(0, cfg.model.vocab_size, shape), device=device)
    y = ember.tensor(rng.integers(0, cfg.model.vocab_size, shape), device=device)
    params = sum(int(np.prod(p.shape)) for p in model.parameters())

    def step():
        loss = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        float(loss.item())  # waits for the device
    return step, params


def _torch_step(case):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from .config import Resolver

    r = Resolver(case["model"], case.get("preset"))
    for s in case.get("sets", []):
        r.apply_set(s)
    c = r.config.model
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=c.vocab_size, n_positions=c.n_positions, n_embd=c.n_embd,
                                       n_layer=c.n_layer, n_head=c.n_head, n_inner=c.n_inner,
                                       layer_norm_epsilon=c.layer_norm_epsilon, resid_pdrop=c.dropout,
                                       embd_pdrop=c.dropout, attn_pdrop=c.dropout,
                                       tie_word_embeddings=c.tie_word_embeddings))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    shape = (case["batch_size"], case["seq_len"])
    x = torch.randint(0, c.vocab_size, shape, generator=g)
    y = torch.randint(0, c.vocab_size, shape, generator=g)
    params = sum(p.numel() for p in model.parameters())

    def step():
        logits = model(x).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        float(loss.item())
    return step, params


def measure(case: dict) -> dict:
    if case["framework"] == "torch":  # imports are not the model's memory
        import torch  # noqa: F401
        import transformers  # noqa: F401
    else:
        import ember_models  # noqa: F401
    before = _rss_bytes()
    step, params = (_torch_step if case["framework"] == "torch" else _ember_step)(case)
    for _ in range(case["warmup"]):
        step()
    times = []
    for _ in range(case["steps"]):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    tokens = case["batch_size"] * case["seq_len"]
    return {"framework": case["framework"], "model": case["model"], "params": params,
            "batch_size": case["batch_size"], "seq_len": case["seq_len"], "steps": case["steps"],
            "step_ms": median * 1e3, "step_ms_min": min(times) * 1e3, "tokens_per_s": tokens / median,
            "peak_mem_mb": max(0, _peak_bytes() - before) / 2**20}


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
