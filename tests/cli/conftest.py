"""Helpers for the CLI tests: run the real ``ember`` command in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def ember_argv() -> list[str]:
    """The installed ``ember`` script next to this interpreter, else ``python -m ember_cli``."""
    script = Path(sys.executable).with_name("ember")
    if script.exists():
        return [str(script)]
    found = shutil.which("ember")
    return [found] if found else [sys.executable, "-m", "ember_cli"]


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_")}
    env.pop("NO_COLOR", None)
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_ember(*args, cwd=None, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(ember_argv() + [str(a) for a in args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def ember():
    return run_ember


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run folder of a tiny GPT-2 trained for 10 steps on the first 40k characters of the corpus."""
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    r = run_ember("train", "gpt2", "--preset", "tiny", "--set", "train.steps=10", "--set", "train.samples=0",
                  "--set", "data.max_chars=40000", "--set", "train.eval_batches=2", "--out", run_dir)
    assert r.returncode == 0, r.stderr
    return run_dir
