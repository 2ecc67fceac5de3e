"""`ember train --device mps` runs the same training as on the CPU (the real command, in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("ember_cli", reason="ember-cli is not installed")


def _train(tmp_path, device):
    out = tmp_path / device
    r = subprocess.run([sys.executable, "-m", "ember_cli", "train", "gpt2", "--preset", "tiny", "--device", device,
                        "--set", "train.steps=4", "--set", "train.samples=0", "--set", "data.max_chars=20000",
                        "--set", "train.eval_batches=2", "--out", str(out)],
                       capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [row["loss"] for row in rows if "loss" in row], [row["val_loss"] for row in rows if "val_loss" in row]


def test_train_on_mps_follows_the_cpu_run(tmp_path):
    cpu_losses, cpu_val = _train(tmp_path, "cpu")
    mps_losses, mps_val = _train(tmp_path, "mps")
    assert len(mps_losses) == len(cpu_losses) >= 1 and mps_val
    assert mps_losses == pytest.approx(cpu_losses, rel=1e-4)
    assert mps_val[-1] == pytest.approx(cpu_val[-1], rel=1e-4)
