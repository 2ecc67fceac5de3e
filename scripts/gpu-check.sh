#!/usr/bin/env bash
# The whole GPU check, in one run on the lent GPU machine (../shared/GPU.md): 9 minutes at most, about 3 when all goes well.
#
#   bash scripts/gpu-check.sh            # install, probe, tests/backend_cuda, conformance on cuda, GPT-2
#                                        # benchmark against torch, the host's cost per call, then ember's per-kernel GPU profile (TF32, bf16)
#   bash scripts/gpu-check.sh --quick    # the benchmark at --quick sizes (4 layers, seq 256, batch 4)
#
# Each part runs under its own timeout, so one hang can't eat the budget; a part that fails
# or times out is reported and the next one still runs. The two test parts run side by side
# (the GPU and the machine's 16 cores have room for both); the benchmark runs alone after them.
# Logs and JUnit XML are packed into $OUT/gpu-check-logs.tar.gz when $OUT is set (the device
# runner brings that folder back). The last lines are a summary: pass/fail counts per part and the benchmark table.
#
# Timeouts (seconds) can be changed with T_TESTS, T_CONFORMANCE, T_BENCH, T_BENCH_CASE.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
LOGS="$(mktemp -d /tmp/gpu-check.XXXX)"  # packed into $OUT/gpu-check-logs.tar.gz at the end
BENCH_ARGS=()
[ "${1:-}" = "--quick" ] && BENCH_ARGS+=(--quick)
T_TESTS="${T_TESTS:-130}"
T_CONFORMANCE="${T_CONFORMANCE:-130}"
T_BENCH="${T_BENCH:-170}"
T_BENCH_CASE="${T_BENCH_CASE:-50}"
START=$SECONDS
PER_TEST=()  # a hung test fails alone when pytest-timeout is there
"$PY" -c "import pytest_timeout" 2>/dev/null && PER_TEST=(--timeout 60)

part() {  # part NAME SECONDS CMD...: run one part with a timeout, its output teed to $LOGS/NAME.log
    local name="$1" limit="$2"; shift 2
    echo
    echo "==> [$((SECONDS - START))s] $name (timeout ${limit}s): $*"
    timeout --signal=INT --kill-after=15 "$limit" "$@" 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    local last
    last="$(grep -E "(passed|failed|error|skipped|no tests ran)" "$LOGS/$name.log" | grep -E "^=+ |^[0-9]+ (passed|failed)" | tail -1)"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "$name: TIMED OUT after ${limit}s ${last}" > "$LOGS/$name.summary"
    else
        echo "$name: exit $rc ${last}" > "$LOGS/$name.summary"
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

part tests_cuda "$T_TESTS" "$PY" -m pytest tests/backend_cuda -q --tb=short -rfEs -p no:cacheprovider "${PER_TEST[@]}" \
    --junitxml="$LOGS/tests_cuda.xml" > /dev/null &
part conformance "$T_CONFORMANCE" "$PY" -m pytest --pyargs ember.testing --ember-backend cuda -q --tb=short -rfE \
    -p no:cacheprovider "${PER_TEST[@]}" --junitxml="$LOGS/conformance.xml" > /dev/null &
wait
for name in tests_cuda conformance; do  # their failures, in full, one after the other
    echo; echo "==> $name"; sed -n '/^=* \(FAILURES\|ERRORS\|short test summary\)/,$p' "$LOGS/$name.log" | tail -150
done

part benchmark "$T_BENCH" "$PY" benchmarks/gpu_gpt2.py "${BENCH_ARGS[@]}" --warmup 2 --steps 6 \
    --timeout "$T_BENCH_CASE" --json "$LOGS/benchmark.json"

part overhead 60 "$PY" benchmarks/gpu_call_overhead.py

part profile 60 "$PY" benchmarks/gpu_profile.py "${BENCH_ARGS[@]}" --only ember --steps 2 --top 25
part profile_bf16 60 "$PY" benchmarks/gpu_profile.py "${BENCH_ARGS[@]}" --only ember --mode bf16 --steps 2 --top 25

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
cat "$LOGS"/*.summary
echo
sed -n '/^mode /,$p' "$LOGS/benchmark.log" 2>/dev/null
[ -n "${OUT:-}" ] && tar -czf "$OUT/gpu-check-logs.tar.gz" -C "$LOGS" . && echo "logs: \$OUT/gpu-check-logs.tar.gz"
