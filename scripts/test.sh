#!/usr/bin/env bash
# Installs dependencies, builds brook and runs the whole test suite: what the
# README's test command and CI (.ci/run) both run.
#
#   scripts/test.sh             everything below, in turn (~13 min on 2 cores)
#   scripts/test.sh --release   release build (build/): C++ tests, the brook
#                               CLI's tests, Python tests (CMake build and pip
#                               install), an outside
#                               project against the installed library, and
#                               smoke runs of the benchmarks
#   scripts/test.sh --sanitize  the C++ tests under ASan + UBSan (build-asan/)
#   scripts/test.sh --tsan      the threaded C++ tests under TSan (build-tsan/)
#   scripts/test.sh --fuzz      each libFuzzer target for FUZZ_SECONDS (build-fuzz/)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mode=${1:-all}
jobs=${JOBS:-2}

bash scripts/install-deps.sh

started=$(date +%s)
step() { printf '\n=== [%s] %s\n' "$(date -u -d @$(( $(date +%s) - started )) +%M:%S)" "$*"; }

run_mode() {
case "$1" in
  --release)
    build=build
    step "configure and build ($build)"
    # -g1 (line tables: backtraces and perf still work) instead of -g: the
    # optimised build compiles 30 % faster.
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBROOK_WERROR=ON \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
      -DBROOK_BUILD_PYTHON=ON -DPython3_EXECUTABLE=/usr/bin/python3
    cmake --build "$build" -j"$jobs"

    step "C++ tests (the fault suite's short version among them: ctest -L fault)"
    ctest --test-dir "$build" --output-on-failure -j"$jobs"

    # The Python suites wait on nodes and sockets far more than they compute:
    # 4 pytest-xdist workers on 2 cores take the CLI's 123 tests from 49 s to 19 s.
    step "the brook command line against real nodes and journals (tests/cli)"
    BROOK_CLI="$root/$build/tools/brook" PYTHONPATH="$root/$build/bindings/python" \
      /usr/bin/python3 -m pytest -q -n 4 tests/cli

    step "install, then build the examples as an outside project (find_package and pkg-config) and run them"
    stage="$root/$build/stage"
    rm -rf "$stage"
    cmake --install "$build" --prefix "$stage" >/dev/null
    PKG_CONFIG_PATH="$stage/lib/pkgconfig:${PKG_CONFIG_PATH:-}" \
      bash -c 'c++ -std=c++17 examples/journal_demo.cc $(pkg-config --cflags --libs brook) -o "$0"' \
      "$build/journal_demo_pkgconfig"
    # Configures examples/ against $stage with find_package(brook), builds it
    # (no warnings allowed) and runs every example, checking its summary.
    BROOK_PREFIX="$stage" BROOK_EXAMPLES_BUILD="$root/$build/examples-outside" JOBS="$jobs" \
      /usr/bin/python3 -m pytest -q tests/examples
    echo "outside build: ok (every example built from the installed package and its check passed)"

    step "benchmark smoke run (checks it runs; asserts no speed)"
    "$build/bench/journal_bench" --quick >/dev/null
    smoke="$build/bench-smoke"
    mkdir -p "$smoke"
    "$build/bench/baseline_bench" --quick >"$smoke/baseline.jsonl" 2>/dev/null
    "$build/bench/node_bench" --quick --big-replay 100000 >"$smoke/brook.jsonl" 2>/dev/null
    "$build/bench/load_bench" --quick >"$smoke/load.jsonl" 2>"$smoke/load.log" ||
      { cat "$smoke/load.log" >&2; exit 1; }
    /usr/bin/python3 bench/report.py "$smoke/baseline.jsonl" "$smoke/brook.jsonl" \
      "$smoke/load.jsonl" >/dev/null
    echo "benchmarks: ok (baseline_bench, node_bench, load_bench and the report ran; every delivery checked)"

    if [ -d bindings/python/tests ]; then
      step "Python tests"
      BROOK_TEST_BIN_DIR="$root/$build/tests" PYTHONPATH="$root/$build/bindings/python" /usr/bin/python3 -m pytest -q -n 4 bindings/python/tests
      PYTHONPATH="$root/$build/bindings/python" /usr/bin/python3 bench/python_bench.py --quick \
        --node-bench "$build/bench/node_bench" >/dev/null 2>&1
      echo "python_bench: ok (smoke run)"

      step "pip install ./bindings/python (no package index: --no-build-isolation), then its tests"
      target="$root/$build/pip-target"
      rm -rf "$target" bindings/python/build bindings/python/*.egg-info
      /usr/bin/python3 -m pip install -q --root-user-action=ignore --no-build-isolation --no-deps \
        --target "$target" ./bindings/python
      rm -rf bindings/python/build bindings/python/*.egg-info
      BROOK_TEST_BIN_DIR="$root/$build/tests" PYTHONPATH="$target" /usr/bin/python3 -m pytest -q -n 4 bindings/python/tests
    fi
    ;;
  --sanitize)
    # clang for both sanitizer builds: it compiles instrumented code about
    # twice as fast as g++ (9.3 s against 4.5 s for consumer_test.cc under
    # ASan), and its warnings add to g++'s in the release build.
    build=build-asan
    step "configure and build with ASan + UBSan ($build)"
    CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DBROOK_SANITIZE=ON -DBROOK_BUILD_BENCH=OFF \
      -DBROOK_BUILD_EXAMPLES=OFF -DBROOK_BUILD_TOOLS=OFF -DBROOK_BUILD_FAULT_SUITE=OFF
    cmake --build "$build" -j"$jobs"
    # The fault suite's rounds (label "fault") run in the release build only
    # (BROOK_BUILD_FAULT_SUITE=OFF here): they are minutes of real processes,
    # and the sanitizers see the same recovery paths in the crash tests.
    step "C++ tests under ASan + UBSan"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "$build" --output-on-failure -j"$jobs" -LE fault
    ;;
  --tsan)
    build=build-tsan
    step "configure and build with TSan ($build)"
    CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DBROOK_TSAN=ON -DBROOK_BUILD_BENCH=OFF \
      -DBROOK_BUILD_EXAMPLES=OFF -DBROOK_BUILD_TOOLS=OFF -DBROOK_BUILD_FAULT_SUITE=OFF
    cmake --build "$build" -j"$jobs"
    step "C++ tests under TSan"
    TSAN_OPTIONS="halt_on_error=1 suppressions=$root/tests/tsan.supp" \
      ctest --test-dir "$build" --output-on-failure -j"$jobs" -LE fault
    ;;
  --fuzz)
    # 11 targets, 2 at a time: 2 s each (after replaying every committed
    # input) keeps the whole suite within CI's 15 minutes; scripts/fuzz.sh alone defaults to
    # 20 s, and the 30-minute campaigns are by hand (docs/RELIABILITY.md).
    step "libFuzzer targets (build-fuzz/): seed corpora, then ${FUZZ_SECONDS:-2} s of fuzzing each"
    FUZZ_SECONDS=${FUZZ_SECONDS:-2} FUZZ_JOBS=${FUZZ_JOBS:-2} bash scripts/fuzz.sh
    ;;
  *)
    echo "usage: $0 [--release|--sanitize|--tsan|--fuzz] (none: all of them)" >&2
    exit 64
    ;;
esac
}

if [ "$mode" = all ]; then
  for m in --release --sanitize --tsan --fuzz; do run_mode "$m"; done
  step "the whole suite passed"
else
  run_mode "$mode"
fi
