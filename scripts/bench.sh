#!/usr/bin/env bash
# The benchmark suite in one command: installs what it needs (the peers'
# servers and client libraries from Debian's packages), builds the benchmarks
# in Release (build-bench/), runs the baselines, brook and the peers in turn,
# and prints one table with each brook figure beside what it is judged
# against, as ratios of medians measured in this run.
#
#   scripts/bench.sh [--quick] [--runs N] [--no-peers] [--out FILE]
#
# --quick     a smoke run (seconds per program, 1 run each, small counts)
# --runs N    samples per figure (default 3; the figure is their median)
# --no-peers  brook and the baselines only
# --out FILE  the JSON report (default build-bench/bench-results.json); the
#             raw figures of each program are kept beside it (*.jsonl)
#
# Journals go under /var/tmp (a disk, not tmpfs, where fsync would be free).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

quick=()
runs=()
peers=1
out="$root/build-bench/bench-results.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --runs) runs=(--runs "$2"); shift ;;
    --no-peers) peers=0 ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$peers" = 1 ]; then
  bash scripts/install-deps.sh --bench
else
  bash scripts/install-deps.sh
fi

build="$root/build-bench"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBROOK_BUILD_BENCH=ON \
  -DBROOK_BUILD_TESTS=OFF -DBROOK_BUILD_EXAMPLES=OFF \
  -DBROOK_BUILD_PYTHON=ON -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$build" -j"$(nproc)"

results="$(dirname "$out")"
mkdir -p "$results"
files=()
run() {  # run NAME BINARY [ARGS...]: figures to $results/NAME.jsonl
  local name="$1" bin="$2"
  shift 2
  if [ ! -x "$bin" ]; then
    echo "bench.sh: $name not built (its client library is missing); skipped" >&2
    return 0
  fi
  echo "=== $name" >&2
  "$bin" "$@" ${quick[@]+"${quick[@]}"} ${runs[@]+"${runs[@]}"} >"$results/$name.jsonl"
  files+=("$results/$name.jsonl")
}

run baseline "$build/bench/baseline_bench"
run brook "$build/bench/node_bench"
echo "=== python" >&2
PYTHONPATH="$build/bindings/python" /usr/bin/python3 bench/python_bench.py \
  --node-bench "$build/bench/node_bench" ${quick[@]+"${quick[@]}"} ${runs[@]+"${runs[@]}"} \
  >"$results/python.jsonl"
files+=("$results/python.jsonl")
if [ "$peers" = 1 ]; then
  run redis "$build/bench/peers/redis_bench"
  run nats "$build/bench/peers/nats_bench"
  run mosquitto "$build/bench/peers/mosquitto_bench"
fi

/usr/bin/python3 bench/report.py --out "$out" "${files[@]}"
