"""Typed run configs: TOML files and ``--set`` overrides, validated before any work starts.

A run config has four tables and two top-level keys::

    model_name = "gpt2"     # a registered model
    preset = ""             # one of the model's presets ("" for ember-cli's default)
    [model]                 # the fields of the model's config dataclass (e.g. GPT2Config)
    [optim]                 # OptimConfig: name, lr, weight_decay, betas, ...
    [train]                 # TrainConfig: steps, batch_size, seq_len, eval_every, ...
    [data]                  # DataConfig: corpus, tokenizer, ...

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
    """The training loop. ``eval_every`` / ``checkpoint_every`` = 0: only at the end."""

    steps: int = 1800
    batch_size: int = 16
    seq_len: int = 64
    eval_every: int = 300
    eval_batches: int = 8
    checkpoint_every: int = 300
    log_every: int = 10
    seed: int = 1337
    device: str = "auto"
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


SECTIONS = {"optim": OptimConfig, "train": TrainConfig, "data": DataConfig}

# Models `ember train` knows how to train, and ember-cli's defaults for each (a run that
# takes about five minutes on two CPU cores), applied when no preset is named.
TASKS = {"gpt2": "lm", "llama": "lm"}
DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "gpt2": {"model": dict(n_positions=64, n_embd=128, n_layer=4, n_head=4)},
    "llama": {"model": dict(max_seq_len=64, dim=128, n_layers=4, n_heads=4, n_kv_heads=2, hidden_dim=384)},
}
DEFAULT_MODEL = "gpt2"


@dataclass
class RunConfig:
    """A validated run config; ``model`` is an instance of the model's config dataclass."""

    model_name: str
    preset: str
    model: Any
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

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
    o, t, d = cfg.optim, cfg.train, cfg.data
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
    for key in ("steps", "batch_size", "seq_len", "eval_batches", "log_every"):
        value = getattr(t, key)
        _need(value >= 1, source, f"train.{key}", f"must be >= 1, got {value}")
    for key in ("eval_every", "checkpoint_every", "samples", "sample_tokens"):
        value = getattr(t, key)
        _need(value >= 0, source, f"train.{key}", f"must be >= 0 (0 turns it off or means only at the end), got {value}")
    if t.device != "auto":
        import ember

        try:
            ember.device(t.device)
        except Exception as exc:
            raise ConfigError(f"{source}: train.device: {exc}") from None
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


# -- resolving ---------------------------------------------------------------------------

class Resolver:
    """Builds a :class:`RunConfig` layer by layer, checking each layer as it is applied."""

    def __init__(self, model_name: str, preset: str | None = None) -> None:
        from ember_models import get_spec, list_models

        if model_name not in list_models():
            raise ConfigError(f"no model named {model_name!r}; registered: {', '.join(list_models())}")
        self.spec = get_spec(model_name)
        self.values: dict[str, Any] = {"model_name": model_name, "preset": "", "model": {}}
        for name, cls in SECTIONS.items():
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
        self.values["model"] = {**_fields(self.spec.config()), **self.spec.presets[preset]}
        self.values["preset"] = preset

    def _merge(self, layer: dict, source: str) -> None:
        for section, table in layer.items():
            if section in ("model_name", "preset"):
                continue
            for key, value in table.items():
                self.values[section][key] = value

    def _build(self, source: str) -> RunConfig:
        model = _check_model(self.spec.config, self.values["model"], source)
        sections = {name: cls(**self.values[name]) for name, cls in SECTIONS.items()}
        cfg = RunConfig(self.values["model_name"], self.values["preset"], model, **sections)
        _check_sections(cfg, source)
        return cfg

    def _typed(self, section: str, key: str, value, source: str):
        cls = self.spec.config if section == "model" else SECTIONS[section]
        hints = _hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        if key not in names:
            raise ConfigError(f"{source}: unknown key {section}.{key}; [{section}] has: {', '.join(names)}")
        return _coerce(value, hints.get(key, Any), f"{section}.{key}", source)

    def apply(self, layer: dict, source: str) -> RunConfig:
        """Apply a parsed TOML table (or --set values) and check the result."""
        if not isinstance(layer, dict):
            raise ConfigError(f"{source}: expected a table")
        known = ("model_name", "preset", "model", *SECTIONS)
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
        if section not in ("model", *SECTIONS):
            raise ConfigError(f"{source}: unknown section {section!r}; sections: model, {', '.join(SECTIONS)}")
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
    for section in ("model", *SECTIONS):
        lines.append("")
        lines.append(f"[{section}]")
        for key, value in values[section].items():
            if value is None:
                lines.append(f"# {key} = (none: the model's default)")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
