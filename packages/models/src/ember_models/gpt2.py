"""GPT-2 (Radford et al., 2019): a decoder-only transformer with learned positions and pre-LN blocks.

    h_0 = E[tokens] + P[positions]
    h_l = h_{l-1} + Attn(LN_1(h_{l-1})),   h_l = h_l + MLP(LN_2(h_l))
    logits = LN_f(h_L) E^T            (the output projection is tied to the embedding)

Attention is causal multi-head attention; MLP(x) = gelu_tanh(x W_fc + b) W_proj + b.
Parameter names follow Hugging Face's ``GPT2LMHeadModel`` (``transformer.h.0.attn.c_attn.weight``
...), except that weights are stored (out, in) as ``nn.Linear`` stores them, where Hugging
Face's ``Conv1D`` stores (in, out); :func:`load_pretrained_gpt2` transposes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import ember
from ember import nn
from ember.nn import functional as F

from .generation import generate as _generate
from .transformer_blocks import causal_attention, init_gpt_weights, lm_loss, make_caches

__all__ = ["GPT2Config", "GPT2LMHeadModel", "GPT2Model", "build_gpt2", "load_pretrained_gpt2", "register",
           "PRESETS"]


@dataclass
class GPT2Config:
    """GPT-2's hyper-parameters (defaults: the 124M model).

    Args:
        vocab_size: number of tokens (50257 for GPT-2's BPE).
        n_positions: the longest sequence (learned position table size).
        n_embd: model width d; n_layer: blocks; n_head: attention heads (d divisible by it).
        n_inner: MLP hidden size (default 4 d).
        layer_norm_epsilon: LayerNorm's eps.
        dropout: dropout on embeddings, attention probabilities and residual branches.
        bias: biases in Linear layers and LayerNorms.
        tie_word_embeddings: share the output projection with the token embedding.
    """

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None
    layer_norm_epsilon: float = 1e-5
    dropout: float = 0.0
    bias: bool = True
    tie_word_embeddings: bool = True
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"GPT2Config: n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")


PRESETS = {
    "tiny": dict(vocab_size=512, n_positions=128, n_embd=64, n_layer=2, n_head=4),
    "mini": dict(vocab_size=4096, n_positions=128, n_embd=256, n_layer=4, n_head=4),
    "small": dict(),  # 124M
    "medium": dict(n_embd=1024, n_layer=24, n_head=16),  # 355M
    "large": dict(n_embd=1280, n_layer=36, n_head=20),  # 774M
    "xl": dict(n_embd=1600, n_layer=48, n_head=25),  # 1.5B
}


class GPT2Attention(nn.Module):
    """Causal multi-head self-attention with a packed q/k/v projection ``c_attn`` (3d x d)."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        d = config.n_embd
        self.n_head, self.head_dim, self.embed_dim = config.n_head, d // config.n_head, d
        self.c_attn = nn.Linear(d, 3 * d, bias=config.bias)
        self.c_proj = nn.Linear(d, d, bias=config.bias)
        self.attn_dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def _heads(self, x):
        b, t, _ = x.shape
        return x.reshape(b, t, self.n_head, self.head_dim).transpose(1, 2)

    def forward(self, x, cache=None):
        b, t, d = x.shape
        w, bias = self.c_attn.weight, self.c_attn.bias
        # NOTE: three GEMMs on row blocks of the packed weight, not one GEMM and a split: the
        # split's backward would scatter into zero-filled copies of the (B, T, 3d) output.
        q, k, v = (F.linear(x, w[i * d:(i + 1) * d], None if bias is None else bias[i * d:(i + 1) * d])
                   for i in range(3))
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        if cache is not None:
            k, v = cache.update(k, v)
        y = causal_attention(q, k, v, dropout_p=self.attn_dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(b, t, d)
        return self.resid_dropout(self.c_proj(y))


class GPT2MLP(nn.Module):
    """x -> gelu_tanh(x W_fc + b_fc) W_proj + b_proj."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        inner = config.n_inner or 4 * config.n_embd
        self.c_fc = nn.Linear(config.n_embd, inner, bias=config.bias)
        self.c_proj = nn.Linear(inner, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class GPT2Block(nn.Module):
    """Pre-LN block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        eps = config.layer_norm_epsilon
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=eps, bias=config.bias)
        self.attn = GPT2Attention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=eps, bias=config.bias)
        self.mlp = GPT2MLP(config)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache=cache)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    """The GPT-2 trunk: embeddings, blocks, final LayerNorm; returns hidden states (B, T, d)."""

    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([GPT2Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)

    def forward(self, input_ids, cache=None):
        b, t = input_ids.shape
        start = len(cache[0]) if cache is not None else 0
        if start + t > self.config.n_positions:
            raise ValueError(f"GPT-2: sequence of {start + t} positions (cached {start} + new {t}) exceeds "
                             f"n_positions={self.config.n_positions}")
        pos = ember.arange(start, start + t, device=input_ids.device)
        x = self.drop(self.wte(input_ids) + self.wpe(pos))
        for i, block in enumerate(self.h):
            x = block(x, cache=None if cache is None else cache[i])
        return self.ln_f(x)


class GPT2LMHeadModel(nn.Module):
    """GPT-2 with its language-modelling head: ``model(input_ids) -> logits (B, T, vocab)``.

    Args:
        config: a :class:`GPT2Config`.

    ``forward(input_ids, cache=None)``: ``cache`` (from :meth:`make_cache`) holds one
    :class:`ember.nn.KVCache` per layer; new positions continue after the cached ones.

    >>> import ember
    >>> model = GPT2LMHeadModel(GPT2Config(**PRESETS["tiny"]))
    >>> model(ember.zeros(2, 5, dtype=ember.int64)).shape
    (2, 5, 512)
    """

    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        self.config = config
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        init_gpt_weights(self, config.n_layer, config.initializer_range)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.transformer.wte.weight

    @property
    def max_seq_len(self) -> int:
        return self.config.n_positions

    def make_cache(self) -> list:
        """An empty KV cache: one :class:`ember.nn.KVCache` per block."""
        return make_caches(self.config.n_layer)

    def forward(self, input_ids, cache=None):
        return self.lm_head(self.transformer(input_ids, cache=cache))

    def loss(self, input_ids, targets, ignore_index: int = -100):
        """Mean next-token cross-entropy: ``targets`` are usually ``input_ids`` shifted left by one."""
        return lm_loss(self(input_ids), targets, ignore_index)

    def generate(self, input_ids, max_new_tokens: int, **kwargs):
        """Continue ``input_ids``; see :func:`ember_models.generation.generate` for the options."""
        return _generate(self, input_ids, max_new_tokens, **kwargs)


def build_gpt2(config: GPT2Config) -> GPT2LMHeadModel:
    """The registry's builder: a fresh GPT-2 for ``config``."""
    return GPT2LMHeadModel(config)


# -- pretrained weights -----------------------------------------------------------------

_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
_IGNORED = (".attn.bias", ".attn.masked_bias")  # old HF checkpoints' causal-mask buffers


def _find_safetensors(path) -> Path:
    path = Path(path)
    if path.is_dir():
        for name in ("model.safetensors", "pytorch_model.safetensors"):
            if (path / name).is_file():
                return path / name
        found = sorted(path.glob("*.safetensors"))
        if len(found) == 1:
            return found[0]
        raise FileNotFoundError(f"{path}: expected one .safetensors file (model.safetensors), found "
                                f"{[p.name for p in found] or 'none'}")
    if not path.is_file():
        raise FileNotFoundError(f"no such checkpoint file: {path}")
    return path


def hf_to_ember_state(tensors: dict) -> dict:
    """Map a Hugging Face GPT-2 state dict to :class:`GPT2LMHeadModel` names and layouts.

    Accepts names with or without the ``transformer.`` prefix; transposes ``Conv1D`` weights
    (in, out) -> (out, in); drops the causal-mask buffers of old checkpoints.
    """
    out = {}
    for name, value in tensors.items():
        if name.endswith(_IGNORED):
            continue
        if not (name.startswith("transformer.") or name.startswith("lm_head.")):
            name = "transformer." + name
        if name.endswith(_CONV1D) and value.ndim == 2:
            value = value.transpose(0, 1)
        out[name] = value
    return out


def config_from_state(tensors: dict, **overrides) -> GPT2Config:
    """Infer vocab size, width, depth and context length from the checkpoint's shapes."""
    tensors = hf_to_ember_state(tensors)
    v, d = tensors["transformer.wte.weight"].shape
    n_pos = tensors["transformer.wpe.weight"].shape[0]
    n_layer = 1 + max(int(k.split(".")[2]) for k in tensors if k.startswith("transformer.h."))
    inner = tensors["transformer.h.0.mlp.c_fc.weight"].shape[0]
    values = dict(vocab_size=v, n_embd=d, n_positions=n_pos, n_layer=n_layer,
                  n_head=max(1, d // 64), n_inner=None if inner == 4 * d else inner)
    values.update(overrides)
    return GPT2Config(**values)


def load_gpt2_state(model: GPT2LMHeadModel, tensors: dict) -> GPT2LMHeadModel:
    """Copy a Hugging Face GPT-2 state dict into ``model``.

    Every expected tensor must be present with the model's shape; a mismatch is a
    ``ValueError`` naming the tensor, the checkpoint's shape and the model's shape.
    """
    state = hf_to_ember_state(tensors)
    own = model.state_dict()
    tied = model.config.tie_word_embeddings
    if tied:
        state.pop("lm_head.weight", None)  # the tied copy: wte is the one loaded
    problems, missing = [], []
    for name, current in own.items():
        if tied and name == "lm_head.weight":
            continue
        if name not in state:
            missing.append(name)
        elif tuple(state[name].shape) != tuple(current.shape):
            problems.append(f"{name}: checkpoint has shape {tuple(state[name].shape)}, the model expects "
                            f"{tuple(current.shape)}")
    unexpected = sorted(k for k in state if k not in own)
    if problems:
        raise ValueError("GPT-2 checkpoint does not fit the config:\n  " + "\n  ".join(problems))
    if missing:
        raise ValueError(f"GPT-2 checkpoint lacks tensor(s) {missing}")
    if unexpected:
        raise ValueError(f"GPT-2 checkpoint has tensor(s) the model does not: {unexpected}")
    if tied:
        state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict(state)
    return model


def load_pretrained_gpt2(path, config: GPT2Config | None = None, **overrides) -> GPT2LMHeadModel:
    """A GPT-2 with the weights of a Hugging Face checkpoint (safetensors, HF tensor names).

    Args:
        path: a ``.safetensors`` file, or a folder holding ``model.safetensors`` (and
            optionally HF's ``config.json``, whose n_head / layer_norm_epsilon are used).
        config: the config to build; default: inferred from the tensor shapes and config.json.
        **overrides: config fields to change (e.g. ``dropout=0.1``).

    Example: ``model = from_pretrained("gpt2", "path/to/gpt2")`` with the files from
    huggingface.co/openai-community/gpt2 (downloaded by you; nothing is fetched here).
    """
    from ember.serialization import load_file

    file = _find_safetensors(path)
    tensors = load_file(file)
    if config is None:
        hf = {}
        cfg = file.parent / "config.json"
        if cfg.is_file():
            import json

            raw = json.loads(cfg.read_text())
            for key in ("n_head", "layer_norm_epsilon", "n_positions", "n_inner", "vocab_size"):
                if raw.get(key) is not None:
                    hf[key] = raw[key]
        config = config_from_state(tensors, **{**hf, **overrides})
    elif overrides:
        config = GPT2Config(**{**asdict(config), **overrides})
    model = GPT2LMHeadModel(config)
    load_gpt2_state(model, tensors)
    model.eval()
    return model


def register(register) -> None:
    """Register "gpt2" with the zoo (called by ember_models.plugin)."""
    register("gpt2", build_gpt2, config=GPT2Config, presets=PRESETS, loader=load_pretrained_gpt2)

