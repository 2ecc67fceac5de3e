#!/usr/bin/env bash
# The whole GPU check, in one run on the lent GPU machine (../shared/GPU.md): about 8 minutes at most.
#
#   bash scripts/gpu-check.sh            # install, probe, tests/backend_cuda, conformance on cuda, GPT-2 benchmark
#   bash scripts/gpu-check.sh --quick    # the benchmark at --quick sizes (4 layers, seq 256, batch 4)
#
# Each part runs under its own timeout, so one hang can't eat the budget; a part that fails
# or times out is reported and the next one still runs. Logs (and JUnit XML) go to $OUT when
# it is set (the device runner brings that folder back), else to /tmp/gpu-check. The last
# lines are a summary: pass/fail counts per part and the benchmark table.
#
# Timeouts (seconds) can be changed with T_TESTS, T_CONFORMANCE, T_BENCH, T_BENCH_CASE.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
LOGS="${OUT:-/tmp/gpu-check}"
mkdir -p "$LOGS"
BENCH_ARGS=()
[ "${1:-}" = "--quick" ] && BENCH_ARGS+=(--quick)
T_TESTS="${T_TESTS:-110}"
T_CONFORMANCE="${T_CONFORMANCE:-140}"
T_BENCH="${T_BENCH:-230}"
T_BENCH_CASE="${T_BENCH_CASE:-70}"
START=$SECONDS
declare -a SUMMARY=()

part() {  # part NAME SECONDS CMD...: run one part with a timeout, its output teed to $LOGS/NAME.log
    local name="$1" limit="$2"; shift 2
    echo
    echo "==> [$((SECONDS - START))s] $name (timeout ${limit}s): $*"
    timeout --signal=INT --kill-after=15 "$limit" "$@" 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    local last
    last="$(grep -E "(passed|failed|error|skipped|no tests ran)" "$LOGS/$name.log" | grep -E "^=+ |^[0-9]+ (passed|failed)" | tail -1)"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        SUMMARY+=("$name: TIMED OUT after ${limit}s ${last}")
    else
        SUMMARY+=("$name: exit $rc ${last}")
    fi
}

echo "==> installing ember-core, ember-backend-cuda, ember-models (editable, no dependencies)"
"$PY" -m pip install --quiet --no-build-isolation --no-deps -e packages/core -e packages/backend-cuda \
    -e packages/models 2>&1 | tail -3
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-4}"

part probe 60 "$PY" - <<'PYEOF'
import platform, numpy, cupy, ember, ember_cuda
print("python", platform.python_version(), "numpy", numpy.__version__, "cupy", cupy.__version__)
print("ember_cuda.unavailable_reason():", repr(ember_cuda.unavailable_reason()))
from ember.device import backends
for row in backends():
    print(f"backend {row['name']}: available={row['available']} {row['reason']} {row['devices']}")
x = ember.randn(1024, 1024, device="cuda")
print("matmul on", x.device, "->", (x @ x).shape, "| describe:", x.device.backend.describe(0))
print("default device:", ember.default_device(), "| memory allocated:", ember.cuda.memory_allocated())
PYEOF

part tests_cuda "$T_TESTS" "$PY" -m pytest tests/backend_cuda -q -rfEs -p no:cacheprovider --junitxml="$LOGS/tests_cuda.xml"

part conformance "$T_CONFORMANCE" "$PY" -m pytest --pyargs ember.testing --ember-backend cuda -q -rfE \
    -p no:cacheprovider --junitxml="$LOGS/conformance.xml"

part benchmark "$T_BENCH" "$PY" benchmarks/gpu_gpt2.py "${BENCH_ARGS[@]}" --warmup 2 --steps 6 \
    --timeout "$T_BENCH_CASE" --json "$LOGS/benchmark.json"

echo
echo "==================== summary ($((SECONDS - START))s) ===================="
"$PY" - "$LOGS" <<'PYEOF'
import glob, sys, xml.etree.ElementTree as ET
for path in sorted(glob.glob(sys.argv[1] + "/*.xml")):
    n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for key in n:
            n[key] += int(suite.get(key, 0))
    passed = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
    name = path.rsplit("/", 1)[-1][:-4]
    print(f"{name}: {passed} passed, {n['failures'] + n['errors']} failed, {n['skipped']} skipped")
PYEOF
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo
sed -n '/^mode /,$p' "$LOGS/benchmark.log" 2>/dev/null
