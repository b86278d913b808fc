#!/usr/bin/env bash
# Configures, builds and runs every test (unit and integration labels) with the `release` preset.
# Usage: scripts/test.sh [extra ctest arguments, e.g. -L unit or -R integration_stack]
# Environment: JOBS (build parallelism, default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS="${JOBS:-2}"
declare -a STAGES=()
declare -a RESULTS=()
declare -a SECONDS_TAKEN=()

summary() {
  local rc=$?
  echo
  echo "================ flashsale test summary ================"
  local i
  for i in "${!STAGES[@]}"; do
    printf '  %-10s %-6s %5ss\n' "${STAGES[$i]}" "${RESULTS[$i]}" "${SECONDS_TAKEN[$i]}"
  done
  if [ "$rc" -eq 0 ]; then
    echo "  RESULT: PASS"
  else
    echo "  RESULT: FAIL (exit $rc)"
  fi
  echo "========================================================"
  exit "$rc"
}
trap summary EXIT

# stage NAME COMMAND...: runs the command, records its outcome and time, stops on failure.
stage() {
  local name=$1
  shift
  echo
  echo "==> [$name] $*"
  local start=$SECONDS rc=0
  "$@" || rc=$?
  STAGES+=("$name")
  SECONDS_TAKEN+=("$((SECONDS - start))")
  if [ "$rc" -eq 0 ]; then
    RESULTS+=("ok")
  else
    RESULTS+=("FAILED")
    return "$rc"
  fi
}

stage configure cmake --preset release
stage build cmake --build --preset release -j"$JOBS"
# integration_payments runs the official stripe npm client against the simulator; without its
# node_modules that test skips.
if command -v npm >/dev/null 2>&1; then
  stage npm npm ci --prefix tests/e2e/stripe-node --no-audit --no-fund
fi
# Sequential on purpose: integration tests start real servers and race for real; on a small
# machine parallel binaries would only make their timing assertions flaky.
stage test ctest --preset release --output-on-failure "$@"
# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer (SKIP_ASAN=1 to skip).
# Leak checking is off: OpenSSL's per-thread state is reported as leaked at exit.
if [ "${SKIP_ASAN:-0}" != "1" ]; then
  stage asan-configure cmake --preset asan
  stage asan-build cmake --build --preset asan -j"$JOBS"
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    stage asan-test ctest --preset asan --output-on-failure "$@"
fi
