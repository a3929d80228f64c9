#!/usr/bin/env bash
# The reliability soak (issue 9): pytest/test_reliability.py with the full
# counts — 1000 sequential and 50-way parallel `husk oci run`, 200 sequential
# and 50-way parallel `husk run --rm` — and every fault and concurrency test;
# each compares a host-state snapshot before and after.  What `make soak` runs.
#
#   bash bench/soak.sh /abs/path/to/build
#
# Knobs (environment): SOAK_SEQ (1000), SOAK_PAR (50), SOAK_PAR_ROUNDS (4),
# SOAK_PORCELAIN_SEQ (200), SOAK_PORCELAIN_PAR (50).  HUSK_SNAPSHOT_STRICT=1
# counts every new husk cgroup/netns/veth/nftables change as a leak (the
# default only when CI=true: on a shared machine other tests make their own).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: bash bench/soak.sh /abs/path/to/build" >&2; exit 2; }
case "$1" in /*) ;; *) echo "soak: the build directory must be absolute: $1" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "soak: must run as root" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export HUSK_BUILD="$1"
export RELIABILITY_SEQ="${SOAK_SEQ:-1000}"
export RELIABILITY_PAR="${SOAK_PAR:-50}"
export RELIABILITY_PAR_ROUNDS="${SOAK_PAR_ROUNDS:-4}"
export RELIABILITY_PORCELAIN_SEQ="${SOAK_PORCELAIN_SEQ:-200}"
export RELIABILITY_PORCELAIN_PAR="${SOAK_PORCELAIN_PAR:-50}"
cd "$HERE"
exec /usr/bin/python3 -m pytest -ra -s -p no:cacheprovider pytest/test_reliability.py -k reliability
