"""Vision Transformer (Dosovitskiy et al., 2021), with Hugging Face ``ViTForImageClassification``'s names.

An image (C, H, W) is cut into P x P patches, each projected to D (a stride-P convolution);
a learned [CLS] token is prepended and learned position embeddings added:

    z_0 = [x_cls; x_1 E; ...; x_N E] + E_pos,                         N = (H / P)(W / P)
    z'_l = z_{l-1} + MSA(LN(z_{l-1})),   z_l = z'_l + MLP(LN(z'_l))   (pre-norm blocks)
    logits = W_head LN(z_L)[0] + b_head

``model(x, output_attentions=True)`` also returns each layer's attention maps (B, H, N+1, N+1);
:func:`ember_models.visualize.save_attention_maps` draws them.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import ember
from ember import nn
from ember.nn import functional as F
from ember.nn import init

from .vision import (CheckpointMismatchError, load_into, read_checkpoint, read_hf_config, self_attention,
                     strip_prefix)

__all__ = ["ViTConfig", "ViT", "build_vit", "load_pretrained_vit", "PRESETS", "register"]


@dataclass
class ViTConfig:
    """ViT hyper-parameters (Hugging Face ``ViTConfig``'s names; ``num_classes`` is its ``num_labels``)."""

    image_size: int = 224
    patch_size: int = 16
    num_channels: int = 3
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    num_classes: int = 1000
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    layer_norm_eps: float = 1e-12
    qkv_bias: bool = True
    initializer_range: float = 0.02


PRESETS = {
    # 8x8 one-channel images (scikit-learn digits), 16 patches: for tests.
    "tiny": dict(image_size=8, patch_size=2, num_channels=1, hidden_size=32, num_hidden_layers=2,
                 num_attention_heads=2, intermediate_size=64, num_classes=10),
    "ti16": dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768),  # ViT-Ti/16
    "s16": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536),  # ViT-S/16
    "b16": dict(),  # ViT-B/16
    # ViT-Ti on 32x32 images with 4x4 patches (CIFAR-sized; the benchmark's model).
    "ti4-32": dict(image_size=32, patch_size=4, hidden_size=192, num_hidden_layers=6, num_attention_heads=3,
                   intermediate_size=768, num_classes=10),
}


class ViTPatchEmbeddings(nn.Module):
    """(B, C, H, W) -> (B, N, D): a P x P convolution with stride P, flattened."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.image_size, self.patch_size = config.image_size, config.patch_size
        if config.image_size % config.patch_size:
            raise ValueError(f"ViT: image_size {config.image_size} is not a multiple of patch_size {config.patch_size}")
        self.num_patches = (config.image_size // config.patch_size) ** 2
        self.num_channels = config.num_channels
        self.projection = nn.Conv2d(config.num_channels, config.hidden_size, config.patch_size,
                                    stride=config.patch_size)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.num_channels or x.shape[2] != self.image_size \
                or x.shape[3] != self.image_size:
            raise ValueError(f"ViT expects images (B, {self.num_channels}, {self.image_size}, {self.image_size}), "
                             f"got {tuple(x.shape)}")
        return self.projection(x).flatten(2).transpose(1, 2)


class ViTEmbeddings(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.patch_embeddings = ViTPatchEmbeddings(config)
        d = config.hidden_size
        self.cls_token = nn.Parameter(ember.zeros(1, 1, d))
        self.position_embeddings = nn.Parameter(ember.zeros(1, self.patch_embeddings.num_patches + 1, d))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x):
        patches = self.patch_embeddings(x)
        cls = self.cls_token.expand(patches.shape[0], 1, patches.shape[2])
        return self.dropout(ember.cat([cls, patches], dim=1) + self.position_embeddings)


class ViTSelfAttention(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        d = config.hidden_size
        if d % config.num_attention_heads:
            raise ValueError(f"ViT: hidden_size {d} is not a multiple of num_attention_heads "
                             f"{config.num_attention_heads}")
        self.num_heads = config.num_attention_heads
        self.query = nn.Linear(d, d, bias=config.qkv_bias)
        self.key = nn.Linear(d, d, bias=config.qkv_bias)
        self.value = nn.Linear(d, d, bias=config.qkv_bias)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, x, need_weights: bool = False):
        p = self.dropout_p if self.training else 0.0
        return self_attention(self.query(x), self.key(x), self.value(x), self.num_heads, dropout_p=p,
                              need_weights=need_weights)


class ViTSelfOutput(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x):
        return self.dropout(self.dense(x))


class ViTAttention(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.attention = ViTSelfAttention(config)
        self.output = ViTSelfOutput(config)

    def forward(self, x, need_weights: bool = False):
        out, weights = self.attention(x, need_weights)
        return self.output(out), weights


class ViTIntermediate(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, x):
        return F.gelu(self.dense(x))


class ViTOutput(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x, residual):
        return self.dropout(self.dense(x)) + residual


class ViTLayer(nn.Module):
    """One pre-norm encoder block: x + MSA(LN(x)), then + MLP(LN(.))."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.attention = ViTAttention(config)
        self.intermediate = ViTIntermediate(config)
        self.output = ViTOutput(config)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x, need_weights: bool = False):
        attn, weights = self.attention(self.layernorm_before(x), need_weights)
        x = attn + x
        return self.output(self.intermediate(self.layernorm_after(x)), x), weights


class ViTEncoder(nn.Module):
    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([ViTLayer(config) for _ in range(config.num_hidden_layers)])


class ViT(nn.Module):
    """ViT image classifier; ``state_dict`` names are Hugging Face's ``ViTModel`` names plus ``classifier``.

    Args:
        config: a :class:`ViTConfig`.

    ``forward(pixel_values, output_attentions=False)`` returns logits (B, num_classes), or
    ``(logits, [maps of each layer, (B, H, N+1, N+1)])`` with ``output_attentions``.

    >>> model = ViT(ViTConfig(**PRESETS["tiny"]))
    >>> model(ember.zeros(2, 1, 8, 8)).shape
    (2, 10)
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = ViTEmbeddings(config)
        self.encoder = ViTEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.classifier = nn.Linear(config.hidden_size, config.num_classes) if config.num_classes > 0 else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        std = self.config.initializer_range
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                init.trunc_normal_(m.weight, std=std)
                if m.bias is not None:
                    init.zeros_(m.bias)
        init.trunc_normal_(self.embeddings.cls_token, std=std)
        init.trunc_normal_(self.embeddings.position_embeddings, std=std)

    def _encode(self, pixel_values, output_attentions: bool):
        x = self.embeddings(pixel_values)
        maps = []
        for layer in self.encoder.layer:
            x, w = layer(x, output_attentions)
            if output_attentions:
                maps.append(w)
        return x, maps

    def forward_features(self, pixel_values, output_attentions: bool = False):
        """The final layer-normed tokens (B, N+1, D) and the list of attention maps (empty unless asked)."""
        x, maps = self._encode(pixel_values, output_attentions)
        return self.layernorm(x), maps

    def forward(self, pixel_values, output_attentions: bool = False):
        x, maps = self._encode(pixel_values, output_attentions)
        # the norm works token by token, so normalising only the class token gives the same logits
        logits = self.classifier(self.layernorm(x[:, 0]))
        return (logits, maps) if output_attentions else logits

    def attention_maps(self, pixel_values):
        """Every layer's attention maps for ``pixel_values``, without gradient: a list of (B, H, N+1, N+1)."""
        with ember.no_grad():
            return self._encode(pixel_values, output_attentions=True)[1]


def build_vit(config: ViTConfig) -> ViT:
    """The registry's builder: a fresh :class:`ViT`."""
    return ViT(config)


def _config_from_checkpoint(state: dict, hf: dict | None, overrides: dict) -> ViTConfig:
    """Hyper-parameters from config.json when there is one, else from the tensor shapes.

    The number of heads can't be read from shapes: without config.json it is
    ``hidden_size // 64`` (true of ViT-Ti, -S, -B, -L, -H) unless given.
    """
    values: dict = {}
    if hf is not None:
        for f in dataclasses.fields(ViTConfig):
            if f.name in hf:
                values[f.name] = hf[f.name]
        if "id2label" in hf:
            values["num_classes"] = len(hf["id2label"])
        values.setdefault("num_attention_heads", 12)  # Hugging Face's default
    w = state["embeddings.patch_embeddings.projection.weight"]
    d, c, p = w.shape[0], w.shape[1], w.shape[2]
    n = state["embeddings.position_embeddings"].shape[1] - 1
    side = int(round(n ** 0.5))
    values.setdefault("hidden_size", d)
    values.setdefault("num_channels", c)
    values.setdefault("patch_size", p)
    values.setdefault("image_size", side * p)
    values.setdefault("num_hidden_layers",
                      len({k.split(".")[2] for k in state if k.startswith("encoder.layer.")}))
    key = "encoder.layer.0.intermediate.dense.weight"
    if key in state:
        values.setdefault("intermediate_size", state[key].shape[0])
    values.setdefault("num_attention_heads", max(d // 64, 1))
    values.setdefault("qkv_bias", "encoder.layer.0.attention.attention.query.bias" in state)
    if "classifier.weight" in state:
        values["num_classes"] = state["classifier.weight"].shape[0]
    values.update(overrides)
    return ViTConfig(**values)


# transformers 5's in-memory module names -> the hub's (and our) names; save_pretrained writes the latter.
_V5_NAMES = [(r"(^|\.)layers\.(\d+)\.", r"\1encoder.layer.\2."), (r"\.attention\.q_proj\.", ".attention.attention.query."),
             (r"\.attention\.k_proj\.", ".attention.attention.key."),
             (r"\.attention\.v_proj\.", ".attention.attention.value."),
             (r"\.attention\.o_proj\.", ".attention.output.dense."), (r"\.mlp\.fc1\.", ".intermediate.dense."),
             (r"\.mlp\.fc2\.", ".output.dense.")]


def _hub_names(state: dict) -> dict:
    if not any(".attention.q_proj." in k for k in state):
        return state
    out = {}
    for k, v in state.items():
        for pattern, repl in _V5_NAMES:
            k = re.sub(pattern, repl, k)
        out[k] = v
    return out


def load_pretrained_vit(path, config: ViTConfig | None = None, **overrides) -> ViT:
    """A :class:`ViT` with the weights of a Hugging Face ViT checkpoint.

    Reads ``model.safetensors`` (a file, or a folder with it and maybe ``config.json``) with
    Hugging Face's tensor names (the hub's, or transformers 5's in-memory ``layers.N.attention.q_proj``
    spelling), with or without a prefix (``vit.`` from
    ``ViTForImageClassification``, none from ``ViTModel``). The config comes from ``config``,
    else ``config.json``, else the tensor shapes; ``overrides`` replace fields. A ``ViTModel``
    checkpoint has no classifier: the head keeps its fresh initialisation; its pooler is ignored.

    Raises:
        CheckpointMismatchError: a tensor's shape doesn't fit the config (names the tensor and
            both shapes), or tensors are missing or unexpected.
    """
    state = strip_prefix(_hub_names(read_checkpoint(path)), "embeddings.cls_token")
    if config is None:
        config = _config_from_checkpoint(state, read_hf_config(path), overrides)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    model = ViT(config)
    load_into(model, state, ignore=("pooler.",), source=str(path), allow_missing=("classifier.",))
    return model.eval()


def register(register) -> None:
    register("vit", build_vit, config=ViTConfig, presets=PRESETS, loader=load_pretrained_vit)


__all__ += ["CheckpointMismatchError"]
