"""BERT (Devlin et al., 2019): a bidirectional Transformer encoder, with masked-LM and
sequence-classification heads, written with ember's public ``nn`` API only.

    h_0 = LayerNorm(E_tok[x] + E_pos[t] + E_type[s])
    a_l = LayerNorm(h_{l-1} + Attn(h_{l-1}, mask))                    (post-norm)
    h_l = LayerNorm(a_l + W_2 GELU(W_1 a_l))
    pooled = tanh(W_p h_L[:, 0])                                     (the [CLS] position)

Parameter names are Hugging Face's (``embeddings.word_embeddings.weight``,
``encoder.layer.0.attention.self.query.weight``, ``cls.predictions.transform.dense.weight``,
``classifier.weight``...), so :func:`load_pretrained_bert` is a plain renaming-free load of a
``transformers`` checkpoint, with or without the ``bert.`` prefix.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, fields, replace

import ember
from ember import nn
from ember.nn import functional as F

__all__ = ["BertConfig", "BertModel", "BertForMaskedLM", "BertForSequenceClassification", "build_bert",
           "load_pretrained_bert", "register", "PRESETS"]


@dataclass
class BertConfig:
    """BERT's hyper-parameters (Hugging Face's ``BertConfig`` field names).

    Args:
        vocab_size: the WordPiece vocabulary size.
        hidden_size: the model width d.
        num_hidden_layers: encoder layers.
        num_attention_heads: heads per layer (divides ``hidden_size``).
        intermediate_size: the feed-forward width (4 d in the papers' models).
        hidden_act: ``"gelu"`` (exact, erf) or ``"gelu_new"`` (tanh approximation).
        hidden_dropout_prob: dropout on embeddings and on each residual branch.
        attention_probs_dropout_prob: dropout on the attention probabilities.
        max_position_embeddings: the longest sequence.
        type_vocab_size: token types (segments A / B).
        layer_norm_eps: epsilon of every LayerNorm.
        initializer_range: std of the normal initialisation.
        pad_token_id: the [PAD] id.
        head: which model :func:`build_bert` returns: ``"mlm"`` (:class:`BertForMaskedLM`),
            ``"classification"`` (:class:`BertForSequenceClassification`) or ``"none"``
            (the bare :class:`BertModel`).
        num_labels: classes of the classification head.
        classifier_dropout: dropout before the classifier (default ``hidden_dropout_prob``).
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    pad_token_id: int = 0
    head: str = "mlm"
    num_labels: int = 2
    classifier_dropout: float | None = None

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"BertConfig: hidden_size ({self.hidden_size}) must be a multiple of "
                             f"num_attention_heads ({self.num_attention_heads})")
        if self.head not in ("mlm", "classification", "none"):
            raise ValueError(f"BertConfig: head must be 'mlm', 'classification' or 'none', got {self.head!r}")
        if self.hidden_act not in _ACTS:
            raise ValueError(f"BertConfig: hidden_act must be one of {sorted(_ACTS)}, got {self.hidden_act!r}")


_ACTS = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh"}

PRESETS = {
    # For tests: a few thousand parameters per layer, runs in milliseconds.
    "tiny": dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                 max_position_embeddings=64),
    # google/bert_uncased_L-4_H-256_A-4 (Turc et al., 2019).
    "mini": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    # bert-base-uncased.
    "base": dict(),
}


class BertEmbeddings(nn.Module):
    """h_0 = Dropout(LayerNorm(E_tok[x] + E_pos[0..T-1] + E_type[s]))."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.max_positions = config.max_position_embeddings

    def forward(self, input_ids, token_type_ids=None):
        t = input_ids.shape[-1]
        if t > self.max_positions:
            raise ValueError(f"BERT: sequence length {t} exceeds max_position_embeddings={self.max_positions}")
        positions = ember.arange(t, device=input_ids.device)
        if token_type_ids is None:
            token_type_ids = ember.zeros(tuple(input_ids.shape), dtype=ember.int64, device=input_ids.device)
        h = self.word_embeddings(input_ids) + self.position_embeddings(positions) \
            + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(h))


class BertSelfAttention(nn.Module):
    """softmax(Q K^T / sqrt(d_head) + mask) V over ``num_attention_heads`` heads."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def _heads(self, x):
        b, t, _ = x.shape
        return x.reshape(b, t, self.num_heads, self.head_size).transpose(1, 2)

    def forward(self, hidden, mask=None):
        b, t, d = hidden.shape
        q, k, v = self._heads(self.query(hidden)), self._heads(self.key(hidden)), self._heads(self.value(hidden))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                             dropout_p=self.dropout_p if self.training else 0.0)
        return out.transpose(1, 2).reshape(b, t, d)


class BertSelfOutput(nn.Module):
    """LayerNorm(x + Dropout(W h)): the output projection and the residual of a sub-layer."""

    def __init__(self, config: BertConfig, in_features: int) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden, residual):
        return self.LayerNorm(residual + self.dropout(self.dense(hidden)))


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config, config.hidden_size)

    def forward(self, hidden, mask=None):
        return self.output(self.self(hidden, mask), hidden)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.approximate = _ACTS[config.hidden_act]

    def forward(self, hidden):
        return F.gelu(self.dense(hidden), approximate=self.approximate)


class BertLayer(nn.Module):
    """One post-norm encoder layer: attention, then the feed-forward block, each with a residual."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertSelfOutput(config, config.intermediate_size)

    def forward(self, hidden, mask=None):
        a = self.attention(hidden, mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden, mask=None):
        for layer in self.layer:
            hidden = layer(hidden, mask)
        return hidden


class BertPooler(nn.Module):
    """pooled = tanh(W h[:, 0]): the [CLS] position's summary of the sequence."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden):
        return ember.tanh(self.dense(hidden[:, 0]))


def _init_weights(module: nn.Module, std: float) -> None:
    """Hugging Face's initialisation: N(0, std) weights, zero biases, LayerNorm = identity."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, std)
            if m.padding_idx is not None:
                with ember.no_grad():
                    m.weight[m.padding_idx] = 0.0
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _attention_mask(attention_mask, input_ids):
    """(B, T) 1 = real token, 0 = padding  ->  a bool (B, 1, 1, T) mask, True = may attend."""
    if attention_mask is None:
        return None
    if tuple(attention_mask.shape) != tuple(input_ids.shape):
        raise ValueError(f"BERT: attention_mask has shape {tuple(attention_mask.shape)}, expected the shape of "
                         f"input_ids {tuple(input_ids.shape)}")
    mask = attention_mask if attention_mask.dtype == ember.bool else attention_mask != 0
    return mask.reshape(mask.shape[0], 1, 1, mask.shape[1])


class BertModel(nn.Module):
    """The BERT encoder: embeddings, ``num_hidden_layers`` layers and (optionally) the pooler.

    ``forward(input_ids, attention_mask=None, token_type_ids=None)`` takes (B, T) int64 ids,
    a (B, T) mask (1 / True = real token, 0 = padding: padded keys get no attention) and
    (B, T) segment ids, and returns ``(sequence_output (B, T, d), pooled_output (B, d) or None)``.

    Args:
        config: a :class:`BertConfig`.
        add_pooling_layer: build the [CLS] pooler (Hugging Face leaves it out of the MLM model).

    >>> import ember
    >>> model = BertModel(BertConfig(**PRESETS["tiny"]))
    >>> seq, pooled = model(ember.tensor([[2, 5, 7, 3]]))
    >>> seq.shape, pooled.shape
    ((1, 4, 32), (1, 32))
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        _init_weights(self, config.initializer_range)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        if input_ids.ndim != 2:
            raise ValueError(f"BERT: input_ids must be (batch, seq_len), got shape {tuple(input_ids.shape)}")
        hidden = self.encoder(self.embeddings(input_ids, token_type_ids), _attention_mask(attention_mask, input_ids))
        return hidden, (self.pooler(hidden) if self.pooler is not None else None)


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.approximate = _ACTS[config.hidden_act]

    def forward(self, hidden):
        return self.LayerNorm(F.gelu(self.dense(hidden), approximate=self.approximate))


class BertLMPredictionHead(nn.Module):
    """logits = LayerNorm(GELU(W h)) E_tok^T + b: the decoder is tied to the word embeddings."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.bias = nn.Parameter(ember.zeros(config.vocab_size))

    def forward(self, hidden, decoder_weight):
        return F.linear(self.transform(hidden), decoder_weight, self.bias)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)


class BertForMaskedLM(nn.Module):
    """BERT with the masked-language-model head (decoder tied to the word embeddings).

    ``forward(input_ids, attention_mask=None, token_type_ids=None, labels=None)`` returns the
    (B, T, V) logits, or ``(loss, logits)`` when ``labels`` (B, T) is given: the mean
    cross-entropy over positions whose label is not -100 (the unmasked ones).

    >>> import ember
    >>> model = BertForMaskedLM(BertConfig(**PRESETS["tiny"]))
    >>> loss, logits = model(ember.tensor([[2, 4, 3]]), labels=ember.tensor([[-100, 9, -100]]))
    >>> logits.shape, loss.shape
    ((1, 3, 100), ())
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        _init_weights(self.cls, config.initializer_range)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        hidden, _ = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.cls.predictions(hidden, self.bert.embeddings.word_embeddings.weight)
        if labels is None:
            return logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        return loss, logits


class BertForSequenceClassification(nn.Module):
    """BERT with a linear classifier on the pooled [CLS] vector: logits = W Dropout(pooled) + b.

    ``forward(input_ids, attention_mask=None, token_type_ids=None, labels=None)`` returns the
    (B, num_labels) logits, or ``(loss, logits)`` with the cross-entropy when ``labels`` (B,)
    is given.

    >>> import ember
    >>> model = BertForSequenceClassification(BertConfig(**PRESETS["tiny"], num_labels=3))
    >>> model(ember.tensor([[2, 4, 3]])).shape
    (1, 3)
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        _init_weights(self.classifier, config.initializer_range)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        _, pooled = self.bert(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(pooled))
        if labels is None:
            return logits
        return F.cross_entropy(logits, labels), logits


def build_bert(config: BertConfig) -> nn.Module:
    """The model ``config.head`` names, with fresh weights.

    >>> build_bert(BertConfig(**PRESETS["tiny"], head="classification")).__class__.__name__
    'BertForSequenceClassification'
    """
    if config.head == "mlm":
        return BertForMaskedLM(config)
    if config.head == "classification":
        return BertForSequenceClassification(config)
    return BertModel(config)


# -- pretrained weights ------------------------------------------------------------------

# Hugging Face keys that carry nothing for ember's model: tied or duplicated tensors and buffers.
_TIED = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
_BUFFERS = ("embeddings.position_ids",)


def _find_weights(path) -> str:
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("model.safetensors", "pytorch_model.safetensors"):
            if os.path.exists(os.path.join(path, name)):
                return os.path.join(path, name)
        found = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
        if len(found) != 1:
            raise FileNotFoundError(f"BERT: expected one .safetensors file in {path!r}, found {found}")
        return os.path.join(path, found[0])
    if not os.path.exists(path):
        raise FileNotFoundError(f"BERT: no such checkpoint {path!r}")
    return path


def _config_from_json(folder: str) -> dict:
    import json

    file = os.path.join(folder, "config.json")
    if not os.path.exists(file):
        return {}
    with open(file, encoding="utf-8") as f:
        raw = json.load(f)
    known = {f.name for f in fields(BertConfig)}
    values = {k: v for k, v in raw.items() if k in known and k not in ("head", "num_labels")}
    if "id2label" in raw:
        values["num_labels"] = len(raw["id2label"])
    return values


def _infer_head(keys) -> str:
    if any(k.startswith("cls.predictions.") for k in keys):
        return "mlm"
    if any(k.startswith("classifier.") for k in keys):
        return "classification"
    return "none"


def _is_head(key: str) -> bool:
    bare = key[len("bert."):] if key.startswith("bert.") else key
    return bare.startswith(("cls.", "classifier.", "pooler."))


def _normalise(tensors: dict, model: nn.Module) -> dict:
    """Hugging Face names -> this model's names: add or strip ``bert.``, drop tied copies and buffers."""
    prefixed = not isinstance(model, BertModel)
    out = {}
    for key, value in tensors.items():
        bare = key[len("bert."):] if key.startswith("bert.") else key
        if bare in _BUFFERS or bare in _TIED or bare.endswith(".position_ids"):
            continue
        if bare.startswith(("cls.", "classifier.")):
            if prefixed:
                out[bare] = value
            continue  # a head's tensors, loaded into a bare encoder: not ours to use
        if bare.startswith("pooler.") and getattr(model, "bert", model).pooler is None:
            continue  # the MLM model has no pooler
        out[("bert." + bare) if prefixed else bare] = value
    # LayerNorm gamma/beta (TensorFlow-era names) -> weight/bias
    return {k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias"): v
            for k, v in out.items()}


def load_pretrained_bert(path, config: BertConfig | None = None, **overrides) -> nn.Module:
    """A BERT with the weights of a Hugging Face checkpoint (safetensors, HF tensor names).

    ``path`` is a ``.safetensors`` file or a folder holding one (and optionally ``config.json``,
    whose fields fill the config). Keys may carry the ``bert.`` prefix (``BertFor*`` models) or
    not (``BertModel``). Without ``head=``, the head is inferred from the checkpoint
    (``cls.predictions.*`` -> MLM, ``classifier.*`` -> classification, else none); ``num_labels``
    and ``vocab_size`` etc. are taken from the tensors' shapes when the config doesn't fix them
    (``num_attention_heads`` can't be: without config.json it defaults to hidden_size / 64, BERT's
    head width, so pass it for other models).

    Args:
        path: the checkpoint file or folder.
        config: the config to build; default: ``BertConfig`` from ``config.json``, the
            tensors, and ``overrides``.
        **overrides: config fields.

    Head tensors the checkpoint lacks (a classifier on top of a pre-trained encoder: the
    fine-tuning case) keep their fresh initialisation, with a warning; head tensors the model
    doesn't use (the NSP head, an MLM head under a classifier) are skipped.

    Raises:
        ValueError: a tensor doesn't fit the config (naming the tensor and both shapes), or
            encoder tensors are missing from the checkpoint or unknown to the model.
    """
    from ember.serialization import load_file

    file = _find_weights(path)
    tensors = load_file(file)
    if config is None:
        values = _config_from_json(os.path.dirname(file))
        keys = [k[len("bert."):] if k.startswith("bert.") else k for k in tensors]
        values.setdefault("head", _infer_head(keys))
        values.update(_shape_defaults(tensors, values))
        values.update(overrides)
        config = BertConfig(**values)
    elif overrides:
        config = replace(config, **overrides)
    model = build_bert(config)
    state = _normalise(tensors, model)
    expected = model.state_dict()
    problems, fresh = [], []
    for key, value in state.items():
        if key not in expected:
            if not _is_head(key):  # another head's tensors (NSP, MLM) are not an error
                problems.append(f"unexpected tensor {key!r} with shape {tuple(value.shape)}")
        elif tuple(value.shape) != tuple(expected[key].shape):
            problems.append(f"tensor {key!r} has shape {tuple(value.shape)} in the checkpoint but "
                            f"{tuple(expected[key].shape)} in the model")
    for key in expected:
        if key not in state:
            (fresh if _is_head(key) else problems).append(key)
    if problems:
        problems = [p if " " in p else f"missing tensor {p!r}" for p in problems]
        raise ValueError(f"BERT checkpoint {file!r} doesn't fit {config}:\n  " + "\n  ".join(problems))
    if fresh:
        warnings.warn(f"BERT: {file!r} has no {fresh}; they keep their fresh initialisation (train them first)",
                      stacklevel=2)
    state = {k: v for k, v in state.items() if k in expected}
    model.load_state_dict(state, strict=not fresh)
    model.eval()
    return model


def _shape_defaults(tensors: dict, values: dict) -> dict:
    """Config fields read off the tensors' shapes, for those config.json didn't give."""
    def get(name):
        return tensors.get(name, tensors.get("bert." + name))

    out = {}
    word = get("embeddings.word_embeddings.weight")
    if word is not None:
        out["vocab_size"], out["hidden_size"] = word.shape
    pos = get("embeddings.position_embeddings.weight")
    if pos is not None:
        out["max_position_embeddings"] = pos.shape[0]
    types = get("embeddings.token_type_embeddings.weight")
    if types is not None:
        out["type_vocab_size"] = types.shape[0]
    inter = get("encoder.layer.0.intermediate.dense.weight")
    if inter is not None:
        out["intermediate_size"] = inter.shape[0]
    layers = {k.split("encoder.layer.")[1].split(".")[0] for k in tensors if "encoder.layer." in k}
    if layers:
        out["num_hidden_layers"] = len(layers)
    if "classifier.weight" in tensors:
        out["num_labels"] = tensors["classifier.weight"].shape[0]
    if "hidden_size" in out and "num_attention_heads" not in values:
        # Not recoverable from shapes: BERT's checkpoints use 64-wide heads.
        out["num_attention_heads"] = max(1, out["hidden_size"] // 64)
    return {k: v for k, v in out.items() if k not in values}


def register(register) -> None:
    """Register ``"bert"`` with the models hook (called by ``ember_models.plugin``)."""
    register("bert", build_bert, config=BertConfig, presets=PRESETS, loader=load_pretrained_bert)
