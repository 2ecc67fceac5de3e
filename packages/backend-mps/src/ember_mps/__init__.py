"""ember-backend-mps: device "mps" on MLX (Metal on Apple silicon, MLX's CPU device elsewhere).

Installing the package is enough: it registers through the ``ember`` entry-point group, and
MLX itself is imported only when the device is first used::

    import ember
    x = ember.randn(3, 4, device="mps")
"""

__version__ = "0.1.0"
