"""ember-cli: the ``ember`` command (train, generate, eval, bench, plugins, devices, config)."""

__version__ = "0.1.0"
