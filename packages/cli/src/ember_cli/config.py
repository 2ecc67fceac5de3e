"""Typed run configs: TOML files and ``--set`` overrides, validated before any work starts.

A run config has four tables and two top-level keys::

    model_name = "gpt2"     # a registered model
    preset = ""             # one of the model's presets ("" for ember-cli's default)
    [model]                 # the fields of the model's config dataclass (e.g. GPT2Config)
    [optim]                 # OptimConfig: name, lr, weight_decay, betas, ...
    [train]                 # TrainConfig: steps, batch_size, eval_every, ... (LMs add seq_len, samples)
    [data]                  # the task's data: a corpus, an image set, a text set or image-caption pairs

Each model trains on one task (:data:`TASKS`): ``lm`` (next-token prediction on a corpus),
``image`` (image classification), ``text`` (sequence classification) or ``clip``
(contrastive image-caption pairs); the task picks the ``[train]`` and ``[data]`` tables.

Values are resolved in layers: the defaults (ember-cli's per-model defaults), the preset,
the ``--config`` file, then each ``--set section.key=value``. Every layer is checked as it
is applied, so an unknown key, a wrong type or an impossible value (a negative learning
rate, heads that don't divide the width) is one :class:`ConfigError` that names the key and
the file (or the ``--set`` option) it came from.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .output import UsageError

SCHEDULES = ("cosine", "linear", "constant")
TOKENIZERS = ("char", "bpe", "gpt2")


class ConfigError(UsageError):
    """A config that can't be used: names the key, the source and what was expected (exit 2)."""


@dataclass
class OptimConfig:
    """The optimizer and its learning-rate schedule (linear warmup, then the schedule)."""

    name: str = "AdamW"
    lr: float = 3e-3
    weight_decay: float = 0.01
    betas: tuple = (0.9, 0.99)
    eps: float = 1e-8
    momentum: float = 0.0
    grad_clip: float = 1.0
    warmup_steps: int = 20
    schedule: str = "cosine"
    min_lr_ratio: float = 0.1


@dataclass
class TrainConfig:
    """The training loop. ``eval_every`` / ``checkpoint_every`` = 0: only at the end.

    ``eval_batches``: validation batches per evaluation; for classifiers and CLIP, 0 means
    the whole held-out split.
    """

    steps: int = 1800
    batch_size: int = 16
    eval_every: int = 300
    eval_batches: int = 8
    checkpoint_every: int = 300
    log_every: int = 10
    seed: int = 1337
    device: str = "auto"


@dataclass
class LMTrainConfig(TrainConfig):
    """A language model's loop: windows of ``seq_len`` tokens, ``samples`` printed at the end."""

    seq_len: int = 64
    samples: int = 2
    sample_tokens: int = 300


@dataclass
class DataConfig:
    """The data: a shipped corpus and how it is tokenized (``vocab_size`` is for ``bpe``)."""

    corpus: str = "shakespeare"
    tokenizer: str = "char"
    vocab_size: int = 512
    val_fraction: float = 0.1
    max_chars: int = 0


@dataclass
class ImageDataConfig:
    """Labelled images: ``fashion-mnist`` (28x28, 60k train / 10k test) or ``digits`` (8x8).

    Images are resized to the model's ``image_size`` (where it has one) and repeated to its
    channels; pixels map to [-1, 1]. The held-out split is the dataset's test split.
    ``train_limit`` / ``test_limit`` keep the first N images (0: all).
    """

    dataset: str = "fashion-mnist"
    train_limit: int = 0
    test_limit: int = 0


@dataclass
class TextDataConfig:
    """Labelled texts: the shipped ``fortunes`` topic set (5 topics), WordPiece-tokenized with a
    vocabulary of ``vocab_size`` learnt from the training texts, cut or padded to ``max_length``."""

    dataset: str = "fortunes"
    max_length: int = 64
    vocab_size: int = 2000


@dataclass
class PairDataConfig(ImageDataConfig):
    """Images paired with their class caption (``template`` filled with the class name).

    Evaluation: zero-shot accuracy on the held-out split and recall@k on its first
    ``retrieval_size`` pairs.
    """

    template: str = "a photo of a {}"
    retrieval_size: int = 1000


IMAGE_DATASETS = ("fashion-mnist", "digits")
TEXT_DATASETS = ("fortunes",)

# Models `ember train` knows how to train, the task of each, and ember-cli's defaults for each
# (a run of a few minutes on two CPU cores: the README's recipes), applied when no preset is named.
TASKS = {"gpt2": "lm", "llama": "lm", "vit": "image", "resnet": "image", "bert": "text", "clip": "clip"}
TASK_SECTIONS = {
    "lm": {"optim": OptimConfig, "train": LMTrainConfig, "data": DataConfig},
    "image": {"optim": OptimConfig, "train": TrainConfig, "data": ImageDataConfig},
    "text": {"optim": OptimConfig, "train": TrainConfig, "data": TextDataConfig},
    "clip": {"optim": OptimConfig, "train": TrainConfig, "data": PairDataConfig},
}
SECTIONS = TASK_SECTIONS["lm"]
DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "gpt2": {"model": dict(n_positions=64, n_embd=128, n_layer=4, n_head=4)},
    "llama": {"model": dict(max_seq_len=64, dim=128, n_layers=4, n_heads=4, n_kv_heads=2, hidden_dim=384)},
    # ViT on 28x28 Fashion-MNIST: 7x7 patches (16 + [CLS] tokens), width 96, 4 layers.
    "vit": {"model": dict(image_size=28, patch_size=7, num_channels=1, hidden_size=96, num_hidden_layers=4,
                          num_attention_heads=4, intermediate_size=192, num_classes=10),
            "optim": dict(lr=2e-3, weight_decay=0.05, warmup_steps=100),
            "train": dict(steps=2000, batch_size=128, eval_every=500, eval_batches=0, checkpoint_every=500,
                          log_every=20)},
    # A ResNet-10 (one BasicBlock a stage), CIFAR stem, widths 16-32-64-128, on 28x28 Fashion-MNIST.
    "resnet": {"model": dict(block="basic", layers=(1, 1, 1, 1), width=16, in_channels=1, stem="cifar",
                             num_classes=10),
               "optim": dict(lr=2e-3, weight_decay=0.01, warmup_steps=50),
               "train": dict(steps=800, batch_size=128, eval_every=200, eval_batches=0, checkpoint_every=200,
                             log_every=20)},
    # A 2-layer BERT (width 128) fine-tuned, body and head, on the fortunes topics.
    "bert": {"model": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=512,
                           max_position_embeddings=64, head="classification", num_labels=5),
             "optim": dict(lr=1e-3, weight_decay=0.01, warmup_steps=30),
             "train": dict(steps=600, batch_size=32, eval_every=100, eval_batches=0, checkpoint_every=100,
                           log_every=10)},
    # CLIP: a ViT image tower (7x7 patches, width 96) and a 2-layer text tower on captioned Fashion-MNIST.
    "clip": {"model": dict(image_size=28, patch_size=7, num_channels=1, vision_hidden_size=96, vision_layers=4,
                           vision_heads=4, vision_intermediate_size=192, vocab_size=32, max_position_embeddings=8,
                           text_hidden_size=64, text_layers=2, text_heads=4, text_intermediate_size=128,
                           projection_dim=64, eos_token_id=1),
             "optim": dict(lr=1e-3, weight_decay=0.05, warmup_steps=100),
             "train": dict(steps=1500, batch_size=128, eval_every=500, eval_batches=0, checkpoint_every=500,
                           log_every=20)},
}
# Model fields a task needs whatever the preset (a preset starts from the model's own defaults).
TASK_MODEL_FIELDS = {"bert": dict(head="classification", num_labels=5)}
DEFAULT_MODEL = "gpt2"


@dataclass
class RunConfig:
    """A validated run config; ``model`` is an instance of the model's config dataclass."""

    model_name: str
    preset: str
    model: Any
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=LMTrainConfig)
    data: Any = field(default_factory=DataConfig)

    @property
    def task(self) -> str:
        """The task this model trains on (``lm``, ``image``, ``text``, ``clip``)."""
        return TASKS.get(self.model_name, "lm")

    def to_dict(self) -> dict:
        return {"model_name": self.model_name, "preset": self.preset, "model": _fields(self.model),
                "optim": _fields(self.optim), "train": _fields(self.train), "data": _fields(self.data)}

    def to_toml(self, header: str = "") -> str:
        return dumps(self.to_dict(), header)


def _fields(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


# -- types -------------------------------------------------------------------------------

def _type_name(tp) -> str:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, UnionType):
        return " or ".join("none" if a is type(None) else _type_name(a) for a in args)
    if tp is tuple or typing.get_origin(tp) is tuple:
        return "array"
    return {int: "integer", float: "number", bool: "boolean", str: "string"}.get(tp, getattr(tp, "__name__", str(tp)))


def _describe(value) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__)
    return f"{kind} {value!r}" if kind != "table" else "a table"


def _coerce(value, tp, key: str, source: str):
    """``value`` (from TOML or --set) as type ``tp``, or a ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, UnionType):
        options = typing.get_args(tp)
        if type(None) in options and (value is None or (isinstance(value, str) and value.lower() in ("none", "null"))):
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key, source)
            except ConfigError:
                pass
        raise ConfigError(f"{source}: {key}: expected {_type_name(tp)}, got {_describe(value)}")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is tuple or origin is tuple:
        if isinstance(value, (list, tuple)):
            inner = typing.get_args(tp)
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) or not value:
                return tuple(value)
            if inner:
                return tuple(value)
            raise ConfigError(f"{source}: {key}: expected an array of numbers, got {value!r}")
    elif tp is Any:
        return value
    else:
        return value
    raise ConfigError(f"{source}: {key}: expected {_type_name(tp)}, got {_describe(value)}")


def _hints(cls) -> dict:
    try:
        return typing.get_type_hints(cls)
    except Exception:
        return {f.name: f.type for f in dataclasses.fields(cls)}


# -- value checks ------------------------------------------------------------------------

def _check_model(cls, values: dict, source: str):
    hints = _hints(cls)
    defaults = _fields(cls())
    for name, value in values.items():
        key = f"model.{name}"
        if value is None or isinstance(value, (bool, str)):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{source}: {key}: must be a finite number, got {value}")
        if "dropout" in name or name.endswith("_prob"):
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{source}: {key}: a dropout probability must be in [0, 1), got {value}")
        elif isinstance(value, int):
            # Sizes and counts are >= 1; ids and indices (pad_token_id = 0) may be 0.
            default = defaults.get(name)
            minimum = 0 if any(s in name for s in ("id", "token", "index")) or not (
                isinstance(default, int) and default >= 1) else 1
            if value < minimum:
                raise ConfigError(f"{source}: {key}: must be >= {minimum}, got {value}")
        elif isinstance(value, float):
            if value < 0:
                raise ConfigError(f"{source}: {key}: must be >= 0, got {value}")
        elif isinstance(value, tuple) and hints.get(name) is not None:
            if any(isinstance(v, int) and v < 1 for v in value):
                raise ConfigError(f"{source}: {key}: every entry must be >= 1, got {list(value)}")
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: model: {exc}") from None


def _need(cond: bool, source: str, key: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{source}: {key}: {message}")


def _check_sections(cfg: RunConfig, source: str) -> None:
    o, t = cfg.optim, cfg.train
    from ember import plugins

    optimizers = plugins.registry("optimizers")
    _need(o.name in optimizers, source, "optim.name",
          f"no optimizer named {o.name!r}; registered: {', '.join(sorted(optimizers))}")
    for key in ("lr", "eps"):
        value = getattr(o, key)
        _need(math.isfinite(value) and value > 0, source, f"optim.{key}", f"must be > 0, got {value}")
    for key in ("weight_decay", "momentum", "grad_clip", "min_lr_ratio"):
        value = getattr(o, key)
        _need(math.isfinite(value) and value >= 0, source, f"optim.{key}", f"must be >= 0, got {value}")
    _need(o.min_lr_ratio <= 1, source, "optim.min_lr_ratio", f"must be in [0, 1], got {o.min_lr_ratio}")
    _need(len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas), source, "optim.betas",
          f"must be two numbers in [0, 1), got {list(o.betas)}")
    _need(o.warmup_steps >= 0, source, "optim.warmup_steps", f"must be >= 0, got {o.warmup_steps}")
    _need(o.schedule in SCHEDULES, source, "optim.schedule", f"must be one of {', '.join(SCHEDULES)}; got {o.schedule!r}")
    for key in ("steps", "batch_size", "log_every"):
        value = getattr(t, key)
        _need(value >= 1, source, f"train.{key}", f"must be >= 1, got {value}")
    if cfg.task == "lm":
        _need(t.eval_batches >= 1, source, "train.eval_batches", f"must be >= 1, got {t.eval_batches}")
    else:
        _need(t.eval_batches >= 0, source, "train.eval_batches",
              f"must be >= 0 (0: the whole held-out split), got {t.eval_batches}")
    for key in ("eval_every", "checkpoint_every"):
        value = getattr(t, key)
        _need(value >= 0, source, f"train.{key}", f"must be >= 0 (0 turns it off or means only at the end), got {value}")
    if t.device != "auto":
        import ember

        try:
            ember.device(t.device)
        except Exception as exc:
            raise ConfigError(f"{source}: train.device: {exc}") from None
    {"lm": _check_lm, "image": _check_images, "text": _check_text, "clip": _check_pairs}[cfg.task](cfg, source)


def _check_lm(cfg: RunConfig, source: str) -> None:
    t, d = cfg.train, cfg.data
    _need(t.seq_len >= 1, source, "train.seq_len", f"must be >= 1, got {t.seq_len}")
    for key in ("samples", "sample_tokens"):
        value = getattr(t, key)
        _need(value >= 0, source, f"train.{key}", f"must be >= 0 (0 turns it off), got {value}")
    from ember_models import corpus

    _need(d.corpus in corpus.available(), source, "data.corpus",
          f"no corpus named {d.corpus!r}; shipped: {', '.join(corpus.available())}")
    _need(d.tokenizer in TOKENIZERS, source, "data.tokenizer",
          f"must be one of {', '.join(TOKENIZERS)}; got {d.tokenizer!r}")
    _need(d.vocab_size >= 257, source, "data.vocab_size", f"a byte-level BPE needs >= 257 tokens, got {d.vocab_size}")
    _need(0 < d.val_fraction < 1, source, "data.val_fraction", f"must be in (0, 1), got {d.val_fraction}")
    _need(d.max_chars >= 0, source, "data.max_chars", f"must be >= 0 (0: the whole corpus), got {d.max_chars}")
    context = getattr(cfg.model, "n_positions", None) or getattr(cfg.model, "max_seq_len", None)
    if context is not None:
        _need(t.seq_len <= context, source, "train.seq_len",
              f"{t.seq_len} is longer than the model's context ({context} positions)")


def _check_images(cfg: RunConfig, source: str) -> None:
    d = cfg.data
    _need(d.dataset in IMAGE_DATASETS, source, "data.dataset",
          f"must be one of {', '.join(IMAGE_DATASETS)}; got {d.dataset!r}")
    for key in ("train_limit", "test_limit"):
        value = getattr(d, key)
        _need(value >= 0, source, f"data.{key}", f"must be >= 0 (0: the whole split), got {value}")
    channels = getattr(cfg.model, "num_channels", None) or getattr(cfg.model, "in_channels", None)
    if channels is not None:
        key = "model.num_channels" if hasattr(cfg.model, "num_channels") else "model.in_channels"
        _need(channels in (1, 3), source, key, f"the image sets are grey: 1 channel, or 3 (repeated); got {channels}")


def _check_text(cfg: RunConfig, source: str) -> None:
    d, m = cfg.data, cfg.model
    _need(d.dataset in TEXT_DATASETS, source, "data.dataset",
          f"must be one of {', '.join(TEXT_DATASETS)}; got {d.dataset!r}")
    _need(d.max_length >= 2, source, "data.max_length", f"must be >= 2 ([CLS] and [SEP]), got {d.max_length}")
    _need(d.vocab_size >= 10, source, "data.vocab_size", f"must be >= 10, got {d.vocab_size}")
    _need(d.max_length <= m.max_position_embeddings, source, "data.max_length",
          f"{d.max_length} is longer than model.max_position_embeddings ({m.max_position_embeddings})")
    _need(m.head == "classification", source, "model.head",
          f"`ember train bert` fine-tunes a classifier: must be 'classification', got {m.head!r}")


def _check_pairs(cfg: RunConfig, source: str) -> None:
    _check_images(cfg, source)
    d = cfg.data
    _need("{}" in d.template, source, "data.template", f"must hold {{}} for the class name, got {d.template!r}")
    _need(d.retrieval_size >= 2, source, "data.retrieval_size", f"must be >= 2, got {d.retrieval_size}")


# -- resolving ---------------------------------------------------------------------------

class Resolver:
    """Builds a :class:`RunConfig` layer by layer, checking each layer as it is applied."""

    def __init__(self, model_name: str, preset: str | None = None) -> None:
        from ember_models import get_spec, list_models

        if model_name not in list_models():
            raise ConfigError(f"no model named {model_name!r}; registered: {', '.join(list_models())}")
        self.spec = get_spec(model_name)
        self.sections = TASK_SECTIONS[TASKS.get(model_name, "lm")]
        self.values: dict[str, Any] = {"model_name": model_name, "preset": "", "model": {}}
        for name, cls in self.sections.items():
            self.values[name] = _fields(cls())
        defaults = DEFAULTS.get(model_name, {})
        self.values["model"] = _fields(self.spec.config())
        self._merge(defaults, "ember-cli defaults")
        if preset:
            self.set_preset(preset, "--preset")
        self.config = self._build("ember-cli defaults")

    def set_preset(self, preset: str, source: str) -> None:
        if preset not in self.spec.presets:
            raise ConfigError(f"{source}: model {self.spec.name!r} has no preset {preset!r}; presets: "
                              f"{', '.join(sorted(self.spec.presets))}")
        # A preset starts from the model's own defaults, not ember-cli's.
        self.values["model"] = {**_fields(self.spec.config()), **self.spec.presets[preset],
                                **TASK_MODEL_FIELDS.get(self.spec.name, {})}
        self.values["preset"] = preset

    def _merge(self, layer: dict, source: str) -> None:
        for section, table in layer.items():
            if section in ("model_name", "preset"):
                continue
            for key, value in table.items():
                self.values[section][key] = value

    def _build(self, source: str) -> RunConfig:
        model = _check_model(self.spec.config, self.values["model"], source)
        sections = {name: cls(**self.values[name]) for name, cls in self.sections.items()}
        cfg = RunConfig(self.values["model_name"], self.values["preset"], model, **sections)
        _check_sections(cfg, source)
        return cfg

    def _typed(self, section: str, key: str, value, source: str):
        cls = self.spec.config if section == "model" else self.sections[section]
        hints = _hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        if key not in names:
            raise ConfigError(f"{source}: unknown key {section}.{key}; [{section}] has: {', '.join(names)}")
        return _coerce(value, hints.get(key, Any), f"{section}.{key}", source)

    def apply(self, layer: dict, source: str) -> RunConfig:
        """Apply a parsed TOML table (or --set values) and check the result."""
        if not isinstance(layer, dict):
            raise ConfigError(f"{source}: expected a table")
        known = ("model_name", "preset", "model", *self.sections)
        name = layer.get("model_name")
        if name is not None and name != self.values["model_name"]:
            raise ConfigError(f"{source}: model_name: this config is for {name!r}, but the command trains "
                              f"{self.values['model_name']!r}")
        if layer.get("preset"):
            preset = layer["preset"]
            if not isinstance(preset, str):
                raise ConfigError(f"{source}: preset: expected string, got {_describe(preset)}")
            if preset != self.values["preset"]:
                self.set_preset(preset, source)
        typed: dict[str, dict] = {}
        for section, table in layer.items():
            if section not in known:
                raise ConfigError(f"{source}: unknown key {section!r}; a run config has: {', '.join(known)}")
            if section in ("model_name", "preset"):
                continue
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: {section}: expected a table [{section}], got {_describe(table)}")
            typed[section] = {k: self._typed(section, k, v, source) for k, v in table.items()}
        self._merge(typed, source)
        self.config = self._build(source)
        return self.config

    def apply_file(self, path) -> RunConfig:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except OSError as exc:
            raise ConfigError(f"can't read config file {path}: {exc}") from None
        try:
            layer = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        return self.apply(layer, str(path))

    def apply_set(self, assignment: str) -> RunConfig:
        """One ``--set section.key=value``; the value is read as TOML (bare words are strings)."""
        source = f"--set {assignment}"
        key, eq, text = assignment.partition("=")
        key = key.strip()
        if not eq or "." not in key:
            raise ConfigError(f"{source}: expected section.key=value, e.g. optim.lr=3e-4")
        section, _, name = key.partition(".")
        if section not in ("model", *self.sections):
            raise ConfigError(f"{source}: unknown section {section!r}; sections: model, {', '.join(self.sections)}")
        text = text.strip()
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        return self.apply({section: {name: value}}, source)


def resolve(model_name: str, preset: str | None = None, config_file=None, sets=()) -> RunConfig:
    """Defaults, preset, file, then ``--set`` overrides: the checked :class:`RunConfig`."""
    r = Resolver(model_name, preset)
    if config_file is not None:
        r.apply_file(config_file)
    for assignment in sets:
        r.apply_set(assignment)
    return r.config


def load(path) -> RunConfig:
    """A saved (resolved) run config, e.g. a run folder's ``config.toml``."""
    path = Path(path)
    try:
        layer = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    name = layer.get("model_name")
    if not isinstance(name, str):
        raise ConfigError(f"{path}: model_name: missing (a run folder's config.toml names its model)")
    r = Resolver(name)
    r.apply(layer, str(path))
    return r.config


# -- writing TOML ------------------------------------------------------------------------

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"can't write {type(value).__name__} as TOML")


def dumps(values: dict, header: str = "") -> str:
    """A run config as TOML; ``None`` values (TOML has no null) are written as comments."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for key in ("model_name", "preset"):
        lines.append(f"{key} = {_toml_value(values[key])}")
    for section in ("model", "optim", "train", "data"):
        lines.append("")
        lines.append(f"[{section}]")
        for key, value in values[section].items():
            if value is None:
                lines.append(f"# {key} = (none: the model's default)")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
