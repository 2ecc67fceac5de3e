#!/usr/bin/env bash
# The main job: set up .venv if needed, then train an MLP and a small CNN on scikit-learn's
# digits with Ember and print test accuracy and a few predictions.
#
#   bash scripts/train.sh [--epochs N] [--seed S] [--model mlp|cnn|both]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" train
VENV="${EMBER_VENV:-$ROOT/.venv}"
exec "$VENV/bin/python" "$ROOT/examples/train_digits.py" "$@"
