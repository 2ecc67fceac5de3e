"""Devices: parsing, selection order, transfers with gradients, and errors that name both devices."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import plugins
from ember.device import DeviceError


@pytest.fixture
def testdev():
    from tests.core import plugin_fixtures

    plugins.reset()
    plugins.register(plugin_fixtures, name="plugin_fixtures")
    yield
    plugins.reset()


def test_device_parsing_and_interning():
    assert ember.device("cpu") is ember.device("cpu")
    d = ember.device("cuda:1")
    assert (d.type, d.index, str(d)) == ("cuda", 1, "cuda:1")
    assert ember.device("cuda", 1) is d and d == "cuda:1"
    assert ember.device("cpu:0") is ember.device("cpu")
    for bad in ("cuda:x", ":1", "cu da", "cuda:-1"):
        with pytest.raises(DeviceError, match="device"):
            ember.device(bad)


def test_unknown_device_type_says_what_to_install():
    served = {t for e in ember.plugins.registry("backends").values() for t in e.options.get("device_types", ())}
    if "cuda" in served:
        pytest.skip("a backend for 'cuda' is installed here (ember-backend-cuda)")
    with pytest.raises(DeviceError, match=r"'cuda'.*pip install ember-backend-cuda"):
        ember.ones(1, device="cuda")


def test_unavailable_backend_says_why(testdev):
    with pytest.raises(DeviceError, match="'nevdev' is not available"):
        ember.ones(1, device="nevdev")


def test_device_index_out_of_range(testdev):
    with pytest.raises(DeviceError, match="testdev:5 does not exist"):
        ember.ones(1, device="testdev:5")


def test_selection_order_explicit_scope_env(testdev, monkeypatch):
    assert ember.ones(1).device == "cpu"
    monkeypatch.setenv("EMBER_DEVICE", "testdev:1")
    assert ember.ones(1).device == "testdev:1"
    with ember.use_device("testdev:0"):
        assert ember.ones(1).device == "testdev:0"
        assert ember.ones(1, device="cpu").device == "cpu"
    monkeypatch.setenv("EMBER_DEVICE", "bogus:device:x")
    with pytest.raises(DeviceError, match="EMBER_DEVICE"):
        ember.ones(1)


def test_default_device_picks_highest_priority_available(testdev):
    assert ember.default_device() == "testdev"


def test_mixing_devices_names_both(testdev):
    a = ember.ones(2)
    b = ember.ones(2, device="testdev")
    with pytest.raises(DeviceError, match=r"cpu and testdev:0"):
        a + b


def test_to_device_round_trip_carries_gradients(testdev):
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("testdev") * 3.0
    assert y.device == "testdev:0"
    z = y.to("cpu")
    z.backward(ember.ones(2))
    assert x.grad.device == "cpu" and x.grad.tolist() == [3.0, 3.0]


def test_to_dtype_and_device_together(testdev):
    x = ember.tensor([1.5, 2.5])
    y = x.to("testdev:1", ember.float64)
    assert y.device == "testdev:1" and y.dtype is ember.float64
    np.testing.assert_array_equal(y.cpu().numpy(), [1.5, 2.5])
