"""`ember bench`: a table or JSON of step time, throughput and peak memory, optionally vs PyTorch."""

from __future__ import annotations

import importlib.util
import json

import pytest


def test_bench_json(ember):
    compare = importlib.util.find_spec("torch") is not None
    args = ["bench", "gpt2", "--preset", "tiny", "--steps", "1", "--warmup", "0", "--batch-size", "2",
            "--seq-len", "16", "--json"] + (["--compare", "torch"] if compare else [])
    r = ember(*args, timeout=300)
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    assert [x["framework"] for x in results] == (["ember", "torch"] if compare else ["ember"])
    for x in results:
        assert x["step_ms"] > 0 and x["tokens_per_s"] > 0 and x["peak_mem_mb"] >= 0
        assert x["batch_size"] == 2 and x["seq_len"] == 16
    if compare:
        assert results[0]["params"] == results[1]["params"]  # the same model in both


@pytest.mark.parametrize("args, message", [
    (["bench", "nosuchmodel"], "can't time 'nosuchmodel'"),
    (["bench", "vit", "--seq-len", "8"], "--seq-len is for language models and bert"),
    (["bench", "gpt2", "--steps", "0"], "--steps must be >= 1"),
    (["bench", "gpt2", "--set", "model.n_head=5"], "divisible"),
])
def test_bench_usage_errors(ember, args, message):
    r = ember(*args)
    assert r.returncode == 2 and message in r.stderr and r.stdout == ""
