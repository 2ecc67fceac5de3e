"""Ember on device "mps" against the same models written in MLX's own mlx.nn / mlx.optimizers.

    python benchmarks/mlx_compare.py [--repeat N] [--only gpt-mini mlp]

Both run on MLX's default device (the Metal GPU on Apple silicon, MLX's CPU elsewhere). A
step is forward, backward and the optimizer update, evaluated once (``mx.eval`` of the new
parameters and optimizer state, and the loss). Each implementation runs in a process of its
own, twice, in A-B-B-A order; a time is the median of all timed steps after warm-up. The
ratio is ember / mlx: above 1 means ember is slower.

NOTE: MLX 0.32's CPU device is far slower than NumPy on the same machine (an MLP step of
~1.7 s against NumPy's ~30 ms on 2 cores): on Linux this compares ember with MLX, not MLX
with anything else.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import numpy as np

GPT_SIZES = dict(vocab=4096, seq=128, batch=16, dim=256, layers=4, heads=4)
MLP_SIZES = dict(sizes=(784, 1024, 1024, 10), batch=256)


def _data(vocab_or_classes, shape, features=None):
    rng = np.random.default_rng(0)
    if features is None:
        return rng.integers(0, vocab_or_classes, shape)
    return rng.standard_normal((shape[0], features)).astype(np.float32), rng.integers(0, vocab_or_classes, shape)


# -- ember on "mps" ------------------------------------------------------------------------


def _ember_step(loss_fn, opt):
    def step():
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step



def ember_gpt():
    import ember
    import ember_models
    from ember import optim
    from ember.nn import functional as F

    c = GPT_SIZES
    model = ember_models.create("gpt2", vocab_size=c["vocab"], n_positions=c["seq"], n_embd=c["dim"],
                                n_layer=c["layers"], n_head=c["heads"], dropout=0.0).to("mps")
    opt = optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    ids = ember.tensor(_data(c["vocab"], (c["batch"], c["seq"] + 1)), device="mps")
    x, y = ids[:, :-1], ids[:, 1:].reshape(-1)

    return _ember_step(lambda: F.cross_entropy(model(x).reshape(-1, c["vocab"]), y), opt)


def ember_mlp():
    import ember
    from ember import nn, optim
    from ember.nn import functional as F

    a, b, h, k = MLP_SIZES["sizes"]
    model = nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, h), nn.ReLU(), nn.Linear(h, k)).to("mps")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = _data(k, (MLP_SIZES["batch"],), features=a)
    x, y = ember.tensor(xs, device="mps"), ember.tensor(ys, device="mps")

    return _ember_step(lambda: F.cross_entropy(model(x), y), opt)


# -- the same models in mlx.nn ------------------------------------------------------------


def _mlx_step(model, opt, x, y):
    """One step as an MLX training loop writes it: value_and_grad, update, one mx.eval."""
    import mlx.core as mx
    import mlx.nn as nn

    def loss_fn(m):
        return nn.losses.cross_entropy(m(x), y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    mx.eval(model.parameters())

    def step():
        loss, grads = loss_and_grad(model)
        opt.update(model, grads)
        mx.eval(model.parameters(), opt.state, loss)
        return loss.item()

    return step



def mlx_gpt():
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim

    c = GPT_SIZES

    class Block(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.heads = heads

        def __call__(self, x):
            b, t, d = x.shape
            q, k, v = mx.split(self.c_attn(self.ln_1(x)), 3, axis=-1)
            q, k, v = (a.reshape(b, t, self.heads, -1).transpose(0, 2, 1, 3) for a in (q, k, v))
            a = mx.fast.scaled_dot_product_attention(q, k, v, scale=q.shape[-1] ** -0.5, mask="causal")
            x = x + self.c_proj(a.transpose(0, 2, 1, 3).reshape(b, t, d))
            return x + self.proj(nn.gelu_approx(self.fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(c["vocab"], c["dim"]), nn.Embedding(c["seq"], c["dim"])
            self.h = [Block(c["dim"], c["heads"]) for _ in range(c["layers"])]
            self.ln_f = nn.LayerNorm(c["dim"])

        def __call__(self, ids):
            x = self.wte(ids) + self.wpe(mx.arange(ids.shape[1]))
            for block in self.h:
                x = block(x)
            return self.wte.as_linear(self.ln_f(x))  # tied embeddings

    model = GPT()
    opt = optim.AdamW(learning_rate=3e-4, weight_decay=0.1)
    ids = mx.array(_data(c["vocab"], (c["batch"], c["seq"] + 1)))
    x, y = ids[:, :-1], ids[:, 1:]

    return _mlx_step(model, opt, x, y)


def mlx_mlp():
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim

    a, b, h, k = MLP_SIZES["sizes"]
    model = nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, h), nn.ReLU(), nn.Linear(h, k))
    opt = optim.Adam(learning_rate=1e-3)
    xs, ys = _data(k, (MLP_SIZES["batch"],), features=a)
    x, y = mx.array(xs), mx.array(ys)

    return _mlx_step(model, opt, x, y)


CASES = {"gpt-mini": {"ember": ember_gpt, "mlx": mlx_gpt}, "mlp": {"ember": ember_mlp, "mlx": mlx_mlp}}
REPEAT = {"gpt-mini": 4, "mlp": 8}  # MLX on a CPU takes seconds a step; on Metal, raise them


def worker(case: str, impl: str, repeat: int) -> list[float]:
    from compare import time_steps

    return time_steps(CASES[case][impl](), repeat, warmup=2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=None, help="timed steps per implementation")
    parser.add_argument("--only", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        case, impl, repeat = args.worker
        print(json.dumps(worker(case, impl, int(repeat))))
        return 0
    import mlx.core as mx

    print(f"MLX {mx.__version__} on {mx.default_device()}")
    print(f"{'case':<10} {'ember (ms)':>11} {'mlx (ms)':>9} {'ember/mlx':>10}")
    for case in args.only:
        repeat = args.repeat or REPEAT[case]
        times = {"ember": [], "mlx": []}
        for impl in ("ember", "mlx", "mlx", "ember"):
            out = subprocess.run([sys.executable, __file__, "--worker", case, impl, str(max(2, repeat // 2))],
                                 check=True, capture_output=True, text=True).stdout
            times[impl] += json.loads(out.strip().splitlines()[-1])
        e, m = statistics.median(times["ember"]), statistics.median(times["mlx"])
        print(f"{case:<10} {e * 1e3:>11.1f} {m * 1e3:>9.1f} {e / m:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
