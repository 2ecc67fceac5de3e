#!/usr/bin/env bash
# The test suite, exactly as CI runs it (.ci/run calls this script).
#
#   bash scripts/test.sh               # everything: tests/ (unit, integration, isolation, mps,
#                                      # native), then the conformance suite on the numpy, native
#                                      # (when built) and mps backends
#   bash scripts/test.sh -k conv -x    # with arguments: only `pytest ARGS` (nothing else runs)
#
# Sets up .venv first (scripts/setup.sh test), and installs Debian's dataset-fashion-mnist
# package when the files are missing and apt-get is usable (as root); without it the
# Fashion-MNIST tests skip with the reason. Exit status: 0 when every pytest run passed or
# collected nothing (pytest's exit code 5), otherwise the first failing run's code.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh test || { echo "error: setting up the virtual environment failed" >&2; exit 1; }
VENV="${EMBER_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

# --- Fashion-MNIST (tests/integration/test_fashion_mnist.py) ---------------------------------
FMNIST_DIR="${EMBER_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
if [ ! -f "$FMNIST_DIR/train-images-idx3-ubyte.gz" ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "==> installing Debian's dataset-fashion-mnist into /usr/share/datasets/fashion-mnist"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null; } \
            || echo "warning: could not install dataset-fashion-mnist; the Fashion-MNIST tests will skip"
    else
        echo "note: $FMNIST_DIR is missing and apt-get is not usable here (needs root);" \
             "the Fashion-MNIST tests will skip (sudo apt-get install dataset-fashion-mnist)"
    fi
fi

# --- pytest runs ----------------------------------------------------------------------------
REPORTS="$(mktemp -d)"
trap 'rm -rf "$REPORTS"' EXIT
STATUS=0
RUN=0

run_pytest() {  # run_pytest TITLE ARGS...: one pytest run; exit code 5 (no tests collected) is not a failure
    local title="$1"; shift
    RUN=$((RUN + 1))
    echo
    echo "==> $title: pytest $*"
    "$PY" -m pytest --junitxml="$REPORTS/run$RUN.xml" "$@"
    local rc=$?
    if [ "$rc" -eq 5 ]; then
        echo "==> $title: no tests were collected (pytest exit code 5); not counted as a failure"
    elif [ "$rc" -ne 0 ]; then
        echo "==> $title: FAILED (pytest exit code $rc)"
        [ "$STATUS" -ne 0 ] || STATUS=$rc
    fi
}

START=$SECONDS
if [ $# -gt 0 ]; then
    run_pytest "pytest" "$@"
else
    run_pytest "tests/ (unit, integration, isolation)" --durations=15
    run_pytest "conformance suite, numpy backend" --pyargs ember.testing --ember-backend numpy -q
    if "$PY" -c 'import ember_native' 2>/dev/null; then
        run_pytest "conformance suite, native backend (C kernels)" --pyargs ember.testing --ember-backend native -q
    fi
    run_pytest "conformance suite, mps backend (MLX)" --pyargs ember.testing --ember-backend mps -q
    echo
    echo "==> lint: ruff check ."
    if ! "$VENV/bin/ruff" check .; then
        echo "==> lint: FAILED"
        [ "$STATUS" -ne 0 ] || STATUS=1
    fi
fi

# One closing line over all runs, from their JUnit reports.
"$PY" - "$REPORTS" "$((SECONDS - START))" <<'PYEOF'
import glob, sys, xml.etree.ElementTree as ET
n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for path in glob.glob(sys.argv[1] + "/*.xml"):
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for key in n:
            n[key] += int(suite.get(key, 0))
passed = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
print(f"\ntotal: {passed} passed, {n['failures'] + n['errors']} failed, {n['skipped']} skipped in {sys.argv[2]}s")
PYEOF
exit $STATUS
