"""``ember.testing``: the backend conformance suite and the shared op-checking helpers.

Any backend — ours or a third party's — runs the whole suite with::

    pytest --pyargs ember.testing --ember-backend NAME

(``python -m ember.testing NAME`` does the same). Every op in the spec table is checked
forward against NumPy float64 and backward against central finite differences on that
backend; nothing else has to be written.
"""

from .opspec import (  # noqa: F401
    OpSpec, SPECS, all_specs, check_against_torch, check_backward, check_forward, register,
)
