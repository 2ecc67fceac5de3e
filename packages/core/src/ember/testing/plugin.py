"""The pytest plugin behind ``--ember-backend NAME`` (registered through the pytest11 entry point)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("ember")
    group.addoption("--ember-backend", default=None, metavar="NAME",
                    help="run ember's conformance suite on the backend registered as NAME, or on the backend "
                         "serving the device type NAME (e.g. numpy, cpu, cuda, mps)")


def _backend_device(name: str):
    import ember
    from ember import plugins
    from ember.device import _entry_available, _instantiate

    entries = plugins.registry("backends")
    if name not in entries:  # a device type ("mps") names its highest-priority backend
        serving = sorted((e for e in entries.values() if name in e.options.get("device_types", ())),
                         key=lambda e: -e.options.get("priority", 0))
        if not serving:
            types = sorted({t for e in entries.values() for t in e.options.get("device_types", ())})
            raise pytest.UsageError(f"--ember-backend {name!r}: no such backend or device type; "
                                    f"backends: {sorted(entries)}, device types: {types}")
        name = serving[0].name
    entry = entries[name]
    ok, why = _entry_available(entry)
    if not ok:
        return None, why or f"backend {name!r} is not available on this machine"
    backend = _instantiate(name, entry)
    if not backend.is_available():
        return None, backend.unavailable_reason() or f"backend {name!r} is not available on this machine"
    device_type = entry.options["device_types"][0]
    device = ember.device(device_type, None if device_type == "cpu" else 0)
    if device.backend is not backend:
        # Another backend outranks this one for its device type (ember-backend-native over
        # NumPy for "cpu"): the suite tests the backend it was asked for, so pin it for the run.
        device._backend = backend
    return device, ""


@pytest.fixture(scope="session")
def ember_device(request):
    """The device of the backend under test (cpu when no --ember-backend is given)."""
    import ember

    name = request.config.getoption("--ember-backend")
    if name is None:
        return ember.device("cpu")
    device, why = _backend_device(name)
    if device is None:
        pytest.skip(f"backend {name!r} unavailable: {why}")
    return device


@pytest.fixture(scope="session")
def ember_float64(ember_device) -> bool:
    """Whether the backend under test supports float64 (gradients are checked in float64 if so)."""
    return _gradcheck_mode(ember_device) != "float32"


@pytest.fixture(scope="session")
def ember_gradcheck_precision(ember_device) -> str:
    """How gradients are checked on the backend under test: "float64"; "float64-approx" where
    float64 is stored but exp/sin/erf... are only float32-accurate (MLX on the CPU), which
    calls for a larger finite-difference step; or "float32" where float64 is missing."""
    return _gradcheck_mode(ember_device)


def _gradcheck_mode(device) -> str:
    import math

    import ember

    try:
        e = ember.ones(1, dtype="float64", device=device).exp().item()
    except Exception:
        return "float32"
    return "float64" if abs(e - math.e) < 1e-14 else "float64-approx"
