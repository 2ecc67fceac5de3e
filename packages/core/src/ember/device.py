"""Devices: "cpu", "cuda", "cuda:1", "mps" — each served by a backend that a plugin registered.

Where a new tensor goes, in this order: an explicit ``device=``, the innermost
``with ember.use_device(...)`` scope, the ``EMBER_DEVICE`` variable, then "cpu".
``ember.default_device()`` instead names the best available device (the highest-priority
available backend), which is what a training script that wants "the GPU if there is one"
asks for. Data never moves between devices implicitly.
"""

from __future__ import annotations

import contextlib
import os
import threading

from . import plugins
from .backend import Backend

__all__ = ["Device", "device", "use_device", "use_backend", "default_device", "get_backend", "backends", "DeviceError"]


class DeviceError(RuntimeError):
    """A device that is unknown, unavailable, or mixed with another in one op."""


class Device:
    """A device type with an optional index. Instances are interned: compare with ``is`` or ``==``."""

    __slots__ = ("type", "index", "_backend")
    _interned: dict = {}

    def __new__(cls, type_or_spec, index: int | None = None):
        if isinstance(type_or_spec, Device):
            if index is None or index == type_or_spec.index:
                return type_or_spec
            type_or_spec = type_or_spec.type
        key = (type_or_spec, index)
        found = cls._interned.get(key)
        if found is not None:
            return found
        kind, idx = _parse(type_or_spec, index)
        found = cls._interned.get((kind, idx))
        if found is None:
            found = object.__new__(cls)
            found.type, found.index, found._backend = kind, idx, None
            cls._interned[(kind, idx)] = found
        cls._interned[key] = found
        return found

    @property
    def backend(self) -> Backend:
        """The backend that serves this device (resolved through the plugins on first use)."""
        backend = self._backend
        if backend is None:
            backend = self._backend = get_backend(self.type)
            if self.index is not None and self.index >= backend.device_count():
                raise DeviceError(f"device {self} does not exist: backend {backend.name!r} has "
                                  f"{backend.device_count()} {self.type} device(s)")
        return backend

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type={self.type!r}" + ("" if self.index is None else f", index={self.index}") + ")"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except (DeviceError, TypeError):
                return False
        return self is other

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (Device, (str(self),))


def _parse(spec, index):
    if not isinstance(spec, str):
        raise TypeError(f"a device is a string like 'cpu' or 'cuda:1' or an ember.device, got {spec!r}")
    kind, sep, idx_text = spec.strip().partition(":")
    if sep:
        if index is not None:
            raise DeviceError(f"device {spec!r} already has an index; got index={index} as well")
        if not idx_text.isdigit():
            raise DeviceError(f"bad device string {spec!r}: expected 'type' or 'type:N' with N >= 0")
        index = int(idx_text)
    if not kind or not kind.replace("_", "").isalnum():
        raise DeviceError(f"bad device string {spec!r}: expected 'type' or 'type:N', e.g. 'cpu' or 'cuda:0'")
    if kind == "cpu":
        index = None
    elif index is not None and index < 0:
        raise DeviceError(f"device index must be >= 0, got {index}")
    return kind, index


device = Device  # ``ember.device("cuda:0")``, as in PyTorch

_backend_instances: dict[str, Backend] = {}
_scope = threading.local()


def _reset_backends() -> None:
    _backend_instances.clear()
    for d in Device._interned.values():
        d._backend = None


def _entry_available(entry) -> tuple[bool, str]:
    probe = entry.options.get("is_available")
    if probe is None:
        return True, ""
    try:
        return bool(probe()), ""
    except Exception as exc:  # a probe must not crash the host
        return False, f"{type(exc).__name__}: {exc}"


def backends() -> list[dict]:
    """Every registered backend, available or not and why (for ``ember devices``)."""
    rows = []
    for name, entry in plugins.registry("backends").items():
        ok, why = _entry_available(entry)
        row = {"name": name, "plugin": entry.plugin, "device_types": tuple(entry.options.get("device_types", ())),
               "priority": entry.options.get("priority", 0), "available": ok, "reason": why, "devices": []}
        if ok:
            try:
                backend = _instantiate(name, entry)
                row["available"] = backend.is_available()
                row["reason"] = "" if row["available"] else backend.unavailable_reason()
                if row["available"]:
                    row["devices"] = [backend.describe(i) for i in range(backend.device_count())]
            except Exception as exc:
                row["available"], row["reason"] = False, f"{type(exc).__name__}: {exc}"
        elif not why:
            row["reason"] = "its availability probe said no"
        rows.append(row)
    return rows


def _instantiate(name: str, entry) -> Backend:
    backend = _backend_instances.get(name)
    if backend is None:
        backend = entry.obj()
        if not isinstance(backend, Backend):
            raise TypeError(f"backend factory {name!r} returned {type(backend).__name__}, expected an ember.backend.Backend")
        _backend_instances[name] = backend
    return backend


def get_backend(device_type: str) -> Backend:
    """The highest-priority available backend serving ``device_type``; a clear error if none."""
    entries = [e for e in plugins.registry("backends").values()
               if device_type in e.options.get("device_types", ())]
    if not entries:
        known = sorted({t for e in plugins.registry("backends").values() for t in e.options.get("device_types", ())})
        hint = {"cuda": " (pip install ember-backend-cuda)", "mps": " (pip install ember-backend-mps)"}.get(device_type, "")
        raise DeviceError(f"no backend serves device type {device_type!r}{hint}; known device types: {known}")
    reasons = []
    for entry in sorted(entries, key=lambda e: -e.options.get("priority", 0)):
        ok, why = _entry_available(entry)
        if ok:
            try:
                backend = _instantiate(entry.name, entry)
            except Exception as exc:
                reasons.append(f"{entry.name}: {type(exc).__name__}: {exc}")
                continue
            if backend.is_available():
                return backend
            why = backend.unavailable_reason()
        reasons.append(f"{entry.name}: {why or 'not available on this machine'}")
    raise DeviceError(f"device type {device_type!r} is not available: " + "; ".join(reasons))


@contextlib.contextmanager
def use_device(dev):
    """Make ``dev`` the device of tensors created inside the block without ``device=``."""
    dev = Device(dev)
    dev.backend  # fail early on an unavailable device
    stack = getattr(_scope, "stack", None)
    if stack is None:
        stack = _scope.stack = []
    stack.append(dev)
    try:
        yield dev
    finally:
        stack.pop()


@contextlib.contextmanager
def use_backend(name: str):
    """Serve the device type of the backend registered as ``name`` with that backend inside the
    block, even where another one outranks it (plain NumPy where ember-backend-native is
    installed); yields the backend."""
    entries = plugins.registry("backends")
    if name not in entries:
        raise DeviceError(f"no backend is registered as {name!r}; backends: {sorted(entries)}")
    device_type = entries[name].options["device_types"][0]
    dev = Device(device_type, None if device_type == "cpu" else 0)
    before = dev._backend
    dev._backend = _instantiate(name, entries[name])
    try:
        yield dev._backend
    finally:
        dev._backend = before


CPU = Device("cpu")


def resolve(dev=None) -> Device:
    """The device a new tensor goes to (explicit, scope, EMBER_DEVICE, then cpu)."""
    if dev is None:
        stack = getattr(_scope, "stack", None)
        if stack:
            dev = stack[-1]
        else:
            env = os.environ.get("EMBER_DEVICE")
            if not env:
                return CPU
            try:
                dev = Device(env)
            except (DeviceError, TypeError) as exc:
                raise DeviceError(f"EMBER_DEVICE={env!r} is not a valid device: {exc}") from None
    elif type(dev) is not Device:
        dev = Device(dev)
    if dev.index is None and dev.type != "cpu":
        dev = Device(dev.type, 0)  # tensors live on a definite device: "cuda" means "cuda:0"
    return dev


def default_device() -> Device:
    """The best device here: the explicit scope or EMBER_DEVICE if set, else the default
    device of the highest-priority available backend ("cpu" when no accelerator is there)."""
    stack = getattr(_scope, "stack", None)
    if stack or os.environ.get("EMBER_DEVICE"):
        return resolve()
    # Highest priority first, and stop at the first backend that is available: a backend
    # ranked below the winner is never instantiated (so its library is never imported).
    entries = sorted(plugins.registry("backends").values(), key=lambda e: -e.options.get("priority", 0))
    for entry in entries:
        types = tuple(entry.options.get("device_types", ()))
        if not types or not _entry_available(entry)[0]:
            continue
        try:
            if _instantiate(entry.name, entry).is_available():
                return Device(types[0])
        except Exception:
            continue
    return CPU
