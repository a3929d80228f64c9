#!/usr/bin/env bash
# What the sealed exec stub (runtime/dmz/husk-dmz.c, the CVE-2019-5736
# protection) costs:
#   stub   `husk-dmz /bin/true true` against `/bin/true`: the extra exec alone
#   run    `husk oci run` of `true` by this build against the commit before
#          the stub existed (built in a temporary clone), interleaved in ROUNDS
#          rounds; medians compared (this machine drifts by 10-20% a minute)
# Usage: bench/dmz-cost.sh [BUILD_DIR]   (root; RUNS=200, ROUNDS=3, WARMUP=20)
set -euo pipefail

BUILD=$(realpath "${1:-build}")
HERE=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-200}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-20}
HUSK=$BUILD/runtime/husk
STUB=$BUILD/runtime/husk-dmz
for f in "$HUSK" "$STUB"; do
  [ -x "$f" ] || { echo "dmz-cost: $f not built" >&2; exit 1; }
done
command -v hyperfine >/dev/null || { echo "dmz-cost: hyperfine not installed" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "dmz-cost: needs root" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the build without the stub: the parent of the commit that added it
added=$(git -C "$HERE" log --format=%H --diff-filter=A -n1 -- runtime/dmz/husk-dmz.c)
[ -n "$added" ] || { echo "dmz-cost: the stub is not committed yet" >&2; exit 1; }
git clone -q "$HERE" "$tmp/before"
git -C "$tmp/before" checkout -q "$added^"
cmake -S "$tmp/before" -B "$tmp/before/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/before/build" -j "$(nproc)" --target husk >/dev/null
BEFORE=$tmp/before/build/runtime/husk

mkdir -p "$tmp/stubdir" "$tmp/b/rootfs/bin"
cp "$STUB" "$tmp/stubdir/husk-dmz"
cp /bin/busybox "$tmp/b/rootfs/bin/"
ln -s busybox "$tmp/b/rootfs/bin/true"
(cd "$tmp/b" && "$HUSK" oci spec && sed -i 's/"sh"/"true"/; s/"terminal": true/"terminal": false/' config.json)

median() { # hyperfine JSON -> median ms of command N
  python3 -c "import json,sys; print('%.3f' % (json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['median']*1e3))" "$@"
}

echo "== the stub's own exec"
PATH="$tmp/stubdir:$PATH" hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$tmp/stub.json" \
  "husk-dmz /bin/true true" "/bin/true" >/dev/null
s1=$(median "$tmp/stub.json" 0); s0=$(median "$tmp/stub.json" 1)
echo "husk-dmz + true: ${s1} ms   true: ${s0} ms (medians)"

echo "== husk oci run true: with the stub / before it ($ROUNDS rounds of $RUNS)"
cd "$tmp/b"
for r in $(seq "$ROUNDS"); do
  hyperfine -N -w "$WARMUP" -r "$RUNS" --export-json "$tmp/run$r.json" \
    "$HUSK oci --root $tmp/r1 run a$r" "$BEFORE oci --root $tmp/r2 run b$r" >/dev/null
  echo "round $r: with $(median "$tmp/run$r.json" 0) ms   before $(median "$tmp/run$r.json" 1) ms"
done
