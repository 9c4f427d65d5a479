#!/usr/bin/env bash
# Builds brook's libFuzzer targets (fuzz/, in build-fuzz/ with clang, ASan and
# UBSan), then for each target replays its seed corpus and fuzzes it briefly.
# Fails if the committed seed corpus is stale or any target crashes, leaks,
# trips a sanitizer or an invariant, or times out.
#
#   scripts/fuzz.sh                   every target, FUZZ_SECONDS (default 20) each
#   scripts/fuzz.sh live replay       only these targets
#   FUZZ_SECONDS=1800 FUZZ_KEEP=1 scripts/fuzz.sh replay
#                                     a campaign: 30 min, and what the run
#                                     found is kept in fuzz/corpus-grown/
#   FUZZ_TIMEOUT=60                   seconds one input may take (default 25;
#                                     raise it when the machine is busy)
#   FUZZ_JOBS=2                       targets fuzzed at once (default 1)
#
# Each target starts from its seeds (fuzz/corpus, written by make_seeds) and
# what earlier campaigns grew (fuzz/corpus-grown). Without FUZZ_KEEP the
# repository is not modified: fuzzing runs on a scratch copy. Crash inputs go to build-fuzz/fuzz-artifacts/<target>/ and the
# full logs to build-fuzz/fuzz-logs/<target>.log. See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=build-fuzz
jobs=${JOBS:-2}
seconds=${FUZZ_SECONDS:-20}
all_targets=(live request answer records record msgpack replay ingest json_record group beacon)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

bash scripts/install-deps.sh

step() { printf '\n=== %s\n' "$*"; }

step "configure and build the fuzz targets ($build, clang, ASan + UBSan + libFuzzer)"
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBROOK_FUZZ=ON \
  -DBROOK_WERROR=ON -DBROOK_BUILD_TESTS=OFF -DBROOK_BUILD_EXAMPLES=OFF -DBROOK_BUILD_BENCH=OFF \
  -DBROOK_INSTALL=OFF >/dev/null
cmake --build "$build" --target brook_fuzz -j"$jobs"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/brook-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

step "the committed seed corpus is what fuzz/make_seeds.cc writes"
"$build/fuzz/make_seeds" "$scratch/seeds" >/dev/null
if ! diff -r "$scratch/seeds" fuzz/corpus >"$scratch/seeds.diff" 2>&1; then
  cat "$scratch/seeds.diff"
  echo "fuzz/corpus is stale (the wire or record format changed?): regenerate it with" >&2
  echo "  $build/fuzz/make_seeds fuzz/corpus   and commit it" >&2
  exit 1
fi
echo "seed corpus: up to date"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for s in /usr/lib/llvm-14/bin/llvm-symbolizer "$(command -v llvm-symbolizer || true)"; do
  if [ -n "$s" ] && [ -x "$s" ]; then
    export ASAN_SYMBOLIZER_PATH=$s
    break
  fi
done
# The replay target makes its journal and sockets under TMPDIR: keep them in
# the scratch directory, removed on exit even after a crash.
export TMPDIR=$scratch

logs=$root/$build/fuzz-logs
mkdir -p "$logs"
for t in "${targets[@]}"; do
  if [ ! -x "$build/fuzz/${t}_fuzz" ] || [ ! -d "fuzz/corpus/$t" ]; then
    echo "unknown fuzz target '$t' (targets: ${all_targets[*]})" >&2
    exit 64
  fi
done

# One target: replay its corpus, fuzz it, keep what it grew (FUZZ_KEEP=1).
# Writes its summary line to $scratch/result/<target>.ok, or its failure to
# <target>.failed.
fuzz_one() {
  local t=$1
  local bin=$build/fuzz/${t}_fuzz
  local corpus=$scratch/corpus/$t
  local artifacts=$root/$build/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  cp -R "fuzz/corpus/$t/." "$corpus/"
  if [ -d "fuzz/corpus-grown/$t" ]; then cp -R "fuzz/corpus-grown/$t/." "$corpus/"; fi

  step "$t: replay the seed corpus, then fuzz for ${seconds} s"
  if ! "$bin" -runs=0 -artifact_prefix="$artifacts/" "$corpus" >"$logs/$t.log" 2>&1; then
    tail -n 60 "$logs/$t.log"
    echo "$t: FAILED on its seed corpus (log: $logs/$t.log, input in $artifacts/)" >&2
    echo "seed corpus" >"$scratch/result/$t.failed"
    return
  fi
  if ! "$bin" -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-25}" -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$corpus" >>"$logs/$t.log" 2>&1; then
    tail -n 60 "$logs/$t.log"
    echo "$t: FAILED while fuzzing (log: $logs/$t.log, input in $artifacts/)" >&2
    echo "fuzzing" >"$scratch/result/$t.failed"
    return
  fi
  if [ "${FUZZ_KEEP:-0}" = 1 ]; then
    # Keep the smallest set of inputs that covers what this run reached, less
    # the seeds (make_seeds owns those): fuzz/corpus-grown/<target>.
    local merged=$scratch/merged/$t
    rm -rf "$merged" && mkdir -p "$merged"
    "$bin" -merge=1 "$merged" "fuzz/corpus/$t" "$corpus" >>"$logs/$t.log" 2>&1
    (cd "fuzz/corpus/$t" && sha1sum -- * 2>/dev/null | cut -d' ' -f1) | sort >"$scratch/$t.seeds.sha1"
    local f
    for f in "$merged"/*; do
      [ -e "$f" ] || continue
      if grep -qx "$(sha1sum <"$f" | cut -d' ' -f1)" "$scratch/$t.seeds.sha1"; then rm -f "$f"; fi
    done
    rm -rf "fuzz/corpus-grown/$t" && mkdir -p "fuzz/corpus-grown/$t"
    cp -R "$merged/." "fuzz/corpus-grown/$t/"
  fi
  local runs rate cov line
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$logs/$t.log" | tail -n 1)
  line=$(printf '%-11s %9s runs  %6s exec/s  %s  corpus %s -> %s' "$t" "$runs" "$rate" "$cov" \
    "$(find "fuzz/corpus/$t" -type f | wc -l)" "$(find "$corpus" -type f | wc -l)")
  if [ "${FUZZ_KEEP:-0}" = 1 ]; then
    line="$line  kept $(find "fuzz/corpus-grown/$t" -type f | wc -l) in fuzz/corpus-grown/$t"
  fi
  echo "$line"
  echo "$line" >"$scratch/result/$t.ok"
}

# FUZZ_JOBS targets at once (each fuzzes on one core; CI runs 2).
mkdir -p "$scratch/result"
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "${FUZZ_JOBS:-1}" ]; do wait -n || true; done
  fuzz_one "$t" &
done
wait

failed=()
step "fuzz summary (${seconds} s per target)"
for t in "${targets[@]}"; do
  if [ -f "$scratch/result/$t.ok" ]; then
    cat "$scratch/result/$t.ok"
  else
    printf '%-11s FAILED (%s): log %s\n' "$t" "$(cat "$scratch/result/$t.failed" 2>/dev/null ||
      echo "no result")" "$logs/$t.log"
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ok"
