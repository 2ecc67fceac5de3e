"""ember-core alone imports and trains a model on the CPU, and nothing imports cupy or mlx.

DESIGN.md promises both. `nox -s isolation` runs this file as a script in a venv that holds
only ember-core and its own dependencies (no pytest); the pytest test below runs the same
script in a fresh interpreter of the test venv, where plugin entry points are loaded as usual.

    python tests/test_isolation.py      # prints what it checked; exit status 1 on failure
"""

from __future__ import annotations

import subprocess
import sys

# Top-level modules that importing or training with ember-core must never pull in: the GPU
# backends' libraries (their plugins import them inside the backend factory only) and the
# other frameworks (PyTorch is only a test-time reference).
FORBIDDEN = ("cupy", "cupyx", "mlx", "torch", "jax", "tensorflow")


def check() -> list[str]:
    """Import ember, train a tiny MLP for a few steps; return what went wrong (empty: all good)."""
    problems = []
    import ember
    from ember import nn, optim
    from ember.nn import functional as F

    import ember.data  # noqa: F401 - the lazily loaded subpackages must not pull anything in either

    device = ember.default_device()
    if device.type != "cpu":
        problems.append(f"the default device with only ember-core installed is {device}, expected cpu")

    ember.manual_seed(0)
    x = ember.randn(64, 8)
    y = (x.sum(1) > 0).long()
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(20):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"trained a 8-16-2 MLP for 20 SGD steps: loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    if not losses[-1] < 0.7 * losses[0]:
        problems.append(f"the loss did not fall: {losses[0]:.4f} -> {losses[-1]:.4f}")

    loaded = sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN)
    if loaded:
        problems.append(f"ember-core imported {', '.join(loaded)} (must import none of {', '.join(FORBIDDEN)})")
    else:
        print(f"none of {', '.join(FORBIDDEN)} is in sys.modules")
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    print("isolation check:", "FAILED" if problems else "ok")
    return 1 if problems else 0


def test_core_alone_imports_trains_and_loads_no_gpu_library():
    # A fresh interpreter: this pytest process has already imported torch and others.
    result = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"isolation check failed:\n{result.stdout}\n{result.stderr}"


if __name__ == "__main__":
    sys.exit(main())
