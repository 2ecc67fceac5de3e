"""Run folders: what ``ember train`` writes and ``generate``/``eval`` read back.

A run folder holds ``config.toml`` (the resolved config), ``tokenizer/``,
``checkpoint.safetensors`` (model, optimizer, step, RNG states; written atomically),
``metrics.jsonl`` (one JSON object a line) and ``plot.png``.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import config as cfgmod
from .output import UsageError

CHECKPOINT = "checkpoint.safetensors"
CONFIG = "config.toml"
METRICS = "metrics.jsonl"
PLOT = "plot.png"


def locate(path) -> tuple[Path, Path]:
    """(run folder, checkpoint file) for a run folder or a checkpoint inside one."""
    path = Path(path)
    if path.is_dir():
        run_dir, ckpt = path, path / CHECKPOINT
    elif path.is_file():
        run_dir, ckpt = path.parent, path
    else:
        raise UsageError(f"no such run folder or checkpoint: {path}")
    if not (run_dir / CONFIG).is_file():
        raise UsageError(f"{run_dir} is not an ember run folder: it has no {CONFIG}")
    if not ckpt.is_file():
        raise UsageError(f"{run_dir} has no checkpoint yet ({ckpt.name}): the run saved none")
    return run_dir, ckpt


def latest(model_name: str, root: Path = Path("runs")) -> Path | None:
    """The most recently changed run folder of ``model_name`` under ``root``."""
    found = [p for p in root.glob(f"{model_name}-*") if (p / CONFIG).is_file()] if root.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def read_metrics(run_dir: Path) -> list[dict]:
    path = run_dir / METRICS
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except ValueError:
                break  # a line cut short by a crash: everything after it is dropped
    return rows


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Keep only the metrics of steps <= ``step`` (a resumed run re-does the ones after)."""
    rows = [r for r in read_metrics(run_dir) if r.get("step", 0) <= step]
    from ember.serialization import _atomic_write

    _atomic_write(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8"))


def load_model(run_dir: Path, ckpt: Path, device=None, cfg=None):
    """(config, tokenizer, model) of a run, with the checkpoint's weights (tokenizer: LMs only, else None)."""
    from ember.serialization import load
    from ember_models import get_spec

    from .lm import load_tokenizer

    cfg = cfg or cfgmod.load(run_dir / CONFIG)
    tok = load_tokenizer(run_dir) if cfg.task == "lm" else None
    model = get_spec(cfg.model_name).builder(cfg.model)
    state = load(ckpt)
    if not isinstance(state, dict) or "model" not in state:
        raise UsageError(f"{ckpt} is not an ember checkpoint (no model state)")
    model.load_state_dict(state["model"])
    if device is not None:
        model.to(device)
    model.eval()
    return cfg, tok, model
