#!/usr/bin/env bash
# Installs everything brook needs to build, test and run on Debian bookworm.
# Idempotent: packages already present are skipped, and apt is only consulted
# when something is missing. Run as root (or with sudo available).
#
#   scripts/install-deps.sh [--bench]
#
# --bench also installs the peers that bench/peers/ measures brook against
# (Redis, NATS, Mosquitto: servers and client libraries). The benchmarks start
# their own server processes on their own ports and directories; services the
# packages may start by themselves are stopped and disabled when a service
# manager is running, so they hold no port or CPU.
set -euo pipefail

bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) bench=1 ;;
    -h | --help)
      sed -n '2,13p' "$0"
      exit 0
      ;;
    *)
      echo "install-deps: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done

packages=(
  build-essential cmake pkg-config git
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
  liblmdb-dev lmdb-utils
  catch2
  pybind11-dev python3-dev python3-pytest python3-pytest-xdist python3-pybind11 python3-pip
  python3-setuptools
  python3-wheel
  python3-zmq python3-msgpack
  iproute2
  faketime
  clang clang-format libclang-rt-14-dev llvm-14
)
bench_packages=(
  redis-server libhiredis-dev
  nats-server libnats-dev
  mosquitto libmosquitto-dev
)
if [ "$bench" -eq 1 ]; then packages+=("${bench_packages[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The benchmarks run their own servers: the system services the packages
# start on install (where systemd runs) would only take CPU from them.
if [ "$bench" -eq 1 ] && [ -d /run/systemd/system ]; then
  for svc in redis-server mosquitto nats-server; do
    if systemctl list-unit-files "$svc.service" >/dev/null 2>&1; then
      $SUDO systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
    fi
  done
fi
