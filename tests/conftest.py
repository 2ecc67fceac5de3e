"""Shared pytest set-up for every package's tests: seeding and hypothesis profiles.

Markers (slow, integration, benchmark) and warning filters live in the root pytest.ini.
"""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

try:
    from hypothesis import settings
except ImportError:  # hypothesis is a test dependency; tests that need it import it themselves
    settings = None

if settings is not None:
    # No deadlines: a 2-core CI machine is slow and noisy, and a deadline there only makes
    # flaky failures. On CI (CI=true) examples are derandomized, so a failure reproduces.
    settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
    settings.register_profile("dev", deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same random state: Python's, NumPy's legacy one, ember's, torch's."""
    import sys

    import ember

    random.seed(0)
    np.random.seed(0)
    ember.manual_seed(0)
    if "torch" in sys.modules:  # only when a test already imported it: torch is slow to import
        sys.modules["torch"].manual_seed(0)
    yield
