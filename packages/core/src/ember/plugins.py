"""The plugin manager: one pluggy project, ``ember``, one entry-point group, ``ember``.

Plugins are loaded once, on first need, in this order: ember's own built-in plugin, the
modules named in ``EMBER_PLUGINS`` (comma-separated), then every ``ember`` entry point
unless ``EMBER_DISABLE_PLUGIN_AUTOLOAD=1``. A plugin that fails to import or whose hook
raises becomes a warning that names its distribution; ``EMBER_STRICT_PLUGINS=1`` turns
that back into an error. Each registry (backends, layers, optimizers, models, commands)
asks the plugins for its entries the first time it is read.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import pluggy

from . import hookspecs

KINDS = ("backends", "layers", "optimizers", "models", "commands")


class PluginError(RuntimeError):
    """A plugin failed to load or register, and EMBER_STRICT_PLUGINS=1 is set."""


class PluginWarning(UserWarning):
    """A plugin failed to load or register; ember goes on without it."""


@dataclass
class PluginInfo:
    """What ``ember plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Entry:
    """One registered thing: a backend factory, a layer class, an optimizer, a model..."""

    name: str
    obj: Any
    plugin: str
    options: dict[str, Any] = field(default_factory=dict)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class PluginManager:
    """Loads plugins and fills the registries. ``ember.plugins.manager()`` is the shared one."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("ember")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._registries: dict[str, dict[str, Entry]] = {}
        self._loaded = False
        self._lock = threading.RLock()

    # -- loading -----------------------------------------------------------------------

    def _fail(self, what: str, info: PluginInfo, exc: BaseException) -> None:
        info.error = f"{type(exc).__name__}: {exc}"
        message = f"ember plugin {info.name!r} from distribution {info.distribution!r} {what}: {info.error}"
        if _env_flag("EMBER_STRICT_PLUGINS"):
            raise PluginError(message) from exc
        warnings.warn(message + " (it is skipped; EMBER_STRICT_PLUGINS=1 makes this an error)",
                      PluginWarning, stacklevel=3)

    def register(self, plugin: Any, name: str | None = None, distribution: str = "", version: str = "") -> None:
        """Register a plugin object or module (what an entry point would give)."""
        with self._lock:
            name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
            info = PluginInfo(name, distribution or "(not installed)", version)
            self.infos[name] = info
            try:
                self.pm.register(plugin, name=name)
            except Exception as exc:  # a bad hook signature, a duplicate name
                self._fail("could not be registered", info, exc)
                return
            # Registries already filled get this plugin's entries now.
            for kind in list(self._registries):
                self._collect_from(kind, name)

    def load(self) -> None:
        """Load every plugin once (idempotent)."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            from . import builtin_plugin

            self.register(builtin_plugin, name="ember", distribution="ember-core", version=_version("ember-core"))
            for module_name in filter(None, (s.strip() for s in os.environ.get("EMBER_PLUGINS", "").split(","))):
                info = PluginInfo(module_name, "(EMBER_PLUGINS)", "")
                try:
                    module = importlib.import_module(module_name)
                except Exception as exc:
                    self.infos[module_name] = info
                    self._fail("failed to import", info, exc)
                    continue
                self.register(module, name=module_name, distribution="(EMBER_PLUGINS)")
            if not _env_flag("EMBER_DISABLE_PLUGIN_AUTOLOAD"):
                for ep in importlib.metadata.entry_points(group="ember"):
                    dist = ep.dist.name if ep.dist is not None else "(unknown distribution)"
                    version = ep.dist.version if ep.dist is not None else ""
                    if ep.name in self.infos:
                        continue
                    try:
                        plugin = ep.load()
                    except Exception as exc:
                        info = PluginInfo(ep.name, dist, version)
                        self.infos[ep.name] = info
                        self._fail("failed to load", info, exc)
                        continue
                    self.register(plugin, name=ep.name, distribution=dist, version=version)

    # -- registries --------------------------------------------------------------------

    def _collect_from(self, kind: str, plugin_name: str) -> None:
        plugin = self.pm.get_plugin(plugin_name)
        info = self.infos[plugin_name]
        registry = self._registries[kind]
        hook = getattr(self.pm.hook, f"ember_register_{kind}")
        for impl in hook.get_hookimpls():
            if impl.plugin is not plugin:
                continue

            def register(name: str, obj: Any, **options: Any) -> None:
                if not isinstance(name, str) or not name:
                    raise TypeError(f"a {kind[:-1]} name must be a non-empty string, got {name!r}")
                registry[name] = Entry(name, obj, plugin_name, options)
                info.registered.setdefault(kind, []).append(name)

            try:
                impl.function(register=register)
            except Exception as exc:
                self._fail(f"raised in ember_register_{kind}", info, exc)

    def registry(self, kind: str) -> dict[str, Entry]:
        """Name -> Entry for one kind, filled from every plugin on first read."""
        if kind not in KINDS:
            raise ValueError(f"unknown registry {kind!r}; expected one of {KINDS}")
        registry = self._registries.get(kind)
        if registry is not None:
            return registry
        with self._lock:
            self.load()
            if kind not in self._registries:
                self._registries[kind] = {}
                for plugin_name in list(self.infos):
                    if self.pm.get_plugin(plugin_name) is not None:
                        self._collect_from(kind, plugin_name)
            return self._registries[kind]

    def plugins(self) -> list[PluginInfo]:
        """Every plugin, loaded or broken, with what it registered (all kinds are read)."""
        for kind in KINDS:
            self.registry(kind)
        return list(self.infos.values())


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return ""


_manager: PluginManager | None = None
_manager_lock = threading.Lock()


def manager() -> PluginManager:
    """The process-wide plugin manager."""
    global _manager
    if _manager is None:
        with _manager_lock:
            if _manager is None:
                _manager = PluginManager()
    return _manager


def reset() -> None:
    """Forget every plugin and registry (for tests that change EMBER_* variables)."""
    global _manager
    from .device import _reset_backends

    with _manager_lock:
        _manager = None
    _reset_backends()


def register(plugin: Any, name: str | None = None) -> None:
    """Register a plugin at run time, as an installed one would be."""
    manager().register(plugin, name=name)


def registry(kind: str) -> dict[str, Entry]:
    return manager().registry(kind)


def get(kind: str, name: str) -> Entry:
    """One registered entry, or a KeyError that lists what is registered."""
    entries = registry(kind)
    try:
        return entries[name]
    except KeyError:
        known = ", ".join(sorted(entries)) or "none"
        raise KeyError(f"no {kind[:-1]} named {name!r} is registered; registered: {known}") from None


Callback = Callable[..., None]
