"""Ember's own plugin: the NumPy backend, the layers and the optimizers of ember-core.

It registers through the same hooks as any third-party plugin.
"""

from __future__ import annotations

from .hookspecs import hookimpl


@hookimpl
def ember_register_backends(register):
    from .numpy_backend import NumpyBackend

    register("numpy", NumpyBackend, device_types=("cpu",), priority=0)


@hookimpl
def ember_register_layers(register):
    from .nn import layers as _layers

    for name in _layers.__all__:
        register(name, getattr(_layers, name))


@hookimpl
def ember_register_optimizers(register):
    from .optim import optimizers as _optimizers

    for name in _optimizers.__all__:
        register(name, getattr(_optimizers, name))
