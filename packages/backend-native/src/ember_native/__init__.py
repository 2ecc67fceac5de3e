"""ember-backend-native: ember's CPU backend with compiled C kernels.

It is the NumPy backend (device "cpu") with three primitives replaced by single-loop C
kernels that the compiler vectorises: exact GELU, layer norm and RMS norm, in float32.
Everything else, and every other dtype, runs ember's NumPy code unchanged. Installed, it
serves "cpu" (it outranks the NumPy backend); ``--ember-backend numpy`` in the conformance
suite, or :func:`ember_native.plugin` not being loaded, gives plain NumPy back.
"""

from .backend import NativeBackend

__all__ = ["NativeBackend"]
__version__ = "0.1.0"
