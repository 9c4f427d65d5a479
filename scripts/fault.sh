#!/usr/bin/env bash
# The fault suite (tests/fault/, docs/RELIABILITY.md): builds fault_harness
# and runs its rounds, printing per fault the rounds and the records
# published, acknowledged, delivered, lost, duplicated and reordered.
#
#   scripts/fault.sh                         every fault, the short version (CI's)
#   scripts/fault.sh --long                  >= 200 rounds per fault and a 10-minute soak
#   scripts/fault.sh --long producer_kill    some faults only
#
# Environment: SEED (default: from the clock, printed), PARALLEL (harness
# processes at once, default 2; each runs its share of the faults), BUILD
# (build directory, default build), JOBS (build jobs, default 2).
# Output: the table on stdout, as Markdown too, and the figures as JSON in
# $BUILD/fault-results/ with each process's log. Exits 1 if any count that
# must be 0 is not; the log has each failed round's replay command.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${BUILD:-build}
parallel=${PARALLEL:-2}
mode=()
if [ "${1:-}" = "--long" ]; then
  mode=(--long)
  shift
fi

bash scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBROOK_WERROR=ON >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target fault_harness
harness=$root/$build/tests/fault/fault_harness

if [ $# -gt 0 ]; then
  faults=("$@")
else
  mapfile -t faults < <("$harness" --list | awk '{print $1}')
fi
seed=${SEED:-$(( $(date +%s) % 1000000007 ))}
out=$root/$build/fault-results
rm -rf "$out"
mkdir -p "$out"
echo "fault suite: ${#faults[@]} faults, seed $seed, ${mode[*]:-short} version, $parallel at a time; logs in $out"

# Faults dealt round-robin to PARALLEL harness processes.
pids=()
for ((g = 0; g < parallel; g++)); do
  share=()
  for ((i = g; i < ${#faults[@]}; i += parallel)); do share+=("${faults[i]}"); done
  [ ${#share[@]} -gt 0 ] || continue
  list=$(IFS=,; echo "${share[*]}")
  "$harness" "${mode[@]}" --seed "$seed" --fault "$list" --json "$out/part-$g.json" \
    >"$out/part-$g.table" 2>"$out/part-$g.log" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done

/usr/bin/python3 tests/fault/table.py "$out"/part-*.json
if [ $status -ne 0 ]; then
  echo "FAILED rounds (with their replay commands):" >&2
  grep -h -A12 "FAILED" "$out"/part-*.log >&2 || true
fi
exit $status
