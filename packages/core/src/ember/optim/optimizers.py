"""Every optimizer of ember-core; ember's built-in plugin registers each name in ``__all__``."""

__all__: list = []
