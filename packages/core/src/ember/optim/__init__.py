"""Optimizers, learning-rate schedulers, and the optimizer registry."""

from . import lr_scheduler  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .optimizers import *  # noqa: F401,F403


def create(name: str, params, **hyper):
    """Build a registered optimizer by name (``ember.optim.create("AdamW", model.parameters(), lr=1e-3)``)."""
    from .. import plugins

    return plugins.get("optimizers", name).obj(params, **hyper)
