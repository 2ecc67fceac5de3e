"""Kill a training run with SIGKILL, resume it from its checkpoint, and get the same run.

The run (tests/core/ckpt_train_script.py) is an MLP with dropout on digits, Adam, a cosine
schedule and a shuffled, prefetching DataLoader: every source of state a resume must
restore. Its per-step losses and learning rates are logged bit-exactly (``float.hex``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import serialization
from ember.serialization import load_checkpoint, save_checkpoint

pytest.importorskip("sklearn")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")]

SCRIPT = Path(__file__).with_name("ckpt_train_script.py")
ROOT = Path(__file__).resolve().parents[2]
STEPS, EVERY = 40, 6


def _cmd(out, *extra):
    return [sys.executable, str(SCRIPT), str(out), "--steps", str(STEPS), "--every", str(EVERY), *extra]


def _run(out, *extra, timeout=300):
    done = subprocess.run(_cmd(out, *extra), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]


def _log(out) -> list[tuple[int, str]]:
    lines = (Path(out) / "log.txt").read_text().split("\n")
    complete = lines[:-1]  # whatever follows the last newline was cut off by the kill
    return [(int(line.split()[0]), line) for line in complete]


def _wait_for(predicate, proc, timeout=120.0, what=""):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the run ended (exit {proc.returncode}) before {what}:\n{err[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_a_killed_run_resumes_to_the_same_loss_curve(tmp_path):
    reference = tmp_path / "reference"
    reference.mkdir()
    _run(reference)
    expected = dict(_log(reference))
    assert sorted(expected) == list(range(1, STEPS + 1))

    work = tmp_path / "killed"
    work.mkdir()
    ckpt = work / "ckpt.safetensors"
    proc = subprocess.Popen(_cmd(work, "--delay", "0.05"), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        # Past the first checkpoint by a few steps, so the resumed run has steps to redo.
        _wait_for(lambda: ckpt.exists() and (work / "log.txt").exists() and len(_log(work)) >= EVERY + 3,
                  proc, what="the first checkpoint")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    before = _log(work)
    assert EVERY + 3 <= len(before) < STEPS, "the run was not killed mid-way"

    _run(work, "--resume")
    after = _log(work)
    resumed = after[len(before):]
    first = resumed[0][0]
    assert first > 1 and (first - 1) % EVERY == 0, "the resumed run did not start from a checkpoint"
    # Every line, before the kill and after the resume (re-done steps too), is the reference's.
    for step, line in after:
        assert line == expected[step], f"step {step}: {line!r} != {expected[step]!r}"
    assert [s for s, _ in resumed] == list(range(first, STEPS + 1))


def test_killing_a_checkpoint_write_leaves_a_loadable_checkpoint(tmp_path):
    from ember import nn

    rng = random.Random(0)
    ckpt = tmp_path / "ckpt.safetensors"
    for round_ in range(6):
        saved = tmp_path / "saved.txt"
        if saved.exists():
            saved.unlink()
        proc = subprocess.Popen([sys.executable, str(SCRIPT), str(tmp_path), "--save-loop"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(lambda: saved.exists() and saved.read_text().count("\n") >= 2, proc,
                      what="the first checkpoints")
            time.sleep(rng.uniform(0.0, 0.2))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stderr.close()
        last_done = int(saved.read_text().split()[-1])
        model = nn.Linear(512, 512)
        info = load_checkpoint(ckpt, model=model)
        step = info["step"]
        assert info["extra"] == {"step_again": step}
        assert step >= last_done  # a save that returned is never lost
        for p in model.parameters():
            assert np.all(np.asarray(p._data) == step), "a checkpoint mixes two saves"
        # (a killed write may leave its temporary file behind; it never replaces the checkpoint)


def test_a_crash_between_write_and_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    from ember import nn

    model = nn.Linear(4, 3)
    ckpt = tmp_path / "ckpt.safetensors"
    save_checkpoint(ckpt, model=model, step=1)
    old = np.asarray(model.weight._data).copy()
    with ember.no_grad():
        model.weight.fill_(7.0)

    def die(src, dst):
        assert os.path.getsize(src) > 0 and Path(dst) == ckpt  # the temp file is complete, next to it
        raise SystemExit("power cut")

    monkeypatch.setattr(serialization, "_replace", die)
    with pytest.raises(SystemExit):
        save_checkpoint(ckpt, model=model, step=2)
    monkeypatch.undo()
    fresh = nn.Linear(4, 3)
    assert load_checkpoint(ckpt, model=fresh)["step"] == 1
    np.testing.assert_array_equal(np.asarray(fresh.weight._data), old)
