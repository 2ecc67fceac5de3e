"""The hooks a plugin implements. Each takes a ``register`` callback (as simonw/llm does).

A plugin is a module (or object) with functions decorated by ``ember.hookimpl`` and named
like the specs below. It is found through the ``ember`` entry-point group, the
``EMBER_PLUGINS`` variable (comma-separated module names), or ``ember.plugins.register``.
Registering is cheap: heavy imports (cupy, mlx) belong inside the factories.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("ember")
hookimpl = pluggy.HookimplMarker("ember")


@hookspec
def ember_register_backends(register):
    """Called once, when ember first needs a device. Register backends with
    ``register(name, factory, *, device_types, priority=0, is_available=None)``:
    ``factory()`` builds the :class:`ember.backend.Backend` on first use; ``is_available()``
    is a cheap probe (no heavy import) that says whether the factory can work here; among
    available backends that serve the same device type, the highest ``priority`` wins.
    """


@hookspec
def ember_register_layers(register):
    """Called when the layer registry is first read (``ember.nn.layer_registry()``,
    ``ember plugins``). Register ``nn.Module`` subclasses with ``register(name, cls)``.
    """


@hookspec
def ember_register_optimizers(register):
    """Called when the optimizer registry is first read (``ember.optim.create``,
    ``ember plugins``). Register optimizer classes with ``register(name, cls)``.
    """


@hookspec
def ember_register_models(register):
    """Called when the model registry is first read (``ember_models.list_models()``, the CLI).
    Register models with ``register(name, builder, *, config=ConfigClass, presets={...})``.
    """


@hookspec
def ember_register_commands(register):
    """Called when the ``ember`` command starts. Register subcommands with
    ``register(name, configure)``: ``configure(subparsers)`` adds an argparse sub-parser
    whose ``func`` default runs the command and returns its exit code.
    """
