"""BERT-mini (4 layers, d=256, 4 heads, vocab 30522) training step, ember against PyTorch CPU eager.

    pytest benchmarks/test_zoo_bert.py --benchmark-group-by=group

One step: sequence classification (2 labels) on a (16, 128) batch with padding, cross-entropy,
backward, AdamW. The PyTorch twin below is the same model written with torch.nn (no
transformers needed) and starts from ember's weights; ``test_same_loss`` checks that both
compute the same loss, so the timings compare the same work.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cases

pytestmark = pytest.mark.benchmark

BATCH, SEQ, LABELS = 16, 128, 2
ROUNDS, WARMUP = 5, 1


def _inputs():
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30522, (BATCH, SEQ))
    ids[:, 0] = 101
    lengths = rng.integers(SEQ // 2, SEQ + 1, BATCH)
    mask = (np.arange(SEQ)[None, :] < lengths[:, None]).astype(np.int64)
    ids = np.where(mask == 1, ids, 0)
    types = np.zeros_like(ids)
    labels = rng.integers(0, LABELS, BATCH)
    return ids, mask, types, labels


def _ember_model():
    import ember
    from ember_models.bert import PRESETS, BertConfig, build_bert

    ember.manual_seed(0)
    return build_bert(BertConfig(**PRESETS["mini"], head="classification", num_labels=LABELS,
                                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))


def _torch_twin(ember_model):
    """The same BERT in torch.nn, loaded with ``ember_model``'s weights (Hugging Face names)."""
    torch = cases.import_torch()
    tnn, F = torch.nn, torch.nn.functional
    cfg = ember_model.config

    class Layer(tnn.Module):
        def __init__(self):
            super().__init__()
            d, h = cfg.hidden_size, cfg.intermediate_size
            self.q, self.k, self.v, self.o = (tnn.Linear(d, d) for _ in range(4))
            self.ln1, self.ln2 = tnn.LayerNorm(d, eps=cfg.layer_norm_eps), tnn.LayerNorm(d, eps=cfg.layer_norm_eps)
            self.fc1, self.fc2 = tnn.Linear(d, h), tnn.Linear(h, d)

        def forward(self, x, mask):
            b, t, d = x.shape
            heads = cfg.num_attention_heads

            def split(y):
                return y.view(b, t, heads, d // heads).transpose(1, 2)

            a = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)), attn_mask=mask)
            x = self.ln1(x + self.o(a.transpose(1, 2).reshape(b, t, d)))
            return self.ln2(x + self.fc2(F.gelu(self.fc1(x))))

    class Bert(tnn.Module):
        def __init__(self):
            super().__init__()
            d = cfg.hidden_size
            self.word = tnn.Embedding(cfg.vocab_size, d)
            self.pos = tnn.Embedding(cfg.max_position_embeddings, d)
            self.segment = tnn.Embedding(cfg.type_vocab_size, d)
            self.ln = tnn.LayerNorm(d, eps=cfg.layer_norm_eps)
            self.layers = tnn.ModuleList(Layer() for _ in range(cfg.num_hidden_layers))
            self.pool = tnn.Linear(d, d)
            self.classifier = tnn.Linear(d, cfg.num_labels)

        def forward(self, ids, mask, types):
            t = ids.shape[1]
            x = self.ln(self.word(ids) + self.pos(torch.arange(t)) + self.segment(types))
            m = mask.bool()[:, None, None, :]
            for layer in self.layers:
                x = layer(x, m)
            return self.classifier(torch.tanh(self.pool(x[:, 0])))

    model = Bert()
    names = {"word.": "bert.embeddings.word_embeddings.", "pos.": "bert.embeddings.position_embeddings.",
             "segment.": "bert.embeddings.token_type_embeddings.", "ln.": "bert.embeddings.LayerNorm.",
             "pool.": "bert.pooler.dense.", "classifier.": "classifier."}
    sub = {"q.": "attention.self.query.", "k.": "attention.self.key.", "v.": "attention.self.value.",
           "o.": "attention.output.dense.", "ln1.": "attention.output.LayerNorm.", "fc1.": "intermediate.dense.",
           "fc2.": "output.dense.", "ln2.": "output.LayerNorm."}
    source = {k: v.detach().numpy() for k, v in ember_model.state_dict().items()}
    state = {}
    for key in model.state_dict():
        if key.startswith("layers."):
            _, i, rest = key.split(".", 2)
            head, tail = rest.split(".", 1)
            hf = f"bert.encoder.layer.{i}.{sub[head + '.']}{tail}"
        else:
            head, tail = key.split(".", 1)
            hf = names[head + "."] + tail
        state[key] = torch.from_numpy(source[hf].copy())
    model.load_state_dict(state)
    return model


def make(impl: str):
    """One training step of BERT-mini in ``impl`` ("ember" or "torch"), ready to call repeatedly."""
    ids, mask, types, labels = _inputs()
    model = _ember_model()
    if impl == "ember":
        import ember

        inputs = [ember.tensor(a) for a in (ids, mask, types)]
        y = ember.tensor(labels)
        opt = ember.optim.AdamW(model.parameters(), lr=1e-4)

        def step():
            loss, _ = model(*inputs, labels=y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()
        return step
    torch = cases.import_torch()
    twin = _torch_twin(model)
    inputs = [torch.from_numpy(a) for a in (ids, mask, types)]
    y = torch.from_numpy(labels)
    opt = torch.optim.AdamW(twin.parameters(), lr=1e-4)

    def step():
        loss = torch.nn.functional.cross_entropy(twin(*inputs), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def test_same_loss():
    pytest.importorskip("torch", reason="the PyTorch reference is not installed")
    a, b = make("ember")(), make("torch")()
    assert math.isclose(a, b, rel_tol=1e-4), (a, b)


@pytest.mark.parametrize("impl", ["ember", "torch"])
def test_bert_mini_train_step(benchmark, impl):
    if impl == "torch":
        pytest.importorskip("torch", reason="the PyTorch reference is not installed")
    step = make(impl)
    benchmark.group = "bert-mini-train-step"
    benchmark.extra_info.update(impl=impl, blas=cases.blas_info(),
                                description="BERT-mini (4x256, vocab 30522) classification step, batch 16x128, AdamW")
    benchmark.pedantic(step, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP)
