#!/usr/bin/env bash
# Tracing overhead of husk-trace on `unshare -fpimun true` (the kernel work of
# a container start without a runtime), measured with hyperfine -N:
#   baseline  untraced
#   attached  husk-trace's probes loaded, following an unrelated process: what
#             every process on the machine pays while husk-trace runs
#   traced    hyperfine itself runs under husk-trace --hist, so every measured
#             start is followed, timed and decoded (events and histograms)
# The three modes run interleaved in ROUNDS rounds (this machine drifts by 10-20%
# over a minute); the comparison uses the median of all runs of a mode, which a
# few slow outliers (network namespace cleanup) do not move.
# Prints the medians and traced/baseline; exits 1 when that ratio is >= TARGET.
#
# Usage: bench/trace-overhead.sh [BUILD_DIR]
#        (root; RUNS=100 runs per mode and round, ROUNDS=5, WARMUP=20, TARGET=1.15)
set -euo pipefail

BUILD=${1:-build}
HT=$(realpath "$BUILD")/runtime/husk-trace
RUNS=${RUNS:-100}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-20}
TARGET=${TARGET:-1.15}
CMD="unshare -fpimun true"

[ -x "$HT" ] || { echo "trace-overhead: $HT not built" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "trace-overhead: hyperfine not installed" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "trace-overhead: needs root" >&2; exit 1; }

tmp=$(mktemp -d)
sleeper=""
tracer=""
cleanup() {
  if [ -n "$tracer" ]; then kill -INT "$tracer" 2>/dev/null || true; wait "$tracer" 2>/dev/null || true; fi
  if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null || true; wait "$sleeper" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

bench() { # name [prefix...]: hyperfine CMD, export to $tmp/name.json
  local name=$1
  shift
  "$@" hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" \
    --export-json "$tmp/$name.json" "$CMD" >/dev/null 2>&1
}

for r in $(seq "$ROUNDS"); do
  bench "base.$r"

  sleep 3600 &
  sleeper=$!
  "$HT" --pid "$sleeper" -o /dev/null 2>"$tmp/attach.err" &
  tracer=$!
  for _ in $(seq 100); do
    grep -q "tracing pid" "$tmp/attach.err" 2>/dev/null && break
    kill -0 "$tracer" 2>/dev/null || { cat "$tmp/attach.err" >&2; exit 1; }
    sleep 0.1
  done
  bench "attached.$r"
  kill -INT "$tracer"
  wait "$tracer" || true
  tracer=""
  kill "$sleeper"
  wait "$sleeper" 2>/dev/null || true
  sleeper=""

  bench "traced.$r" "$HT" --hist -o "$tmp/traced.$r.txt" --
done

python3 - "$tmp" "$TARGET" "$CMD" "$RUNS" "$ROUNDS" <<'PY'
import json, statistics, sys
tmp, target, cmd, runs, rounds = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def times(mode):
    t = []
    for r in range(1, rounds + 1):
        t += json.load(open(f"{tmp}/{mode}.{r}.json"))["results"][0]["times"]
    return [x * 1e3 for x in t]
res = {m: times(m) for m in ("base", "attached", "traced")}
base = statistics.median(res["base"])
print(f"husk-trace overhead on `{cmd}` (hyperfine -N, {rounds} rounds x {runs} runs per mode)")
print(f"  {'mode':<9} {'median':>9} {'mean':>9} {'min':>8}   ratio (medians)")
for m in ("base", "attached", "traced"):
    t = res[m]
    med = statistics.median(t)
    print(f"  {m:<9} {med:7.3f}ms {statistics.mean(t):7.3f}ms {min(t):6.3f}ms   {med / base:.3f} ({(med / base - 1) * 100:+.1f}%)")
ratio = statistics.median(res["traced"]) / base
ok = ratio < target
print(f"traced/baseline = {ratio:.3f} (target < {target}): {'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
