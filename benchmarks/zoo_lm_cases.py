"""Training-step benchmark cases for the zoo's language models, ember vs the same model in PyTorch.

- ``gpt-mini-train-step``: GPT-2 layout (learned positions, pre-LN, tanh-GELU, tied embeddings,
  causal attention), 4 layers, d 256, 4 heads, vocab 4096, seq 128, batch 16, AdamW.
- ``llama-mini-train-step``: Llama layout (RMSNorm, RoPE, SwiGLU 704, no biases), 4 layers,
  dim 256, 4 heads, vocab 4096, seq 128, batch 16, AdamW.

Ember runs ``ember_models.create(name, preset="mini")``; PyTorch runs a hand-written twin with
the same shapes. ``make(case, impl)`` returns a zero-argument step, as cases.py does.
"""

from __future__ import annotations

import numpy as np

CASES = {"gpt-mini-train-step": ("ember", "torch"), "llama-mini-train-step": ("ember", "torch")}
DESCRIPTIONS = {
    "gpt-mini-train-step": "GPT-mini (4 layers, d 256, 4 heads, vocab 4096) step, batch 16 x 128, AdamW, float32",
    "llama-mini-train-step": "Llama-mini (4 layers, dim 256, RoPE, SwiGLU, vocab 4096) step, batch 16 x 128, AdamW",
}
BATCH, SEQ, VOCAB = 16, 128, 4096


def _data():
    ids = np.random.default_rng(0).integers(0, VOCAB, size=(BATCH, SEQ + 1))
    return ids[:, :-1], ids[:, 1:]


def torch_gpt(torch, vocab=VOCAB, seq=SEQ, d=256, h=4, n_layer=4):
    """GPT-2 in PyTorch (pre-LN, tanh GELU, SDPA, tied embeddings); GPT-mini's sizes by default."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.c_fc, self.mlp_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.c_proj(y.transpose(1, 2).reshape(b, t, d))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(seq, d)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(d)
            self.lm_head = nn.Linear(d, vocab, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, idx):
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
            for block in self.h:
                x = block(x)
            return self.lm_head(self.ln_f(x))

    return GPT()


def _torch_llama(torch):
    nn, F = torch.nn, torch.nn.functional
    d, h, n_layer, hidden = 256, 4, 4, 704
    hd = d // h
    inv = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.arange(SEQ, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = torch.cos(ang).float(), torch.sin(ang).float()

    def rope(x):
        x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.n1, self.n2 = nn.RMSNorm(d, eps=1e-5), nn.RMSNorm(d, eps=1e-5)
            self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
            self.gate, self.up = nn.Linear(d, hidden, bias=False), nn.Linear(d, hidden, bias=False)
            self.down = nn.Linear(hidden, d, bias=False)

        def forward(self, x):
            b, t, _ = x.shape
            a = self.n1(x)
            q, k, v = (p(a).view(b, t, h, hd).transpose(1, 2) for p in (self.q, self.k, self.v))
            y = F.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True)
            x = x + self.o(y.transpose(1, 2).reshape(b, t, d))
            m = self.n2(x)
            return x + self.down(F.silu(self.gate(m)) * self.up(m))

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, d)
            self.layers = nn.ModuleList([Layer() for _ in range(n_layer)])
            self.norm = nn.RMSNorm(d, eps=1e-5)
            self.lm_head = nn.Linear(d, VOCAB, bias=False)
            self.lm_head.weight = self.embed.weight

        def forward(self, idx):
            x = self.embed(idx)
            for layer in self.layers:
                x = layer(x)
            return self.lm_head(self.norm(x))

    return Llama()


def make(case: str, impl: str):
    """One training step of ``case`` in ``impl`` ("ember" or "torch"), ready to call repeatedly."""
    if impl not in CASES[case]:
        raise ValueError(f"case {case!r} has no {impl!r} implementation; it has {CASES[case]}")
    x_np, y_np = _data()
    if impl == "ember":
        import ember
        import ember_models

        ember.manual_seed(0)
        name = "gpt2" if case.startswith("gpt") else "llama"
        model = ember_models.create(name, preset="mini")
        x, y = ember.tensor(x_np), ember.tensor(y_np)
    else:
        import cases

        torch = cases.import_torch()
        torch.manual_seed(0)
        model = torch_gpt(torch) if case.startswith("gpt") else _torch_llama(torch)
        x, y = torch.tensor(x_np), torch.tensor(y_np)
        lib_loss = torch.nn.functional.cross_entropy
    opt_lib = ember if impl == "ember" else torch
    opt = opt_lib.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    model.train()

    def step():
        opt.zero_grad()
        if impl == "ember":
            loss = model.loss(x, y)
        else:
            logits = model(x)
            loss = lib_loss(logits.reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    return step
