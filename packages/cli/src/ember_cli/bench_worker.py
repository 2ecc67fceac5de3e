"""One benchmark case in a fresh process: ``python -m ember_cli.bench_worker JSON`` prints JSON.

Each case runs alone so that its peak memory (the growth of the process's peak resident
set over what it held before the model was built) is its own, for ember and PyTorch alike.
The step timed is a full training step of the model's task on random inputs of the right
shapes: forward, the task's loss, backward, AdamW update. PyTorch runs the model's twin
from :mod:`ember_cli.torch_twins`.
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


def case_config(case: dict):
    """The resolved run config of a case (its preset and --set values)."""
    from .config import Resolver

    r = Resolver(case["model"], case.get("preset"))
    for s in case.get("sets", []):
        r.apply_set(s)
    cfg = r.config
    if cfg.task == "text" and not any(s.startswith("model.vocab_size") for s in case.get("sets", [])):
        cfg.model.vocab_size = cfg.data.vocab_size  # what training on the fortunes would give it
    return cfg


def input_shape(cfg, case: dict) -> tuple:
    """The shape of one batch's main input: (B, T) tokens or (B, C, S, S) images."""
    m, b = cfg.model, case["batch_size"]
    if cfg.task in ("lm", "text"):
        return (b, case["seq_len"])
    channels = getattr(m, "num_channels", None) or getattr(m, "in_channels", 1)
    side = getattr(m, "image_size", None) or case.get("image_size") or 28
    return (b, channels, side, side)


def synthetic_batch(cfg, case: dict) -> tuple:
    """Random NumPy inputs of one training step, in the order the task's loss takes them."""
    import numpy as np

    rng = np.random.default_rng(0)
    m, shape = cfg.model, input_shape(cfg, case)
    b = shape[0]
    if cfg.task == "lm":
        ids = rng.integers(0, m.vocab_size, (b, shape[1] + 1))
        return ids[:, :-1], ids[:, 1:]
    if cfg.task == "image":
        return rng.standard_normal(shape).astype(np.float32), rng.integers(0, m.num_classes, b)
    if cfg.task == "text":
        ids = rng.integers(5, m.vocab_size, shape)
        ids[:, 0] = 2  # [CLS]
        return ids, np.ones(shape, np.int64), np.zeros(shape, np.int64), rng.integers(0, m.num_labels, b)
    length = m.max_position_embeddings
    ids = rng.integers(4, m.vocab_size, (b, length))
    ids[:, 0], ids[:, -1] = 2, m.eos_token_id
    ids[ids == m.eos_token_id] = 4
    ids[:, -1] = m.eos_token_id
    return rng.standard_normal(shape).astype(np.float32), ids, np.ones((b, length), np.int64)


def _ember_step(case):
    import numpy as np

    import ember
    from ember_models import get_spec

    from .tasks import make_task

    cfg = case_config(case)
    ember.manual_seed(0)
    model = get_spec(case["model"]).builder(cfg.model)
    device = ember.device(case.get("device") or "cpu")
    model.to(device)
    model.train()
    opt = ember.optim.create("AdamW", model.parameters(), lr=1e-4)
    task = make_task(cfg, device)
    batch = tuple(ember.tensor(a, device=device) for a in synthetic_batch(cfg, case))
    params = sum(int(np.prod(p.shape)) for p in model.parameters())

    def step():
        loss = task.loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        float(loss.item())  # waits for the device
    return step, params


def _torch_step(case):
    import torch

    from .torch_twins import twin

    cfg = case_config(case)
    torch.manual_seed(0)
    model = twin(case["model"], cfg.model)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = tuple(torch.from_numpy(a) for a in synthetic_batch(cfg, case))
    params = sum(p.numel() for p in model.parameters())

    def step():
        loss = model.loss(*batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        float(loss.item())
    return step, params


def measure(case: dict) -> dict:
    if case["framework"] == "torch":  # imports are not the model's memory
        import torch  # noqa: F401
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
    cfg = case_config(case)
    shape = input_shape(cfg, case)
    items = shape[0] * shape[1] if cfg.task == "lm" else shape[0]
    unit = {"lm": "tokens", "image": "images", "text": "sequences", "clip": "pairs"}[cfg.task]
    result = {"framework": case["framework"], "model": case["model"], "task": cfg.task, "params": params,
              "batch_size": shape[0], "input": "x".join(str(s) for s in shape), "steps": case["steps"],
              "step_ms": median * 1e3, "step_ms_min": min(times) * 1e3, "items_per_s": items / median,
              "unit": unit, "peak_mem_mb": max(0, _peak_bytes() - before) / 2**20}
    if cfg.task in ("lm", "text"):
        result["seq_len"] = shape[1]
    if cfg.task == "lm":
        result["tokens_per_s"] = result["items_per_s"]
    return result


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
