#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install Ember into it.
#
#   bash scripts/setup.sh          # what the main job needs: ember-core, ember-models, ember-cli
#                                  # (with matplotlib for its plots) and scikit-learn
#   bash scripts/setup.sh test     # plus ember-models' viz extra, pytest, pytest-benchmark,
#                                  # hypothesis, torch (CPU), ruff, nox, and ember-backend-mps
#                                  # with MLX's CPU device (mlx[cpu]), which the tests cover
#
# Both profiles also build ember-backend-native (packages/backend-native: compiled C kernels
# that serve "cpu" in place of plain NumPy) when a C compiler and Python's headers are there;
# without them it is left out with a note, and "cpu" runs on NumPy alone. A build that fails
# with both present is an error.
#
# The CUDA backend (packages/backend-cuda) is never installed here: it needs CuPy and an
# NVIDIA GPU; nox's tests(backend='cuda') session and scripts/gpu-check.sh install it.
#
# Needs only python3 (>= 3.10) and network access to PyPI. The venv lives in .venv at the
# repository root (override with EMBER_VENV=/path); the interpreter that creates it is
# $PYTHON (default python3). A stamp file keyed on the requirement files makes a second run
# take a second instead of reinstalling.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EMBER_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
PROFILE="${1:-train}"

# Editable installs of the monorepo's packages; a package is skipped until it has code (src/).
case "$PROFILE" in
    train) REQS=("$ROOT/requirements.txt"); PACKAGES=(core models cli:plot) ;;
    test) REQS=("$ROOT/requirements.txt" "$ROOT/requirements-test.txt"); PACKAGES=(core models:viz cli:plot backend-mps:cpu) ;;
    *) echo "usage: bash scripts/setup.sh [train|test]" >&2; exit 2 ;;
esac
EDITABLE=()
PYPROJECTS=()
for entry in "${PACKAGES[@]}"; do  # FOLDER or FOLDER:EXTRA
    dir="$ROOT/packages/${entry%%:*}"
    extra=""
    [ "$entry" = "${entry%%:*}" ] || extra="[${entry#*:}]"
    if [ -d "$dir/src" ]; then
        EDITABLE+=(-e "$dir$extra")
        PYPROJECTS+=("$dir/pyproject.toml")
    fi
done

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "error: Ember needs Python >= 3.10; '$PYTHON' is $("$PYTHON" --version 2>&1 || echo missing)." >&2
    echo "       Point PYTHON=/path/to/python3.x at a newer interpreter." >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating virtual environment $VENV"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian/Ubuntu ship venv without ensurepip unless python3-venv is installed;
        # virtualenv from PyPI does the same job.
        rm -rf "$VENV"
        echo "    (python -m venv is unavailable here; using virtualenv from PyPI)"
        "$PYTHON" -m pip install --user --quiet virtualenv
        "$PYTHON" -m virtualenv --quiet "$VENV"
    fi
fi
PIP=("$VENV/bin/python" -m pip)

# ember-backend-native: built in place (an editable install compiles its C file once, so the
# stamp below covers the C file too and a change to it rebuilds).
NATIVE="$ROOT/packages/backend-native"
NATIVE_FILES=()
[ -d "$NATIVE/src" ] && NATIVE_FILES=("$NATIVE/pyproject.toml" "$NATIVE/setup.py" "$NATIVE/src/ember_native/_kernels.c")
can_build_native() {  # a C compiler on PATH and the venv's Python headers
    { command -v "${CC:-cc}" >/dev/null || command -v gcc >/dev/null || command -v clang >/dev/null; } &&
        "$VENV/bin/python" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
}

STAMP="$VENV/.ember-setup-$PROFILE"
WANT="$( (cat "${REQS[@]}" "${PYPROJECTS[@]}" "${NATIVE_FILES[@]}"; echo "${EDITABLE[*]}") | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && "$VENV/bin/python" -c 'import ember' 2>/dev/null; then
    echo "==> $VENV is up to date ($PROFILE)"
    exit 0
fi

echo "==> installing $PROFILE dependencies into $VENV"
# --no-build-isolation (below) builds ember-core with the venv's own setuptools.
"${PIP[@]}" install --quiet --upgrade setuptools wheel
for req in "${REQS[@]}"; do
    "${PIP[@]}" install --quiet -r "$req"
done
"${PIP[@]}" install --quiet --no-build-isolation "${EDITABLE[@]}"
if [ ${#NATIVE_FILES[@]} -gt 0 ]; then
    if can_build_native; then
        echo "==> building ember-backend-native (compiled C kernels for the CPU)"
        "${PIP[@]}" install --quiet --no-build-isolation -e "$NATIVE" \
            || { echo "error: building ember-backend-native failed (see above)" >&2; exit 1; }
    else
        echo "note: no C compiler or no Python headers here, so ember-backend-native is not built;"
        echo "      \"cpu\" runs on ember's NumPy backend alone (apt-get install gcc python3-dev to add it)"
    fi
fi
"$VENV/bin/python" -c 'import ember; print("==> ember", ember.__version__, "from", ember.__file__)'
echo "==> editable installs: ${EDITABLE[*]}"
"$VENV/bin/python" -c 'import ember; print("==> device cpu is served by the", ember.device("cpu").backend.name, "backend")'
echo "$WANT" > "$STAMP"
