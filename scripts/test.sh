#!/usr/bin/env bash
# Runs every test suite, then prints one summary line per suite and a total.
# The suites:
#   unit       GoogleTest unit tests (ctest) in the release build
#   unit-asan  the same tests built with AddressSanitizer and UBSan
#   fuzz       each libFuzzer target in server/fuzz for FUZZ_SECONDS seconds
#   sdk        the Node SDK's tests against a real daemon
#   e2e        cross-process tests: SDK, daemon, signals, HTTP endpoints
#   e2e-asan   the same tests against the daemon built with the sanitizers,
#              so a memory error or leak fails the daemon's exit code check
# Expects `make build` to have run. Set SUITES to run a subset, for example
# SUITES="unit sdk".
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

BUILD_DIR="${BUILD_DIR:-build/release}"
ASAN_DIR="${ASAN_DIR:-build/asan}"
FUZZ_DIR="${FUZZ_DIR:-build/fuzz}"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
SUITES="${SUITES:-unit unit-asan fuzz sdk e2e e2e-asan}"
LOG_DIR="build/test-logs"
mkdir -p "$LOG_DIR"

declare -a summary=()
total_passed=0
total_failed=0

# Records "<suite>: N passed, N failed" for the summary.
record() {
  local suite="$1" passed="$2" failed="$3"
  summary+=("$(printf '%-10s %d passed, %d failed' "$suite:" "$passed" "$failed")")
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
}

# Reads ctest's "N% tests passed, F tests failed out of T" line from a log.
record_ctest() {
  local suite="$1" log="$2" exit_code="$3"
  local line total failed
  line="$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)"
  if [ -z "$line" ]; then
    echo "$suite: ctest printed no result line (exit code $exit_code); see $log"
    record "$suite" 0 1
    return
  fi
  total="$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")"
  failed="$(sed -E 's/.*, ([0-9]+) tests? failed.*/\1/' <<<"$line")"
  record "$suite" $((total - failed)) "$failed"
}

# Reads node:test's "# pass N" / "# fail N" (or "ℹ pass N") lines from a log.
record_node() {
  local suite="$1" log="$2" exit_code="$3"
  local passed failed
  passed="$(grep -E '^(#|ℹ) pass [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')"
  failed="$(grep -E '^(#|ℹ) fail [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')"
  if [ -z "$passed" ] || [ -z "$failed" ]; then
    echo "$suite: the Node test runner printed no totals (exit code $exit_code); see $log"
    record "$suite" "${passed:-0}" $(( ${failed:-0} + 1 ))
    return
  fi
  if [ "$exit_code" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  record "$suite" "$passed" "$failed"
}

run_unit() {
  local log="$LOG_DIR/unit.log"
  echo "== unit: GoogleTest in $BUILD_DIR"
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j 2 2>&1 | tee "$log"
  record_ctest unit "$log" "${PIPESTATUS[0]}"
}

run_unit_asan() {
  local log="$LOG_DIR/unit-asan.log"
  echo "== unit-asan: GoogleTest built with AddressSanitizer and UndefinedBehaviorSanitizer"
  {
    cmake -S server -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEAVYLIFT_SANITIZE=ON \
      -DHEAVYLIFT_BENCHMARKS=OFF > /dev/null &&
      cmake --build "$ASAN_DIR" --target heavylift_tests -j 2 &&
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$ASAN_DIR" --output-on-failure -j 2
  } 2>&1 | tee "$log"
  record_ctest unit-asan "$log" "${PIPESTATUS[0]}"
}

run_fuzz() {
  local log="$LOG_DIR/fuzz.log" passed=0 failed=0
  echo "== fuzz: each target for ${FUZZ_SECONDS}s"
  {
    CC=clang CXX=clang++ cmake -S server -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DHEAVYLIFT_FUZZ=ON -DHEAVYLIFT_TESTS=OFF -DHEAVYLIFT_BENCHMARKS=OFF > /dev/null
  } 2>&1 | tee "$log"
  for source in server/fuzz/*_fuzz.cc; do
    local target corpus
    target="$(basename "$source" .cc)"
    corpus="$FUZZ_DIR/corpus/$target"
    mkdir -p "$corpus"
    # Seeds live beside the target; the working corpus stays in the build tree.
    if [ -d "server/fuzz/seeds/${target%_fuzz}" ]; then cp -n "server/fuzz/seeds/${target%_fuzz}"/* "$corpus"/ 2>/dev/null; fi
    if cmake --build "$FUZZ_DIR" --target "$target" 2>&1 | tee -a "$log" &&
      "$FUZZ_DIR/$target" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
        -artifact_prefix="$FUZZ_DIR/" "$corpus" >> "$log" 2>&1; then
      echo "fuzz: $target ran ${FUZZ_SECONDS}s without a finding"
      passed=$((passed + 1))
    else
      echo "fuzz: $target failed; see $log"
      tail -40 "$log"
      failed=$((failed + 1))
    fi
  done
  record fuzz "$passed" "$failed"
}

run_node_suite() {
  local suite="$1" dir="$2" log="$LOG_DIR/$1.log"
  echo "== $suite: npm test in $dir"
  (cd "$dir" && npm test) 2>&1 | tee "$log"
  record_node "$suite" "$log" "${PIPESTATUS[0]}"
}

run_e2e_asan() {
  local log="$LOG_DIR/e2e-asan.log"
  echo "== e2e-asan: end-to-end tests against the sanitizer build of the daemon"
  if ! {
    cmake -S server -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEAVYLIFT_SANITIZE=ON \
      -DHEAVYLIFT_BENCHMARKS=OFF > /dev/null && cmake --build "$ASAN_DIR" --target heavylift -j 2
  } > "$log" 2>&1; then
    tail -40 "$log"
    record e2e-asan 0 1
    return
  fi
  # HEAVYLIFT_E2E_SANITIZED tells tests to scale down volume-heavy cases,
  # which run several times slower under the sanitizers.
  (cd tests/e2e && HEAVYLIFT_BIN="$repo_root/$ASAN_DIR/heavylift" HEAVYLIFT_E2E_SANITIZED=1 \
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 npm test) 2>&1 | tee -a "$log"
  record_node e2e-asan "$log" "${PIPESTATUS[0]}"
}

for suite in $SUITES; do
  case "$suite" in
    unit) run_unit ;;
    unit-asan) run_unit_asan ;;
    fuzz) run_fuzz ;;
    sdk) run_node_suite sdk sdk/node ;;
    e2e) run_node_suite e2e tests/e2e ;;
    e2e-asan) run_e2e_asan ;;
    *) echo "unknown suite $suite (known: unit unit-asan fuzz sdk e2e e2e-asan)"; exit 2 ;;
  esac
done

echo
echo "== summary"
for line in "${summary[@]}"; do echo "$line"; done
echo "total: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
