"""ViT-tiny training step: ember_models' ViT against the same model in PyTorch CPU eager.

    pytest benchmarks/test_zoo_vit.py --benchmark-group-by=group
    python3 benchmarks/test_zoo_vit.py          # prints the ember/torch ratio of median step times

The model is ``ember_models.create("vit", preset="ti4-32")``: 32x32x3 images, 4x4 patches (64 + 1
tokens), dim 192, depth 6, 3 heads, MLP 768, 10 classes; batch 64, AdamW, float32. The PyTorch
twin is written here with the same shapes, pre-norm blocks, exact GELU and fused attention,
and the same work: its final norm runs on the class token alone, as ember_models' does.
"""

from __future__ import annotations

import numpy as np
import pytest

import cases

pytestmark = pytest.mark.benchmark

CASE = "vit-tiny-train-step"
DESCRIPTION = "ViT-Ti (32x32, patch 4, dim 192, depth 6, heads 3) step, batch 64, AdamW, float32"
BATCH, IMAGE, PATCH, DIM, DEPTH, HEADS, MLP, CLASSES = 64, 32, 4, 192, 6, 3, 768, 10


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, 3, IMAGE, IMAGE), dtype=np.float32), rng.integers(0, CLASSES, BATCH)


def _torch_vit(torch):
    nn, F = torch.nn, torch.nn.functional
    n = (IMAGE // PATCH) ** 2

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(DIM, eps=1e-12), nn.LayerNorm(DIM, eps=1e-12)
            self.q, self.k, self.v, self.o = (nn.Linear(DIM, DIM) for _ in range(4))
            self.fc1, self.fc2 = nn.Linear(DIM, MLP), nn.Linear(MLP, DIM)

        def forward(self, x):
            b, t, _ = x.shape
            h = self.ln1(x)
            q, k, v = (p(h).view(b, t, HEADS, DIM // HEADS).transpose(1, 2) for p in (self.q, self.k, self.v))
            x = x + self.o(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, DIM))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(3, DIM, PATCH, stride=PATCH)
            self.cls = nn.Parameter(torch.zeros(1, 1, DIM))
            self.pos = nn.Parameter(torch.randn(1, n + 1, DIM) * 0.02)
            self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
            self.ln = nn.LayerNorm(DIM, eps=1e-12)
            self.head = nn.Linear(DIM, CLASSES)

        def forward(self, x):
            x = self.patch(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], 1, DIM), x], dim=1) + self.pos
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln(x[:, 0]))  # as ember_models' ViT: only the class token is normed

    return ViT()


def make(impl: str):
    """A zero-argument training step of ``impl`` ("ember" or "torch")."""
    x_np, y_np = _data()
    if impl == "ember":
        import ember
        from ember.nn import functional as F

        from ember_models import vit

        ember.manual_seed(0)
        model = vit.ViT(vit.ViTConfig(**vit.PRESETS["ti4-32"]))
        x, y = ember.tensor(x_np), ember.tensor(y_np)
        opt = ember.optim.AdamW(model.parameters(), lr=1e-3)
    else:
        torch = cases.import_torch()
        F = torch.nn.functional
        torch.manual_seed(0)
        model = _torch_vit(torch)
        x, y = torch.tensor(x_np), torch.tensor(y_np)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


@pytest.mark.parametrize("impl", ["ember", "torch"])
def test_vit_tiny_train_step(benchmark, impl):
    if impl == "torch":
        pytest.importorskip("torch", reason="the PyTorch reference is not installed")
    step = make(impl)
    benchmark.group = CASE
    benchmark.extra_info.update(impl=impl, description=DESCRIPTION, blas=cases.blas_info())
    benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=2)


if __name__ == "__main__":
    import sys
    import time

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    steps = {impl: make(impl) for impl in ("ember", "torch")}
    times = {impl: [] for impl in steps}
    for impl in steps:  # warm-up
        steps[impl]()
    for _ in range(rounds):  # interleaved so load changes hit both alike
        for impl, step in steps.items():
            t = time.perf_counter()
            step()
            times[impl].append(time.perf_counter() - t)
    med = {impl: float(np.median(t)) for impl, t in times.items()}
    print(f"{DESCRIPTION}: ember {med['ember'] * 1e3:.0f} ms, torch {med['torch'] * 1e3:.0f} ms, "
          f"ratio ember/torch {med['ember'] / med['torch']:.2f}")
