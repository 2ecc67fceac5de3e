#!/usr/bin/env bash
# The main job: set up .venv if needed, then `ember train`: a small GPT-2 trained on the
# Shakespeare corpus that ember-models ships (about five minutes on two CPU cores), which
# prints samples and the run folder (metrics.jsonl, plot.png, checkpoints) at the end.
#
#   bash scripts/train.sh                          # the default run
#   bash scripts/train.sh llama --set train.steps=300 --out runs/llama   # any `ember train` arguments
#
# The digits example (an MLP and a CNN): .venv/bin/python examples/train_digits.py
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" train
VENV="${EMBER_VENV:-$ROOT/.venv}"
exec "$VENV/bin/ember" train "$@"
