"""`ember train`: a tiny GPT-2 for a few steps; SIGINT mid-run, resume, same metrics as uninterrupted."""

from __future__ import annotations

import json
import signal
import subprocess

from .conftest import clean_env, ember_argv, run_ember

TINY = ["gpt2", "--preset", "tiny", "--set", "train.steps=40", "--set", "train.eval_every=10",
        "--set", "train.checkpoint_every=10", "--set", "train.log_every=2", "--set", "data.max_chars=60000",
        "--set", "train.samples=1", "--set", "train.sample_tokens=20", "--set", "train.eval_batches=2",
        "--set", "train.batch_size=8", "--set", "train.seq_len=32"]


def _metrics(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [(r["step"], r["loss"], r["lr"]) for r in rows if "loss" in r]
    val = [(r["step"], r["val_loss"], r["val_acc"]) for r in rows if "val_loss" in r]
    return train, val


def test_sigint_then_resume_matches_an_uninterrupted_run(tmp_path):
    full = tmp_path / "full"
    r = run_ember("train", *TINY, "--out", full)
    assert r.returncode == 0, r.stderr
    # data on stdout: a sample and the run folder; progress on stderr as plain lines (not a TTY)
    assert "--- sample 1 ---" in r.stdout and f"run folder: {full}" in r.stdout
    assert "\r" not in r.stderr and "\033[" not in r.stderr and "step 40/40" in r.stderr
    for name in ("config.toml", "checkpoint.safetensors", "metrics.jsonl", "plot.png", "tokenizer/tokenizer.json"):
        assert (full / name).is_file(), name
    train_full, val_full = _metrics(full)
    assert [s for s, _, _ in train_full] == list(range(1, 41)) and len(val_full) == 4
    assert train_full[-1][1] < train_full[0][1]  # it learns

    part = tmp_path / "part"
    proc = subprocess.Popen(ember_argv() + ["train", *TINY, "--out", str(part)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=clean_env())
    seen = []
    for line in proc.stderr:  # wait until training is under way, then Ctrl-C
        seen.append(line)
        if line.startswith("step 14/40"):
            proc.send_signal(signal.SIGINT)
            break
    stdout, rest = proc.communicate(timeout=60)
    stderr = "".join(seen) + rest
    assert proc.returncode == 130, stderr
    assert "checkpoint saved at step" in stderr and "--resume" in stderr
    train_part, _ = _metrics(part)
    stopped = train_part[-1][0]
    assert 14 <= stopped < 40

    r = run_ember("train", "gpt2", "--out", part, "--resume")
    assert r.returncode == 0, r.stderr
    assert f"resuming {part} at step {stopped}/40" in r.stderr
    train_resumed, val_resumed = _metrics(part)
    assert train_resumed == train_full
    assert val_resumed == val_full


def test_out_folder_with_a_run_needs_resume(tmp_path):
    (tmp_path / "config.toml").write_text('model_name = "gpt2"\n')
    r = run_ember("train", "gpt2", "--preset", "tiny", "--out", tmp_path)
    assert r.returncode == 2 and "already holds a run" in r.stderr and r.stdout == ""


def test_resume_without_a_checkpoint_is_a_usage_error(tmp_path):
    r = run_ember("train", "gpt2", "--out", tmp_path / "nothing", "--resume")
    assert r.returncode == 2 and "not a run folder" in r.stderr


def test_unknown_model_and_unavailable_device(tmp_path):
    r = run_ember("train", "nosuchmodel", "--out", tmp_path / "b")
    assert r.returncode == 2 and "no model named 'nosuchmodel'" in r.stderr
    assert not (tmp_path / "b").exists()
    r = run_ember("train", "gpt2", "--preset", "tiny", "--device", "cuda", "--out", tmp_path / "c")
    assert r.returncode == 2 and "train.device" in r.stderr
    assert "ember-backend-cuda" in r.stderr or "not available" in r.stderr
    assert not (tmp_path / "c").exists()


def test_train_help_has_examples():
    r = run_ember("train", "--help")
    assert r.returncode == 0 and "examples:" in r.stdout and "--resume" in r.stdout


def _train_on_a_pty(tmp_path, **env):
    """Run a 3-step training with stderr on a pseudo-terminal; return what it wrote there."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(ember_argv() + ["train", "gpt2", "--preset", "tiny", "--set", "train.steps=3",
                                            "--set", "train.samples=0", "--set", "data.max_chars=20000",
                                            "--set", "train.eval_batches=1", "--out", str(tmp_path / "run")],
                            stdout=subprocess.DEVNULL, stderr=slave, env=clean_env(**env))
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    return b"".join(chunks).decode()


def test_live_bar_on_a_terminal_and_plain_lines_with_no_color(tmp_path):
    assert "\r" in _train_on_a_pty(tmp_path / "a").replace("\r\n", "\n")
    plain = _train_on_a_pty(tmp_path / "b", NO_COLOR="1").replace("\r\n", "\n")
    assert "\r" not in plain and "\033[" not in plain and "step 3/3" in plain
