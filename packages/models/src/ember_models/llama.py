"""A Llama-style decoder (Touvron et al., 2023): RMSNorm, rotary positions, SwiGLU, no biases,
grouped-query attention and KV-cache generation.

    h_l = h_{l-1} + Attn(RMSNorm(h_{l-1})),   h_l = h_l + FFN(RMSNorm(h_l))
    Attn: q = RoPE(x W_q), k = RoPE(x W_k), v = x W_v with H_kv <= H key/value heads,
          each shared by H / H_kv query heads; causal softmax(q k^T / sqrt(d_head)) v W_o
    FFN(x) = (silu(x W_gate) * (x W_up)) W_down

Parameter names follow Hugging Face's ``LlamaForCausalLM`` (``model.layers.0.self_attn.q_proj.weight``,
``model.norm.weight``, ``lm_head.weight``), so an HF state dict loads as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ember import nn
from ember.nn import functional as F

from .generation import generate as _generate
from .transformer_blocks import causal_attention, init_gpt_weights, lm_loss, make_caches

__all__ = ["LlamaConfig", "LlamaForCausalLM", "LlamaModel", "build_llama", "load_pretrained_llama", "register",
           "PRESETS"]


@dataclass
class LlamaConfig:
    """Hyper-parameters of the Llama-style model (defaults: the ~100M preset).

    Args:
        vocab_size: number of tokens.
        dim: model width; n_layers: blocks; n_heads: query heads (dim divisible by it).
        n_kv_heads: key/value heads (divides n_heads; default n_heads, i.e. no grouping).
        hidden_dim: the SwiGLU hidden size (default: 8/3 dim rounded up to a multiple of ``multiple_of``).
        max_seq_len: the longest context (RoPE tables grow on demand; generation slides past it).
        rope_theta: RoPE's frequency base.
        norm_eps: RMSNorm's eps.
        dropout: dropout on attention probabilities and residual branches.
        tie_word_embeddings: share the output projection with the token embedding.
    """

    vocab_size: int = 32000
    dim: int = 768
    n_layers: int = 12
    n_heads: int = 12
    n_kv_heads: int | None = 4
    hidden_dim: int | None = 2048
    multiple_of: int = 64
    max_seq_len: int = 1024
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    dropout: float = 0.0
    tie_word_embeddings: bool = True
    initializer_range: float = 0.02

    def __post_init__(self) -> None:
        if self.dim % self.n_heads:
            raise ValueError(f"LlamaConfig: dim ({self.dim}) must be divisible by n_heads ({self.n_heads})")
        kv = self.n_kv_heads or self.n_heads
        if self.n_heads % kv:
            raise ValueError(f"LlamaConfig: n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({kv})")
        if (self.dim // self.n_heads) % 2:
            raise ValueError(f"LlamaConfig: the head size {self.dim // self.n_heads} must be even for RoPE")

    @property
    def ffn_dim(self) -> int:
        if self.hidden_dim is not None:
            return self.hidden_dim
        h = int(8 * self.dim / 3)
        return self.multiple_of * ((h + self.multiple_of - 1) // self.multiple_of)


PRESETS = {
    "tiny": dict(vocab_size=512, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=160, max_seq_len=128),
    "mini": dict(vocab_size=4096, dim=256, n_layers=4, n_heads=4, n_kv_heads=4, hidden_dim=704, max_seq_len=128),
    "100m": dict(),  # ~100M: dim 768, 12 layers, 12 heads / 4 kv heads, hidden 2048, vocab 32000, tied
}


class LlamaAttention(nn.Module):
    """Causal grouped-query self-attention with rotary positions, no biases."""

    def __init__(self, config: LlamaConfig, rope: nn.RotaryEmbedding) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.n_kv_heads = config.n_kv_heads or config.n_heads
        self.head_dim = config.dim // config.n_heads
        self.q_proj = nn.Linear(config.dim, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(config.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(config.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, config.dim, bias=False)
        self.dropout = config.dropout
        self._rope = [rope]  # shared by every layer; a list so it is not a submodule of each

    def forward(self, x, cache=None):
        b, t, _ = x.shape
        q = self.q_proj(x).reshape(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).reshape(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).reshape(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        offset = len(cache) if cache is not None else 0
        rope = self._rope[0]
        q, k = rope(q, offset=offset), rope(k, offset=offset)
        if cache is not None:
            k, v = cache.update(k, v)
        y = causal_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                             enable_gqa=self.n_kv_heads != self.n_heads)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim))


class LlamaMLP(nn.Module):
    """SwiGLU: (silu(x W_gate) * (x W_up)) W_down."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.dim, config.ffn_dim, bias=False)
        self.up_proj = nn.Linear(config.dim, config.ffn_dim, bias=False)
        self.down_proj = nn.Linear(config.ffn_dim, config.dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu_mul(self.gate_proj(x), self.up_proj(x)))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, config: LlamaConfig, rope: nn.RotaryEmbedding) -> None:
        super().__init__()
        self.input_layernorm = nn.RMSNorm(config.dim, eps=config.norm_eps)
        self.self_attn = LlamaAttention(config, rope)
        self.post_attention_layernorm = nn.RMSNorm(config.dim, eps=config.norm_eps)
        self.mlp = LlamaMLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, cache=None):
        x = x + self.drop(self.self_attn(self.input_layernorm(x), cache=cache))
        return x + self.drop(self.mlp(self.post_attention_layernorm(x)))


class LlamaModel(nn.Module):
    """The trunk: token embedding, decoder layers, final RMSNorm; returns hidden states (B, T, dim)."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.dim)
        self.rotary_emb = nn.RotaryEmbedding(config.dim // config.n_heads, max_seq_len=config.max_seq_len,
                                             base=config.rope_theta)
        self.layers = nn.ModuleList([LlamaDecoderLayer(config, self.rotary_emb) for _ in range(config.n_layers)])
        self.norm = nn.RMSNorm(config.dim, eps=config.norm_eps)

    def forward(self, input_ids, cache=None):
        x = self.embed_tokens(input_ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cache=None if cache is None else cache[i])
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    """The Llama-style language model: ``model(input_ids) -> logits (B, T, vocab)``.

    ``forward(input_ids, cache=None)``: ``cache`` (from :meth:`make_cache`) holds one
    :class:`ember.nn.KVCache` per layer (H_kv heads each, so GQA shrinks it by H / H_kv).

    >>> import ember
    >>> model = LlamaForCausalLM(LlamaConfig(**PRESETS["tiny"]))
    >>> model(ember.zeros(2, 5, dtype=ember.int64)).shape
    (2, 5, 512)
    """

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        init_gpt_weights(self, config.n_layers, config.initializer_range)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    @property
    def max_seq_len(self) -> int:
        return self.config.max_seq_len

    def make_cache(self) -> list:
        return make_caches(self.config.n_layers)

    def forward(self, input_ids, cache=None):
        return self.lm_head(self.model(input_ids, cache=cache))

    def loss(self, input_ids, targets, ignore_index: int = -100):
        """Mean next-token cross-entropy."""
        return lm_loss(self(input_ids), targets, ignore_index)

    def generate(self, input_ids, max_new_tokens: int, **kwargs):
        """Continue ``input_ids``; see :func:`ember_models.generation.generate`."""
        return _generate(self, input_ids, max_new_tokens, **kwargs)


def build_llama(config: LlamaConfig) -> LlamaForCausalLM:
    return LlamaForCausalLM(config)


def load_pretrained_llama(path, config: LlamaConfig | None = None, **overrides) -> LlamaForCausalLM:
    """A Llama-style model with the weights of a safetensors file in Hugging Face's names.

    ``config`` defaults to what the shapes say (n_heads assumes a head size of 64 unless
    overridden). A tensor whose shape does not fit is a ``ValueError`` naming both shapes.
    """
    from ember.serialization import load_file

    from .gpt2 import _find_safetensors

    file = _find_safetensors(path)
    tensors = load_file(file)
    if config is None:
        cfg = file.parent / "config.json"
        if cfg.is_file():  # Hugging Face's field names -> ours
            import json

            raw = json.loads(cfg.read_text())
            names = dict(num_attention_heads="n_heads", num_key_value_heads="n_kv_heads", rms_norm_eps="norm_eps",
                         rope_theta="rope_theta", max_position_embeddings="max_seq_len")
            overrides = {**{ours: raw[hf] for hf, ours in names.items() if raw.get(hf) is not None}, **overrides}
        v, d = tensors["model.embed_tokens.weight"].shape
        n_layers = 1 + max(int(k.split(".")[2]) for k in tensors if k.startswith("model.layers."))
        kv_out = tensors["model.layers.0.self_attn.k_proj.weight"].shape[0]
        n_heads = overrides.get("n_heads", max(1, d // 64))
        values = dict(vocab_size=v, dim=d, n_layers=n_layers, n_heads=n_heads, n_kv_heads=max(1, kv_out // (d // n_heads)),
                      hidden_dim=tensors["model.layers.0.mlp.gate_proj.weight"].shape[0],
                      tie_word_embeddings="lm_head.weight" not in tensors)
        values.update(overrides)
        config = LlamaConfig(**values)
    elif overrides:
        config = LlamaConfig(**{**asdict(config), **overrides})
    model = LlamaForCausalLM(config)
    own = model.state_dict()
    if config.tie_word_embeddings:
        tensors.pop("lm_head.weight", None)
        tensors["lm_head.weight"] = tensors.get("model.embed_tokens.weight")
    bad = [f"{k}: checkpoint has shape {tuple(tensors[k].shape)}, the model expects {tuple(v.shape)}"
           for k, v in own.items() if k in tensors and tensors[k] is not None and tuple(tensors[k].shape) != tuple(v.shape)]
    if bad:
        raise ValueError("Llama checkpoint does not fit the config:\n  " + "\n  ".join(bad))
    model.load_state_dict({k: v for k, v in tensors.items() if not k.endswith("rotary_emb.inv_freq")})
    model.eval()
    return model


def register(register) -> None:
    """Register "llama" with the zoo (called by ember_models.plugin)."""
    register("llama", build_llama, config=LlamaConfig, presets=PRESETS, loader=load_pretrained_llama)

