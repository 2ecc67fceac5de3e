"""The zoo's models written again in PyTorch, with ember's ``state_dict`` names: the twins that
``ember bench --compare torch`` times and the reference recipes (benchmarks/reference) train.

``twin(model_name, config)`` builds the PyTorch module of an ember model config (GPT2Config,
LlamaConfig, ViTConfig, ResNetConfig, BertConfig with the classification head, CLIPConfig);
``copy_from_ember(twin, ember_model)`` loads an ember model's weights into it, so both start
from the same numbers and give the same outputs (tests/cli/test_torch_twins.py checks it).
Every twin has ``loss(*batch)``, the same loss as the ember task computes.

torch is imported inside these functions only: ember-cli does not depend on it.
"""

from __future__ import annotations



def _torch():
    try:
        import torch
    except ImportError:
        from .output import UsageError

        raise UsageError("--compare torch needs PyTorch: pip install torch") from None
    return torch


def _attention(F, q, k, v, heads, mask=None, causal=False):
    """Multi-head attention of projected (B, N, D) q, k, v; ``mask`` True = may attend."""
    b, n, d = q.shape
    q, k, v = (t.reshape(b, t.shape[1], heads, d // heads).transpose(1, 2) for t in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None)
    return y.transpose(1, 2).reshape(b, n, d)


def gpt2(c):
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional
    d, inner = c.n_embd, c.n_inner or 4 * c.n_embd

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn, self.c_proj = nn.Linear(d, 3 * d, bias=c.bias), nn.Linear(d, d, bias=c.bias)

        def forward(self, x):
            q, k, v = self.c_attn(x).split(d, dim=2)
            return self.c_proj(_attention(F, q, k, v, c.n_head, causal=True))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc, self.c_proj = nn.Linear(d, inner, bias=c.bias), nn.Linear(inner, d, bias=c.bias)

        def forward(self, x):
            return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d, eps=c.layer_norm_epsilon, bias=c.bias)
            self.attn = Attn()
            self.ln_2 = nn.LayerNorm(d, eps=c.layer_norm_epsilon, bias=c.bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class Trunk(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(c.vocab_size, d), nn.Embedding(c.n_positions, d)
            self.h = nn.ModuleList([Block() for _ in range(c.n_layer)])
            self.ln_f = nn.LayerNorm(d, eps=c.layer_norm_epsilon, bias=c.bias)

    class GPT2(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = Trunk()
            self.lm_head = nn.Linear(d, c.vocab_size, bias=False)
            if c.tie_word_embeddings:
                self.lm_head.weight = self.transformer.wte.weight

        def forward(self, idx):
            t = self.transformer
            x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1]))
            for block in t.h:
                x = block(x)
            return self.lm_head(t.ln_f(x))

        def loss(self, idx, targets):
            logits = self(idx)
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    return GPT2()


def llama(c):
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional
    d, h = c.dim, c.n_heads
    kv, hd = c.n_kv_heads or c.n_heads, c.dim // c.n_heads
    inv = 1.0 / (c.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))

    def rope(x):  # Hugging Face's layout: feature i pairs with feature i + hd/2
        ang = torch.arange(x.shape[-2], dtype=torch.float64)[:, None] * inv[None, :]
        cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
        x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj, self.o_proj = nn.Linear(d, h * hd, bias=False), nn.Linear(h * hd, d, bias=False)
            self.k_proj, self.v_proj = nn.Linear(d, kv * hd, bias=False), nn.Linear(d, kv * hd, bias=False)

        def forward(self, x):
            b, t, _ = x.shape
            q = self.q_proj(x).view(b, t, h, hd).transpose(1, 2)
            k = self.k_proj(x).view(b, t, kv, hd).transpose(1, 2)
            v = self.v_proj(x).view(b, t, kv, hd).transpose(1, 2)
            if kv != h:
                k, v = k.repeat_interleave(h // kv, dim=1), v.repeat_interleave(h // kv, dim=1)
            y = F.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True)
            return self.o_proj(y.transpose(1, 2).reshape(b, t, h * hd))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_proj, self.up_proj = nn.Linear(d, c.ffn_dim, bias=False), nn.Linear(d, c.ffn_dim, bias=False)
            self.down_proj = nn.Linear(c.ffn_dim, d, bias=False)

        def forward(self, x):
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_layernorm = nn.RMSNorm(d, eps=c.norm_eps)
            self.self_attn = Attn()
            self.post_attention_layernorm = nn.RMSNorm(d, eps=c.norm_eps)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.self_attn(self.input_layernorm(x))
            return x + self.mlp(self.post_attention_layernorm(x))

    class Trunk(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(c.vocab_size, d)
            self.layers = nn.ModuleList([Layer() for _ in range(c.n_layers)])
            self.norm = nn.RMSNorm(d, eps=c.norm_eps)

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = Trunk()
            self.lm_head = nn.Linear(d, c.vocab_size, bias=False)
            if c.tie_word_embeddings:
                self.lm_head.weight = self.model.embed_tokens.weight

        def forward(self, idx):
            x = self.model.embed_tokens(idx)
            for layer in self.model.layers:
                x = layer(x)
            return self.lm_head(self.model.norm(x))

        def loss(self, idx, targets):
            logits = self(idx)
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    return Llama()


def vit(c):
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional
    d = c.hidden_size

    def lin(i, o, bias=True):
        return nn.Linear(i, o, bias=bias)

    class SelfAttn(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value = (lin(d, d, c.qkv_bias) for _ in range(3))

    class Dense(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.dense = lin(i, o)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention, self.output = SelfAttn(), Dense(d, d)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = Attention()
            self.intermediate, self.output = Dense(d, c.intermediate_size), Dense(c.intermediate_size, d)
            self.layernorm_before = nn.LayerNorm(d, eps=c.layer_norm_eps)
            self.layernorm_after = nn.LayerNorm(d, eps=c.layer_norm_eps)

        def forward(self, x):
            a, s = self.layernorm_before(x), self.attention.attention
            x = x + self.attention.output.dense(_attention(F, s.query(a), s.key(a), s.value(a),
                                                           c.num_attention_heads))
            return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))

    class Patches(nn.Module):
        def __init__(self):
            super().__init__()
            self.projection = nn.Conv2d(c.num_channels, d, c.patch_size, stride=c.patch_size)

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            n = (c.image_size // c.patch_size) ** 2
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
            self.position_embeddings = nn.Parameter(torch.zeros(1, n + 1, d))
            self.patch_embeddings = Patches()

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.ModuleList([Layer() for _ in range(c.num_hidden_layers)])

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings, self.encoder = Embeddings(), Encoder()
            self.layernorm = nn.LayerNorm(d, eps=c.layer_norm_eps)
            self.classifier = lin(d, c.num_classes)

        def forward(self, x):
            e = self.embeddings
            p = e.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
            x = torch.cat([e.cls_token.expand(p.shape[0], 1, d), p], dim=1) + e.position_embeddings
            for layer in self.encoder.layer:
                x = layer(x)
            return self.classifier(self.layernorm(x)[:, 0])

        def loss(self, x, y):
            return F.cross_entropy(self(x), y)

    return ViT()


def resnet(c):
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional
    expansion = 1 if c.block == "basic" else 4

    class Block(nn.Module):
        def __init__(self, c_in, width, stride, downsample):
            super().__init__()
            out = width * expansion
            if c.block == "basic":
                self.conv1 = nn.Conv2d(c_in, width, 3, stride, 1, bias=False)
                self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
            else:
                self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
                self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
                self.conv3 = nn.Conv2d(width, out, 1, bias=False)
                self.bn3 = nn.BatchNorm2d(out)
            self.bn1, self.bn2 = nn.BatchNorm2d(width), nn.BatchNorm2d(width)
            self.downsample = downsample

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if c.block != "basic":
                out = self.bn3(self.conv3(F.relu(out)))
            return F.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            w = c.width
            if c.stem == "imagenet":
                self.conv1 = nn.Conv2d(c.in_channels, w, 7, 2, 3, bias=False)
                self.maxpool = nn.MaxPool2d(3, 2, 1)
            else:
                self.conv1 = nn.Conv2d(c.in_channels, w, 3, 1, 1, bias=False)
                self.maxpool = nn.Identity()
            self.bn1 = nn.BatchNorm2d(w)
            self._c = w
            for i, (mult, stride) in enumerate(((1, 1), (2, 2), (4, 2), (8, 2))):
                setattr(self, f"layer{i + 1}", self._stage(mult * w, c.layers[i], stride))
            self.fc = nn.Linear(8 * w * expansion, c.num_classes)

        def _stage(self, width, depth, stride):
            down = None
            if stride != 1 or self._c != width * expansion:
                down = nn.Sequential(nn.Conv2d(self._c, width * expansion, 1, stride, bias=False),
                                     nn.BatchNorm2d(width * expansion))
            blocks = [Block(self._c, width, stride, down)]
            self._c = width * expansion
            blocks += [Block(self._c, width, 1, None) for _ in range(1, depth)]
            return nn.Sequential(*blocks)

        def forward(self, x):
            x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(x.mean((2, 3)))

        def loss(self, x, y):
            return F.cross_entropy(self(x), y)

    return ResNet()


def bert(c):
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional
    d, approx = c.hidden_size, "none" if c.hidden_act == "gelu" else "tanh"

    class Dense(nn.Module):
        def __init__(self, i, o, norm=False):
            super().__init__()
            self.dense = nn.Linear(i, o)
            if norm:
                self.LayerNorm = nn.LayerNorm(o, eps=c.layer_norm_eps)
                self.dropout = nn.Dropout(c.hidden_dropout_prob)

        def forward(self, x, residual):
            return self.LayerNorm(residual + self.dropout(self.dense(x)))

    class SelfAttn(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

        def forward(self, x, mask):
            b, n, _ = x.shape
            q, k, v = (t.reshape(b, n, c.num_attention_heads, -1).transpose(1, 2)
                       for t in (self.query(x), self.key(x), self.value(x)))
            p = c.attention_probs_dropout_prob if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
            return y.transpose(1, 2).reshape(b, n, d)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.self, self.output = SelfAttn(), Dense(d, d, norm=True)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = Attention()
            self.intermediate = Dense(d, c.intermediate_size)
            self.output = Dense(c.intermediate_size, d, norm=True)

        def forward(self, x, mask):
            a = self.attention.output(self.attention.self(x, mask), x)
            return self.output(F.gelu(self.intermediate.dense(a), approximate=approx), a)

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(c.vocab_size, d, padding_idx=c.pad_token_id)
            self.position_embeddings = nn.Embedding(c.max_position_embeddings, d)
            self.token_type_embeddings = nn.Embedding(c.type_vocab_size, d)
            self.LayerNorm = nn.LayerNorm(d, eps=c.layer_norm_eps)
            self.dropout = nn.Dropout(c.hidden_dropout_prob)

        def forward(self, ids, types):
            h = self.word_embeddings(ids) + self.position_embeddings(torch.arange(ids.shape[1])) \
                + self.token_type_embeddings(types)
            return self.dropout(self.LayerNorm(h))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.ModuleList([Layer() for _ in range(c.num_hidden_layers)])

    class Pooler(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(d, d)

    class Body(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings, self.encoder, self.pooler = Embeddings(), Encoder(), Pooler()

    class BertForSequenceClassification(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = Body()
            p = c.classifier_dropout if c.classifier_dropout is not None else c.hidden_dropout_prob
            self.dropout = nn.Dropout(p)
            self.classifier = nn.Linear(d, c.num_labels)

        def forward(self, ids, attention_mask=None, token_type_ids=None):
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(ids)
            mask = None if attention_mask is None else (attention_mask != 0)[:, None, None, :]
            x = self.bert.embeddings(ids, token_type_ids)
            for layer in self.bert.encoder.layer:
                x = layer(x, mask)
            pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
            return self.classifier(self.dropout(pooled))

        def loss(self, ids, attention_mask, token_type_ids, labels):
            return F.cross_entropy(self(ids, attention_mask, token_type_ids), labels)

    return BertForSequenceClassification()


def clip(c):
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    def act(x):
        return x * torch.sigmoid(1.702 * x) if c.hidden_act == "quick_gelu" else F.gelu(x)

    class Attn(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.heads = heads
            self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

        def forward(self, x, mask=None, causal=False):
            return self.out_proj(_attention(F, self.q_proj(x), self.k_proj(x), self.v_proj(x), self.heads,
                                            mask, causal))

    class MLP(nn.Module):
        def __init__(self, d, hidden):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

        def forward(self, x):
            return self.fc2(act(self.fc1(x)))

    class Layer(nn.Module):
        def __init__(self, d, heads, hidden):
            super().__init__()
            self.self_attn, self.mlp = Attn(d, heads), MLP(d, hidden)
            self.layer_norm1 = nn.LayerNorm(d, eps=c.layer_norm_eps)
            self.layer_norm2 = nn.LayerNorm(d, eps=c.layer_norm_eps)

        def forward(self, x, mask=None, causal=False):
            x = x + self.self_attn(self.layer_norm1(x), mask, causal)
            return x + self.mlp(self.layer_norm2(x))

    class Encoder(nn.Module):
        def __init__(self, n, *args):
            super().__init__()
            self.layers = nn.ModuleList([Layer(*args) for _ in range(n)])

        def forward(self, x, mask=None, causal=False):
            for layer in self.layers:
                x = layer(x, mask, causal)
            return x

    class VisionEmb(nn.Module):
        def __init__(self):
            super().__init__()
            d = c.vision_hidden_size
            self.class_embedding = nn.Parameter(torch.zeros(d))
            self.patch_embedding = nn.Conv2d(c.num_channels, d, c.patch_size, c.patch_size, bias=False)
            self.position_embedding = nn.Embedding((c.image_size // c.patch_size) ** 2 + 1, d)

        def forward(self, x):
            p = self.patch_embedding(x).flatten(2).transpose(1, 2)
            cls = self.class_embedding.reshape(1, 1, -1).expand(p.shape[0], 1, p.shape[2])
            return torch.cat([cls, p], dim=1) + self.position_embedding.weight

    class Vision(nn.Module):
        def __init__(self):
            super().__init__()
            d = c.vision_hidden_size
            self.embeddings = VisionEmb()
            self.pre_layrnorm = nn.LayerNorm(d, eps=c.layer_norm_eps)
            self.encoder = Encoder(c.vision_layers, d, c.vision_heads, c.vision_intermediate_size)
            self.post_layernorm = nn.LayerNorm(d, eps=c.layer_norm_eps)

        def forward(self, x):
            return self.post_layernorm(self.encoder(self.pre_layrnorm(self.embeddings(x)))[:, 0])

    class TextEmb(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding = nn.Embedding(c.vocab_size, c.text_hidden_size)
            self.position_embedding = nn.Embedding(c.max_position_embeddings, c.text_hidden_size)

    class Text(nn.Module):
        def __init__(self):
            super().__init__()
            d = c.text_hidden_size
            self.embeddings = TextEmb()
            self.encoder = Encoder(c.text_layers, d, c.text_heads, c.text_intermediate_size)
            self.final_layer_norm = nn.LayerNorm(d, eps=c.layer_norm_eps)

        def forward(self, ids, attention_mask=None):
            n = ids.shape[1]
            e = self.embeddings
            x = e.token_embedding(ids) + e.position_embedding.weight[:n]
            mask = None
            if attention_mask is not None:
                mask = (torch.tril(torch.ones(n, n, dtype=torch.bool))[None] & (attention_mask != 0)[:, None, :])[:, None]
            x = self.final_layer_norm(self.encoder(x, mask, causal=True))
            pos = ids.argmax(-1) if c.eos_token_id == 2 else (ids == c.eos_token_id).int().argmax(-1)
            return x[torch.arange(ids.shape[0]), pos]

    class CLIP(nn.Module):
        def __init__(self):
            super().__init__()
            self.text_model, self.vision_model = Text(), Vision()
            self.visual_projection = nn.Linear(c.vision_hidden_size, c.projection_dim, bias=False)
            self.text_projection = nn.Linear(c.text_hidden_size, c.projection_dim, bias=False)
            self.logit_scale = nn.Parameter(torch.tensor(float(c.logit_scale_init)))

        def get_image_features(self, x):
            return F.normalize(self.visual_projection(self.vision_model(x)), dim=-1)

        def get_text_features(self, ids, attention_mask=None):
            return F.normalize(self.text_projection(self.text_model(ids, attention_mask)), dim=-1)

        def forward(self, x, ids, attention_mask=None):
            logits = self.get_image_features(x) @ self.get_text_features(ids, attention_mask).T
            return logits * self.logit_scale.exp()

        def loss(self, x, ids, attention_mask=None):
            logits = self(x, ids, attention_mask)
            target = torch.arange(logits.shape[0])
            return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2

    return CLIP()


BUILDERS = {"gpt2": gpt2, "llama": llama, "vit": vit, "resnet": resnet, "bert": bert, "clip": clip}


def twin(model_name: str, config):
    """The PyTorch twin of ember model ``model_name`` with ``config`` (fresh PyTorch weights)."""
    if model_name not in BUILDERS:
        raise ValueError(f"no PyTorch twin of {model_name!r}; twins: {', '.join(BUILDERS)}")
    if model_name == "bert" and config.head != "classification":
        raise ValueError("the BERT twin is the sequence classifier (config.head = 'classification')")
    return BUILDERS[model_name](config)


def copy_from_ember(torch_model, ember_model) -> None:
    """Load an ember model's weights (and BatchNorm statistics) into its twin; names must match."""
    import numpy as np

    torch = _torch()
    theirs = torch_model.state_dict()
    ours = {k: np.asarray(v.numpy()) for k, v in ember_model.state_dict().items()}
    missing = sorted(set(theirs) - set(ours))
    unexpected = sorted(set(ours) - set(theirs))
    if missing or unexpected:
        raise ValueError(f"twin and ember model differ: missing in ember {missing[:5]}, not in twin {unexpected[:5]}")
    state = {}
    for k, v in ours.items():
        if tuple(v.shape) != tuple(theirs[k].shape):
            raise ValueError(f"{k}: ember shape {tuple(v.shape)}, twin shape {tuple(theirs[k].shape)}")
        state[k] = torch.from_numpy(np.array(v, dtype=v.dtype)).to(theirs[k].dtype)
    torch_model.load_state_dict(state)


def init_like_ember(model_name: str, ember_model):
    """The twin of ``ember_model`` with its very weights: both start from the same point."""
    t = twin(model_name, ember_model.config)
    copy_from_ember(t, ember_model)
    return t


__all__ = ["twin", "copy_from_ember", "init_like_ember", "BUILDERS"]
