"""tests/core tests the core package's own code, so "cpu" runs on the core's NumPy backend
here, even where ember-backend-native (which outranks it for "cpu") is installed. The
native backend has its own tests (tests/backend_native) and runs the conformance suite."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="package")
def _cpu_on_the_numpy_backend():
    from ember.device import use_backend

    with use_backend("numpy"):
        yield
