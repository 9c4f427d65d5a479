#!/usr/bin/env bash
# Installs dependencies, builds brook (the demo and the `brook` command,
# build/tools/brook) and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build build -j"${JOBS:-2}" --target demo brook_cli
./build/examples/demo "$@"
