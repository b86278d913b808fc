#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers with libFuzzer (clang 14 + ASan; its UBSan cannot
# compile our coroutines, "Cannot represent a difference across sections", so UBSan runs the
# same targets through the gcc `asan` preset's regression driver instead): builds the `fuzz`
# preset and runs every target in tests/fuzz for SECONDS each (default 60), starting from its
# seed corpus in tests/fuzz/corpus/<target> and growing a working corpus under build/fuzz/corpus.
# A crash or a violated property stops that target and leaves the input in build/fuzz/crashes;
# replay it with `build/fuzz/tests/fuzz_<target> <file>` (or with the gcc-built regression
# driver: `build/release/tests/fuzz_<target> <dir holding the file>`), then add it to the seed
# corpus once fixed. Usage: scripts/fuzz.sh [SECONDS] [target ...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_EACH=${1:-60}
shift || true
command -v clang++ >/dev/null || bash scripts/install-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"${JOBS:-2}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cpp; do t=$(basename "$f" _fuzz.cpp); targets+=("$t"); done
fi
mkdir -p build/fuzz/crashes
status=0
for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/corpus/$t"
  echo "==> fuzz_$t for ${SECONDS_EACH}s"
  if ! ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
      "build/fuzz/tests/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/crashes/$t-" \
      "build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" 2>"build/fuzz/$t.log"; then
    echo "    FAILED: see build/fuzz/$t.log and build/fuzz/crashes/"
    grep -E "ERROR|violated|SUMMARY" "build/fuzz/$t.log" | head -5 || true
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "build/fuzz/$t.log" | tail -2 || true
  fi
done
exit $status
