"""ember's malloc tuning: a step's mix of large arrays reuses memory instead of faulting in fresh pages."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# Allocates and fills arrays of 1-20 MiB in a step-like mix, and prints the minor page faults
# per round once warm.
_ROUNDS = textwrap.dedent("""
    import resource
    import numpy as np
    import ember

    sizes = [3 << 20, 12 << 20, 5 << 20, 20 << 20, 1 << 20, 8 << 20]

    def one_round():
        live = []
        for size in sizes:
            a = np.empty(size // 4, np.float32)
            a.fill(1.0)
            live.append(a)
            if len(live) > 2:
                live.pop(0)

    one_round()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        one_round()
    print(ember.host_memory.tuned, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
""")


def _faults_per_round(tuning: str):
    env = {**os.environ, "EMBER_MALLOC_TUNING": tuning}
    out = subprocess.run([sys.executable, "-c", _ROUNDS], env=env, capture_output=True, text=True, check=True)
    tuned, faults = out.stdout.split()
    return tuned == "True", float(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tunes glibc's malloc: Linux only")
def test_tuned_malloc_reuses_freed_arrays():
    import ember

    if not ember.host_memory.tuned:
        pytest.skip("this process's C library is not glibc")
    tuned, faults = _faults_per_round("1")
    untuned, untuned_faults = _faults_per_round("0")
    assert tuned and not untuned
    if untuned_faults < 200:  # 49 MiB of fresh arrays a round is ~12,500 small pages, or ~25 huge ones
        pytest.skip(f"fresh arrays fault only {untuned_faults} times a round here (huge pages?): nothing to compare")
    assert faults < 50, f"{faults} page faults a round with tuning"
    assert untuned_faults > 20 * max(faults, 1), f"without tuning: {untuned_faults} faults a round"
