"""Ember: tensors and reverse-mode autograd on NumPy, with pluggable backends.

>>> import ember
>>> w = ember.tensor([[1.0, 2.0]], requires_grad=True)
>>> loss = (w @ ember.tensor([[3.0], [4.0]])).sum()
>>> loss.backward()
>>> w.grad.tolist()
[[3.0, 4.0]]
"""

from __future__ import annotations

from . import host_memory
from .host_threads import get_num_threads, set_num_threads  # noqa: F401
from . import dtypes
from .dtypes import (  # noqa: F401
    bfloat16, bool, dtype, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
    promote_types, set_default_dtype, uint8,
)
from .device import Device, DeviceError, default_device, device, use_device  # noqa: F401
from .hookspecs import hookimpl  # noqa: F401
from .tensor import Tensor  # noqa: F401
from . import ops  # noqa: F401
from .ops import *  # noqa: F401,F403
from .ops import METHODS as _METHODS  # noqa: F401
from .creation import *  # noqa: F401,F403
from .random import (  # noqa: F401
    Generator, bernoulli, default_generator, get_rng_state, manual_seed, multinomial, normal, rand, rand_like,
    randint, randint_like, randn, randn_like, randperm, seed, set_rng_state,
)
from . import autograd  # noqa: F401
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from . import plugins  # noqa: F401
from .dlpack import from_dlpack  # noqa: F401

host_memory.tune_malloc()

float = float32  # noqa: A001 - PyTorch's alias
double = float64
half = float16
long = int64

__version__ = "0.1.0"


def __getattr__(name):
    # nn, optim, data and serialization load on first use, so `import ember` stays light.
    import importlib

    if name in ("nn", "optim", "data", "serialization", "testing", "utils", "cuda"):
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in ("save", "load"):
        from . import serialization

        return getattr(serialization, name)
    raise AttributeError(f"module 'ember' has no attribute {name!r}")
