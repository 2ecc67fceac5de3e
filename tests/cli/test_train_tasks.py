"""`ember train` / `ember eval` / `ember bench` beyond language models: image classifiers (resnet,
vit), BERT fine-tuning on the fortunes topics, and CLIP on captioned images. Tiny presets on
scikit-learn's digits, a few steps each, the real command in a subprocess; values checked."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess

import numpy as np
import pytest

from .conftest import clean_env, ember_argv, run_ember

RESNET = ["resnet", "--preset", "tiny", "--device", "cpu", "--set", "data.dataset=digits",
          "--set", "train.steps=30", "--set", "train.batch_size=32", "--set", "train.eval_every=10",
          "--set", "train.checkpoint_every=10", "--set", "train.log_every=2"]


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_image_model_learns_and_resume_equals_an_uninterrupted_run(tmp_path):
    full = tmp_path / "full"
    r = run_ember("train", *RESNET, "--out", full, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "img/s" in r.stderr and "step 30/30" in r.stderr and f"run folder: {full}" in r.stdout
    for name in ("config.toml", "checkpoint.safetensors", "metrics.jsonl", "plot.png"):
        assert (full / name).is_file(), name
    rows = _rows(full)
    train = [r for r in rows if "loss" in r]
    val = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in train] == list(range(1, 31)) and [r["step"] for r in val] == [10, 20, 30]
    assert all(r["images_per_s"] > 0 for r in train)
    assert val[-1]["val_examples"] == 359 and val[-1]["val_acc"] > 0.5  # chance: 0.1

    # `ember eval` recomputes the last validation exactly, on the whole digits test split
    r = run_ember("eval", full, "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["task"] == "image" and result["examples"] == 359
    assert result["accuracy"] == val[-1]["val_acc"] and result["loss"] == pytest.approx(val[-1]["val_loss"], 1e-6)

    part = tmp_path / "part"
    proc = subprocess.Popen(ember_argv() + ["train", *RESNET, "--out", str(part)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=clean_env())
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("step 12/30"):
            proc.send_signal(signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + rest
    stopped = [r for r in _rows(part) if "loss" in r][-1]["step"]
    assert 12 <= stopped < 30
    r = run_ember("train", "resnet", "--out", part, "--resume", timeout=300)
    assert r.returncode == 0, r.stderr
    strip = [{k: v for k, v in row.items() if k != "images_per_s"} for row in _rows(part)]
    assert strip == [{k: v for k, v in row.items() if k != "images_per_s"} for row in rows]


def test_bert_fine_tunes_on_the_fortunes_topics(tmp_path):
    run = tmp_path / "bert"
    r = run_ember("train", "bert", "--preset", "tiny", "--device", "cpu", "--set", "data.max_length=32",
                  "--set", "data.vocab_size=500", "--set", "train.steps=60", "--set", "train.eval_every=30",
                  "--set", "optim.lr=3e-3", "--set", "optim.warmup_steps=5", "--out", run, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "seq/s" in r.stderr and "5 topics" in r.stderr
    assert (run / "tokenizer" / "vocab.txt").is_file()
    val = [row for row in _rows(run) if "val_acc" in row]
    assert val[-1]["val_examples"] == 139 and val[-1]["val_acc"] > 0.3  # chance: 0.2
    r = run_ember("eval", run, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["accuracy"] == val[-1]["val_acc"]


def test_clip_zero_shot_and_recall(tmp_path):
    run = tmp_path / "clip"
    r = run_ember("train", "clip", "--preset", "tiny", "--device", "cpu", "--set", "data.dataset=digits",
                  "--set", "train.steps=60", "--set", "train.eval_every=30", "--set", "train.batch_size=64",
                  "--set", "optim.lr=3e-3", "--set", "optim.warmup_steps=5", "--out", run, timeout=300)
    assert r.returncode == 0, r.stderr
    last = [row for row in _rows(run) if "zero_shot_acc" in row][-1]
    assert last["zero_shot_acc"] > 0.3  # chance: 0.1
    r = run_ember("eval", run, "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["zero_shot_accuracy"] == last["zero_shot_acc"] and result["retrieval_pairs"] == 359
    recall = result["recall"]
    for direction in ("image_to_text", "text_to_image"):
        for match in ("caption", "pair"):
            values = [recall[f"{direction}@{k}_{match}"] for k in (1, 5, 10)]
            assert all(0 <= v <= 1 for v in values) and values == sorted(values)
            # a shared-caption match is easier than the very pair
            assert all(c >= p for c, p in zip(values, [recall[f"{direction}@{k}_pair"] for k in (1, 5, 10)]))
    # image->text with class captions: the nearest caption is its class's caption = zero-shot
    assert recall["image_to_text@1_caption"] == pytest.approx(result["zero_shot_accuracy"])
    table = run_ember("eval", run)
    assert "zero-shot accuracy" in table.stdout and "R@1/5/10" in table.stdout


def test_clip_held_out_metrics_on_a_hand_made_case():
    from ember_cli.pairs import evaluate_embeddings

    # 4 images of classes 0, 1, 0, 1; class captions e0, e1. Image 2 looks like class 1.
    text = np.array([[1.0, 0.0], [0.0, 1.0]])
    image = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.0, 1.0]])
    labels = np.array([0, 1, 0, 1])
    m = evaluate_embeddings(image, text, labels, scale=1.0, batch_size=4, retrieval_size=4)
    assert m["zero_shot_acc"] == 0.75 and m["val_examples"] == 4
    assert m["image_to_text@1_caption"] == 0.75 and m["image_to_text@5_caption"] == 1.0
    # caption queries: e0 (pairs 0, 2) finds image 0 first; e1 (pairs 1, 3) finds images 1/3 first
    assert m["text_to_image@1_caption"] == 1.0
    # the very pair: pair 2's caption e0 scores image 0 (1.0) above its own image 2 (0.6): rank 1;
    # pairs 1 and 3 share e1 and tie (1.0 each), which counts for both
    assert m["text_to_image@1_pair"] == 0.75 and m["text_to_image@5_pair"] == 1.0
    # contrastive loss of logits = scale * image . caption(label)
    logits = image @ text[labels].T
    lse = np.log(np.exp(logits).sum(1)), np.log(np.exp(logits).sum(0))
    expected = ((lse[0] - np.diag(logits)).mean() + (lse[1] - np.diag(logits)).mean()) / 2
    assert m["val_loss"] == pytest.approx(expected)


@pytest.mark.parametrize("args, message", [
    (["train", "vit", "--set", "data.dataset=cifar"], "data.dataset: must be one of fashion-mnist, digits"),
    (["train", "vit", "--set", "model.num_channels=2"], "model.num_channels"),
    (["train", "vit", "--set", "data.corpus=shakespeare"], "unknown key data.corpus"),
    (["train", "resnet", "--set", "train.seq_len=64"], "unknown key train.seq_len"),
    (["train", "bert", "--set", "model.head=mlm"], "model.head"),
    (["train", "bert", "--set", "data.max_length=600"], "max_position_embeddings"),
    (["train", "clip", "--set", "data.template=no class here"], "data.template"),
    (["eval", "nonexistent-run"], "no such run folder"),
])
def test_task_config_errors(ember, args, message):
    r = ember(*args)
    assert r.returncode == 2 and message in r.stderr and r.stdout == "", r.stderr


def test_config_show_has_each_tasks_data_table(ember):
    r = ember("config", "show", "clip")
    assert r.returncode == 0
    assert 'dataset = "fashion-mnist"' in r.stdout and "retrieval_size = 1000" in r.stdout
    assert "seq_len" not in r.stdout
    r = ember("config", "show", "bert")
    assert 'head = "classification"' in r.stdout and 'dataset = "fortunes"' in r.stdout


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_bench_compares_every_task_with_its_torch_twin(ember):
    r = ember("bench", "vit", "bert", "--preset", "tiny", "--steps", "1", "--warmup", "0", "--batch-size",
              "4", "--compare", "torch", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    assert [(x["model"], x["framework"]) for x in results] == [
        (m, f) for m in ("vit", "bert") for f in ("ember", "torch")]
    for ours, theirs in zip(results[::2], results[1::2]):
        assert ours["params"] == theirs["params"] and ours["input"] == theirs["input"]
        assert ours["step_ms"] > 0 and theirs["items_per_s"] > 0
    assert results[0]["unit"] == "images" and results[0]["input"] == "4x1x8x8"
    assert results[2]["unit"] == "sequences" and results[2]["seq_len"] == 64
