"""`ember generate` and `ember eval` on a run folder written by `ember train`."""

from __future__ import annotations

import json


def test_generate_continues_the_prompt_reproducibly(ember, tiny_run):
    args = ("generate", tiny_run, "--prompt", "Ham.", "--max-new-tokens", "30", "--seed", "3")
    a, b = ember(*args), ember(*args)
    assert a.returncode == 0, a.stderr
    assert a.stdout.startswith("Ham.") and len(a.stdout) > len("Ham.") + 10
    assert a.stdout == b.stdout
    greedy = ember("generate", tiny_run / "checkpoint.safetensors", "--prompt", "Ham.", "--max-new-tokens", "10",
                   "--temperature", "0", "--num-samples", "2")
    assert greedy.returncode == 0, greedy.stderr
    samples = greedy.stdout.split("--- sample 2 ---\n")
    assert samples[0].replace("--- sample 1 ---\n", "") == samples[1]  # greedy: the same twice


def test_generate_bad_arguments(ember, tiny_run, tmp_path):
    assert ember("generate", tiny_run, "--top-p", "1.5").returncode == 2
    assert ember("generate", tiny_run, "--temperature", "-1").returncode == 2
    r = ember("generate", tmp_path / "missing")
    assert r.returncode == 2 and "no such run folder" in r.stderr and r.stdout == ""
    r = ember("generate", tmp_path)
    assert r.returncode == 2 and "not an ember run folder" in r.stderr


def test_eval_matches_the_runs_last_validation(ember, tiny_run):
    r = ember("eval", tiny_run, "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    last = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()][-1]
    assert result["loss"] == last["val_loss"] and result["accuracy"] == last["val_acc"]
    text = ember("eval", tiny_run)
    assert text.returncode == 0 and "perplexity" in text.stdout and "evaluating" in text.stderr


def test_generate_and_eval_help(ember):
    for command in ("generate", "eval"):
        r = ember(command, "--help")
        assert r.returncode == 0 and "examples:" in r.stdout
