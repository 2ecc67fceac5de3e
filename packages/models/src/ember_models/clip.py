"""CLIP (Radford et al., 2021) with Hugging Face ``CLIPModel``'s tensor names.

An image tower (a ViT: patch embedding, class embedding, pre- and post-LayerNorm) and a text
tower (a causal transformer pooled at the end-of-text token) are projected to one space
and L2-normalised; a learnable temperature t = exp(logit_scale) scales their cosine similarities:

    u_i = W_img f(image_i) / |.|,   v_j = W_txt g(text_j) / |.|,   L_ij = t u_i . v_j
    loss = (CE(L, arange(B)) + CE(L^T, arange(B))) / 2          (symmetric InfoNCE)

Zero-shot classification picks the class whose caption embedding is nearest to the image's;
:func:`recall_at_k` scores retrieval in both directions.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

import ember
from ember import nn
from ember.nn import functional as F
from ember.nn import init

from .vision import (CheckpointMismatchError, load_into, read_checkpoint, read_hf_config, self_attention,
                     strip_prefix)

__all__ = ["CLIPConfig", "CLIP", "build_clip", "load_pretrained_clip", "contrastive_loss", "zero_shot_classify",
           "recall_at_k", "PRESETS", "register", "CheckpointMismatchError"]


@dataclass
class CLIPConfig:
    """CLIP hyper-parameters: the image tower's (``vision_*``), the text tower's (``text_*``), the joint space.

    ``eos_token_id`` marks where the text tower is pooled (the first such token of each
    sequence; with Hugging Face's legacy value 2, the largest token id, as HF does).
    """

    image_size: int = 224
    patch_size: int = 32
    num_channels: int = 3
    vision_hidden_size: int = 768
    vision_layers: int = 12
    vision_heads: int = 12
    vision_intermediate_size: int = 3072
    vocab_size: int = 49408
    max_position_embeddings: int = 77
    text_hidden_size: int = 512
    text_layers: int = 12
    text_heads: int = 8
    text_intermediate_size: int = 2048
    projection_dim: int = 512
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    logit_scale_init: float = math.log(1 / 0.07)
    eos_token_id: int = 49407
    attention_dropout: float = 0.0
    initializer_range: float = 0.02


PRESETS = {
    # 8x8 one-channel images and short captions: for tests.
    "tiny": dict(image_size=8, patch_size=2, num_channels=1, vision_hidden_size=32, vision_layers=2,
                 vision_heads=2, vision_intermediate_size=64, vocab_size=64, max_position_embeddings=8,
                 text_hidden_size=32, text_layers=2, text_heads=2, text_intermediate_size=64, projection_dim=16,
                 eos_token_id=1),
    "b32": dict(),  # CLIP ViT-B/32
    "b16": dict(patch_size=16),  # CLIP ViT-B/16
    "l14": dict(patch_size=14, vision_hidden_size=1024, vision_layers=24, vision_heads=16,
                vision_intermediate_size=4096, text_hidden_size=768, text_heads=12, text_intermediate_size=3072,
                projection_dim=768),
}


def _act(name: str):
    if name == "quick_gelu":
        return lambda x: x * ember.sigmoid(1.702 * x)
    if name == "gelu":
        return F.gelu
    if name == "gelu_new" or name == "gelu_pytorch_tanh":
        return lambda x: F.gelu(x, approximate="tanh")
    raise ValueError(f"CLIP: hidden_act must be quick_gelu, gelu, gelu_new or gelu_pytorch_tanh, got {name!r}")


class CLIPAttention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"CLIP: width {d} is not a multiple of the number of heads {heads}")
        self.num_heads, self.dropout = heads, dropout
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, attn_mask=None, is_causal=False, need_weights=False):
        p = self.dropout if self.training else 0.0
        out, w = self_attention(self.q_proj(x), self.k_proj(x), self.v_proj(x), self.num_heads, attn_mask=attn_mask,
                                is_causal=is_causal, dropout_p=p, need_weights=need_weights)
        return self.out_proj(out), w


class CLIPMLP(nn.Module):
    def __init__(self, d: int, hidden: int, act: str) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)
        self.act = _act(act)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    """Pre-norm block: x + Attn(LN1(x)), then + MLP(LN2(.))."""

    def __init__(self, d, heads, hidden, act, eps, dropout) -> None:
        super().__init__()
        self.self_attn = CLIPAttention(d, heads, dropout)
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.mlp = CLIPMLP(d, hidden, act)
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)

    def forward(self, x, attn_mask=None, is_causal=False, need_weights=False):
        a, w = self.self_attn(self.layer_norm1(x), attn_mask, is_causal, need_weights)
        x = x + a
        return x + self.mlp(self.layer_norm2(x)), w


class CLIPEncoder(nn.Module):
    def __init__(self, n, *args) -> None:
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(*args) for _ in range(n)])

    def forward(self, x, attn_mask=None, is_causal=False, need_weights=False):
        maps = []
        for layer in self.layers:
            x, w = layer(x, attn_mask, is_causal, need_weights)
            maps.append(w)
        return x, maps


class CLIPVisionEmbeddings(nn.Module):
    def __init__(self, c: CLIPConfig) -> None:
        super().__init__()
        if c.image_size % c.patch_size:
            raise ValueError(f"CLIP: image_size {c.image_size} is not a multiple of patch_size {c.patch_size}")
        d = c.vision_hidden_size
        self.image_size, self.num_channels = c.image_size, c.num_channels
        self.class_embedding = nn.Parameter(ember.zeros(d))
        self.patch_embedding = nn.Conv2d(c.num_channels, d, c.patch_size, stride=c.patch_size, bias=False)
        self.num_positions = (c.image_size // c.patch_size) ** 2 + 1
        self.position_embedding = nn.Embedding(self.num_positions, d)

    def forward(self, x):
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.num_channels, self.image_size, self.image_size):
            raise ValueError(f"CLIP expects images (B, {self.num_channels}, {self.image_size}, {self.image_size}), "
                             f"got {tuple(x.shape)}")
        patches = self.patch_embedding(x).flatten(2).transpose(1, 2)
        cls = self.class_embedding.reshape(1, 1, -1).expand(patches.shape[0], 1, patches.shape[2])
        return ember.cat([cls, patches], dim=1) + self.position_embedding.weight


class CLIPVisionTransformer(nn.Module):
    """The image tower: its pooled output is post_layernorm(token 0)."""

    def __init__(self, c: CLIPConfig) -> None:
        super().__init__()
        d = c.vision_hidden_size
        self.embeddings = CLIPVisionEmbeddings(c)
        self.pre_layrnorm = nn.LayerNorm(d, eps=c.layer_norm_eps)  # sic: Hugging Face's name
        self.encoder = CLIPEncoder(c.vision_layers, d, c.vision_heads, c.vision_intermediate_size, c.hidden_act,
                                   c.layer_norm_eps, c.attention_dropout)
        self.post_layernorm = nn.LayerNorm(d, eps=c.layer_norm_eps)

    def forward(self, pixel_values, need_weights=False):
        x, maps = self.encoder(self.pre_layrnorm(self.embeddings(pixel_values)), need_weights=need_weights)
        return self.post_layernorm(x[:, 0]), maps


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, c: CLIPConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(c.vocab_size, c.text_hidden_size)
        self.position_embedding = nn.Embedding(c.max_position_embeddings, c.text_hidden_size)

    def forward(self, input_ids):
        n = input_ids.shape[1]
        if n > self.position_embedding.num_embeddings:
            raise ValueError(f"CLIP: a text of {n} tokens is longer than max_position_embeddings "
                             f"{self.position_embedding.num_embeddings}")
        return self.token_embedding(input_ids) + self.position_embedding.weight[:n]


class CLIPTextTransformer(nn.Module):
    """The text tower: causal attention, final_layer_norm, pooled at each sequence's end-of-text token."""

    def __init__(self, c: CLIPConfig) -> None:
        super().__init__()
        self.embeddings = CLIPTextEmbeddings(c)
        self.encoder = CLIPEncoder(c.text_layers, c.text_hidden_size, c.text_heads, c.text_intermediate_size,
                                   c.hidden_act, c.layer_norm_eps, c.attention_dropout)
        self.final_layer_norm = nn.LayerNorm(c.text_hidden_size, eps=c.layer_norm_eps)
        self.eos_token_id = c.eos_token_id

    def forward(self, input_ids, attention_mask=None):
        ids = np.asarray(input_ids.numpy() if isinstance(input_ids, ember.Tensor) else input_ids, dtype=np.int64)
        if ids.ndim != 2:
            raise ValueError(f"CLIP: input_ids must be (B, S), got shape {ids.shape}")
        b, n = ids.shape
        device = self.embeddings.token_embedding.weight.device
        mask, causal = None, True
        if attention_mask is not None:
            keys = np.asarray(attention_mask.numpy() if isinstance(attention_mask, ember.Tensor) else attention_mask)
            allowed = np.tril(np.ones((n, n), dtype=bool))[None] & keys.astype(bool)[:, None, :]
            mask, causal = ember.tensor(allowed[:, None], device=device), False
        x = self.embeddings(ember.tensor(ids, device=device))
        x, _ = self.encoder(x, attn_mask=mask, is_causal=causal)
        x = self.final_layer_norm(x)
        if self.eos_token_id == 2:  # Hugging Face's legacy configs: pool at the largest id
            pos = ids.argmax(-1)
        else:
            hit = ids == self.eos_token_id
            if not hit.any(-1).all():
                missing = np.flatnonzero(~hit.any(-1)).tolist()
                raise ValueError(f"CLIP: text(s) {missing} have no end-of-text token {self.eos_token_id} "
                                 "(the text tower is pooled there)")
            pos = hit.argmax(-1)
        return x[ember.arange(b, device=device), ember.tensor(pos, device=device)]


class CLIP(nn.Module):
    """CLIP: image and text towers, linear projections, a learnable temperature.

    ``forward(pixel_values, input_ids, attention_mask=None)`` returns
    ``(logits_per_image (B_img, B_txt), logits_per_text (B_txt, B_img))``.

    >>> model = CLIP(CLIPConfig(**PRESETS["tiny"]))
    >>> ids = ember.tensor([[0, 5, 6, 1], [0, 7, 1, 1]])
    >>> li, lt = model(ember.zeros(3, 1, 8, 8), ids)
    >>> li.shape, lt.shape
    ((3, 2), (2, 3))
    """

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__()
        self.config = config
        self.text_model = CLIPTextTransformer(config)
        self.vision_model = CLIPVisionTransformer(config)
        self.visual_projection = nn.Linear(config.vision_hidden_size, config.projection_dim, bias=False)
        self.text_projection = nn.Linear(config.text_hidden_size, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(ember.tensor(float(config.logit_scale_init)))
        self._init_weights()

    def _init_weights(self) -> None:
        """Hugging Face's CLIP initialisation: embeddings N(0, 0.02); attention and MLP weights
        scaled by width^-1/2 and (2 layers)^-1/2 (the residual branches); projections width^-1/2."""
        c, std = self.config, self.config.initializer_range
        for m in self.modules():
            if isinstance(m, nn.Linear) and m.bias is not None:
                init.zeros_(m.bias)
        for tower, d, n in ((self.text_model, c.text_hidden_size, c.text_layers),
                            (self.vision_model, c.vision_hidden_size, c.vision_layers)):
            for layer in tower.encoder.layers:
                a, mlp = layer.self_attn, layer.mlp
                for lin in (a.q_proj, a.k_proj, a.v_proj):
                    init.normal_(lin.weight, std=d ** -0.5 * (2 * n) ** -0.5)
                init.normal_(a.out_proj.weight, std=d ** -0.5)
                init.normal_(mlp.fc1.weight, std=(2 * d) ** -0.5)
                init.normal_(mlp.fc2.weight, std=d ** -0.5 * (2 * n) ** -0.5)
        e = self.text_model.embeddings
        init.normal_(e.token_embedding.weight, std=std)
        init.normal_(e.position_embedding.weight, std=std)
        v = self.vision_model.embeddings
        init.normal_(v.class_embedding, std=c.vision_hidden_size ** -0.5)
        init.normal_(v.patch_embedding.weight, std=std)
        init.normal_(v.position_embedding.weight, std=std)
        init.normal_(self.visual_projection.weight, std=c.vision_hidden_size ** -0.5)
        init.normal_(self.text_projection.weight, std=c.text_hidden_size ** -0.5)

    def get_image_features(self, pixel_values, normalize: bool = False):
        """Projected image embeddings (B, projection_dim), L2-normalised if ``normalize``."""
        pooled, _ = self.vision_model(pixel_values)
        z = self.visual_projection(pooled)
        return F.normalize(z, dim=-1) if normalize else z

    def get_text_features(self, input_ids, attention_mask=None, normalize: bool = False):
        """Projected text embeddings (B, projection_dim), L2-normalised if ``normalize``."""
        z = self.text_projection(self.text_model(input_ids, attention_mask))
        return F.normalize(z, dim=-1) if normalize else z

    def forward(self, pixel_values, input_ids, attention_mask=None):
        u = self.get_image_features(pixel_values, normalize=True)
        v = self.get_text_features(input_ids, attention_mask, normalize=True)
        logits_per_text = (v @ u.transpose(0, 1)) * self.logit_scale.exp()
        return logits_per_text.transpose(0, 1), logits_per_text

    def loss(self, pixel_values, input_ids, attention_mask=None):
        """The symmetric contrastive loss of a batch of matching (image_i, text_i) pairs."""
        return contrastive_loss(self(pixel_values, input_ids, attention_mask)[0])

    def image_attention_maps(self, pixel_values):
        """The image tower's attention maps, a list of (B, H, N+1, N+1), without gradient."""
        with ember.no_grad():
            x = self.vision_model.pre_layrnorm(self.vision_model.embeddings(pixel_values))
            return self.vision_model.encoder(x, need_weights=True)[1]


def contrastive_loss(logits_per_image):
    """(CE(L, arange(B)) + CE(L^T, arange(B))) / 2 for a square logit matrix L of matching pairs.

    >>> float(contrastive_loss(ember.eye(3) * 100.0)) < 1e-6
    True
    """
    n = logits_per_image.shape[0]
    if logits_per_image.ndim != 2 or logits_per_image.shape[1] != n:
        raise ValueError(f"contrastive_loss: expected a square (B, B) logit matrix, got {tuple(logits_per_image.shape)}")
    target = ember.arange(n, device=logits_per_image.device)
    return (F.cross_entropy(logits_per_image, target) + F.cross_entropy(logits_per_image.transpose(0, 1), target)) / 2


def zero_shot_classify(model: CLIP, pixel_values, class_input_ids, attention_mask=None, prompts_per_class: int = 1):
    """Predicted classes (B,) and the image-to-class logits (B, K) of zero-shot classification.

    Each class embedding is the normalised mean of its ``prompts_per_class`` caption
    embeddings (rows ``k * prompts_per_class ...`` of ``class_input_ids``).

    Args:
        model: a :class:`CLIP`.
        pixel_values: (B, C, H, W).
        class_input_ids: (K * prompts_per_class, S) token ids, class by class.
        attention_mask: (K * prompts_per_class, S) or None.
        prompts_per_class: captions per class ("a photo of a {}", "a drawing of a {}", ...).
    """
    with ember.no_grad():
        u = model.get_image_features(pixel_values, normalize=True)
        v = model.get_text_features(class_input_ids, attention_mask, normalize=True)
        if prompts_per_class > 1:
            v = F.normalize(v.reshape(-1, prompts_per_class, v.shape[-1]).mean(1), dim=-1)
        logits = (u @ v.transpose(0, 1)) * model.logit_scale.exp()
    return logits.argmax(-1), logits


def recall_at_k(image_embeds, text_embeds, ks=(1, 5, 10), labels=None) -> dict:
    """Retrieval recall@k where image i matches text i, in both directions.

    image->text recall@k is the fraction of images whose own text is among the k texts most
    similar to them (cosine similarity), and text->image the converse. A query's rank is the
    number of non-matching candidates that score strictly higher than its best match.

    With ``labels`` (one per pair), every candidate of the query's label matches: the right
    reading when pairs share texts (class captions: "a photo of a sandal" describes every
    sandal image, so all of them are correct answers to it).

    Args:
        image_embeds, text_embeds: (N, D) tensors or arrays (anything with ``.detach().numpy()``
            or NumPy's array protocol), row i of each a pair.
        ks: the cut-offs.
        labels: optional (N,) labels of the pairs.

    >>> e = ember.eye(4)
    >>> recall_at_k(e, e, ks=(1,))
    {'image_to_text@1': 1.0, 'text_to_image@1': 1.0}
    >>> img = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    >>> txt = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> recall_at_k(img, txt, ks=(1,)), recall_at_k(img, txt, ks=(1,), labels=[0, 1, 0])
    ({'image_to_text@1': 0.6666666666666666, 'text_to_image@1': 0.6666666666666666}, \
{'image_to_text@1': 1.0, 'text_to_image@1': 0.6666666666666666})
    """
    def as_array(x):
        x = x.detach().numpy() if hasattr(x, "detach") else x
        return np.asarray(x, dtype=np.float64)

    u, v = as_array(image_embeds), as_array(text_embeds)
    if u.ndim != 2 or v.ndim != 2 or u.shape[0] != v.shape[0]:
        raise ValueError(f"recall_at_k: expected as many images as texts, (N, D) each, got {u.shape} and {v.shape}")
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    sim = u @ v.T
    n = sim.shape[0]
    if labels is None:
        match = np.eye(n, dtype=bool)
    else:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"recall_at_k: labels must be ({n},), got {labels.shape}")
        match = labels[:, None] == labels[None, :]

    def ranks(s):  # rows are queries: non-matching candidates strictly above the best match
        best = np.where(match, s, -np.inf).max(1)
        return ((s > best[:, None]) & ~match).sum(1)

    rank_i2t, rank_t2i = ranks(sim), ranks(sim.T)
    out = {}
    for k in ks:
        out[f"image_to_text@{k}"] = float((rank_i2t < k).mean())
    for k in ks:
        out[f"text_to_image@{k}"] = float((rank_t2i < k).mean())
    return out


def build_clip(config: CLIPConfig) -> CLIP:
    """The registry's builder: a fresh :class:`CLIP`."""
    return CLIP(config)


_HF_TEXT = {"hidden_size": "text_hidden_size", "num_hidden_layers": "text_layers", "num_attention_heads": "text_heads",
            "intermediate_size": "text_intermediate_size", "vocab_size": "vocab_size",
            "max_position_embeddings": "max_position_embeddings", "eos_token_id": "eos_token_id",
            "hidden_act": "hidden_act", "layer_norm_eps": "layer_norm_eps"}
_HF_VISION = {"hidden_size": "vision_hidden_size", "num_hidden_layers": "vision_layers",
              "num_attention_heads": "vision_heads", "intermediate_size": "vision_intermediate_size",
              "image_size": "image_size", "patch_size": "patch_size", "num_channels": "num_channels"}


def _config_from_checkpoint(state: dict, hf: dict | None, overrides: dict) -> CLIPConfig:
    """config.json's values when present, else the tensor shapes (heads: width // 64 unless given)."""
    values: dict = {}
    if hf is not None:
        for ours_of, part in ((_HF_TEXT, hf.get("text_config") or {}), (_HF_VISION, hf.get("vision_config") or {})):
            values.update({ours_of[k]: v for k, v in part.items() if k in ours_of})
        if "projection_dim" in hf:
            values["projection_dim"] = hf["projection_dim"]
        values.setdefault("text_heads", 8)  # Hugging Face's defaults
        values.setdefault("vision_heads", 12)
    patch = state["vision_model.embeddings.patch_embedding.weight"]
    n_pos = state["vision_model.embeddings.position_embedding.weight"].shape[0]
    tok = state["text_model.embeddings.token_embedding.weight"]

    def layers(prefix):
        return len({k.split(".")[3] for k in state if k.startswith(prefix)})

    shape_values = dict(
        vision_hidden_size=patch.shape[0], num_channels=patch.shape[1], patch_size=patch.shape[2],
        image_size=int(round((n_pos - 1) ** 0.5)) * patch.shape[2],
        vision_layers=layers("vision_model.encoder.layers."),
        vision_intermediate_size=state["vision_model.encoder.layers.0.mlp.fc1.weight"].shape[0],
        vocab_size=tok.shape[0], text_hidden_size=tok.shape[1],
        max_position_embeddings=state["text_model.embeddings.position_embedding.weight"].shape[0],
        text_layers=layers("text_model.encoder.layers."),
        text_intermediate_size=state["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0],
        projection_dim=state["visual_projection.weight"].shape[0])
    for k, v in shape_values.items():
        values.setdefault(k, v)
    values.setdefault("vision_heads", max(values["vision_hidden_size"] // 64, 1))
    values.setdefault("text_heads", max(values["text_hidden_size"] // 64, 1))
    values.update(overrides)
    return CLIPConfig(**values)


def load_pretrained_clip(path, config: CLIPConfig | None = None, **overrides) -> CLIP:
    """A :class:`CLIP` with the weights of a Hugging Face ``CLIPModel`` checkpoint (safetensors).

    Hugging Face's names, with or without a prefix; ``position_ids`` buffers are ignored. The
    config comes from ``config``, else ``config.json`` beside the file, else the shapes
    (then heads = width // 64, right for the OpenAI checkpoints); ``overrides`` replace fields.

    Raises:
        CheckpointMismatchError: a tensor doesn't fit the config (names it and both shapes).
    """
    raw = read_checkpoint(path)
    state = strip_prefix(raw, "logit_scale")
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}
    if config is None:
        config = _config_from_checkpoint(state, read_hf_config(path), overrides)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    model = CLIP(config)
    load_into(model, state, source=str(path))
    return model.eval()


def register(register) -> None:
    register("clip", build_clip, config=CLIPConfig, presets=PRESETS, loader=load_pretrained_clip)
