"""The zoo's front door: list, create and load models registered through the models hook.

A model zoo (this one or a third party's) registers each model with
``register(name, builder, config=ConfigClass, presets={"tiny": {...}, ...}, loader=fn)``:
``builder(config)`` returns an ``ember.nn.Module``; ``config`` is a dataclass whose fields are
the model's hyper-parameters; ``presets`` map a preset name to field overrides; ``loader``
(optional) is ``loader(path, config=None, **overrides)`` returning a model with pretrained weights.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from ember import plugins


@dataclass
class ModelSpec:
    """What a plugin registered for one model name."""

    name: str
    builder: Callable
    config: type
    presets: dict[str, dict[str, Any]]
    loader: Callable | None
    plugin: str


def _spec(name: str) -> ModelSpec:
    entry = plugins.get("models", name)
    options = entry.options
    if "config" not in options:
        raise TypeError(f"model {name!r} (plugin {entry.plugin!r}) was registered without config=ConfigClass")
    return ModelSpec(name, entry.obj, options["config"], dict(options.get("presets", {})),
                     options.get("loader"), entry.plugin)


def list_models() -> list[str]:
    """The names of every registered model, sorted."""
    return sorted(plugins.registry("models"))


def get_spec(name: str) -> ModelSpec:
    return _spec(name)


def make_config(name: str, preset: str | None = None, **overrides):
    """The config of ``name``: defaults, then ``preset``'s values, then ``overrides``.

    Unknown fields or presets are a ``ValueError`` naming them and what is known.
    """
    spec = _spec(name)
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in spec.presets:
            raise ValueError(f"model {name!r} has no preset {preset!r}; presets: {sorted(spec.presets)}")
        values.update(spec.presets[preset])
    fields = {f.name for f in dataclasses.fields(spec.config)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"model {name!r} has no config field(s) {unknown}; fields: {sorted(fields)}")
    values.update(overrides)
    return spec.config(**values)


def create(name: str, preset: str | None = None, **overrides):
    """Build model ``name`` with fresh weights: ``create("gpt2", preset="tiny", n_layer=2)``."""
    config = make_config(name, preset, **overrides)
    return _spec(name).builder(config)


def from_pretrained(name: str, path, **overrides):
    """Build model ``name`` with the weights in ``path`` (a safetensors file or a folder with one)."""
    spec = _spec(name)
    if spec.loader is None:
        raise ValueError(f"model {name!r} has no pretrained-weight loader")
    return spec.loader(path, **overrides)
