#!/usr/bin/env bash
# What container networking costs (issue 7):
#   1. linking: an empty main() alone, with -lmnl (what husk links), with
#      -lnftables (what husk would load if it did the firewall itself)
#   2. husk-netfw apply: one nftables transaction replacing `table ip husk`
#      (1 network, 2 published ports), exec included
#   3. `husk run --rm busybox true` with --network none / bridge (first and
#      last user: the firewall is rewritten twice) / bridge while another
#      container holds the network (netlink only) / bridge -p (firewall twice)
#
#   bash bench/net-cost.sh /abs/path/to/build
#
# Runs in a private network namespace (unshare -n): the host's network is
# never changed.  Writes bench/results/net-cost-<tag>.md and prints it.
# Knobs: NET_BENCH_RUNS (default 30) runs of each `husk run`,
#        NET_BENCH_LINK_RUNS (default 2000) runs of the link benchmarks,
#        BENCH_TAG (default <date>-<host>).
# shellcheck disable=SC2086
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3

die() {
  echo "net-cost: $*" >&2
  exit 1
}

if [ -z "${HUSK_NETBENCH_INNER:-}" ]; then
  [ $# -eq 1 ] || die "usage: bash bench/net-cost.sh /abs/path/to/build"
  case "$1" in /*) ;; *) die "the build directory must be an absolute path: $1" ;; esac
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  for tool in hyperfine unshare ip "$PY"; do
    command -v "$tool" >/dev/null || die "missing $tool (run: make deps)"
  done
  [ -x "$1/runtime/husk" ] || die "$1/runtime/husk not built"
  [ -x "$1/runtime/husk-netfw" ] || die "$1/runtime/husk-netfw not built (libnftables-dev)"
  [ -x /bin/busybox ] || die "missing /bin/busybox (busybox-static)"
  export HUSK_NETBENCH_INNER=1
  exec unshare -n bash "${BASH_SOURCE[0]}" "$@"
fi

BUILD=$1
HUSK=$BUILD/runtime/husk
NETFW=$BUILD/runtime/husk-netfw
export HUSK_NETFW=$NETFW
RUNS=${NET_BENCH_RUNS:-30}
LINK_RUNS=${NET_BENCH_LINK_RUNS:-2000}
TAG=${BENCH_TAG:-$(date +%Y-%m-%d)-$(hostname -s)}
OUT=$HERE/results/net-cost-$TAG.md
WORK=$(mktemp -d /tmp/husk-netbench-XXXXXX)
D="--data-root $WORK/data --root $WORK/state"
holder=""

cleanup() {
  if [ -n "$holder" ]; then "$HUSK" $D rm -f "$holder" >/dev/null 2>&1 || true; fi
  "$HUSK" $D ps -a -q --no-trunc 2>/dev/null | xargs -r "$HUSK" $D rm -f >/dev/null 2>&1 || true
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

ip link set lo up
mkdir -p "$HERE/results"

stats() { # json label -> "| label | mean ± sd | median | min |"
  "$PY" - "$1" "$2" <<'EOF'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = [x * 1000 for x in r["times"]]
print(f"| {sys.argv[2]} | {statistics.mean(t):.2f} ± {statistics.pstdev(t):.2f} | "
      f"{statistics.median(t):.2f} | {min(t):.2f} | {len(t)} |")
EOF
}

rows=()
bench() { # label hyperfine-args...
  local label=$1
  shift
  hyperfine --style none --export-json "$WORK/h.json" "$@" >/dev/null 2>"$WORK/h.err" ||
    die "hyperfine failed for '$label': $(tail -3 "$WORK/h.err")"
  rows+=("$(stats "$WORK/h.json" "$label")")
  echo "${rows[-1]}" >&2
}

# ---- 1. linking -------------------------------------------------------------
link_rows=()
if command -v cc >/dev/null; then
  cat >"$WORK/e.c" <<'EOF'
int main(int argc, char **argv) { (void)argv; return argc > 99; }
EOF
  cc -O2 "$WORK/e.c" -o "$WORK/e-plain"
  cc -O2 "$WORK/e.c" -o "$WORK/e-mnl" -Wl,--no-as-needed -lmnl
  if cc -O2 "$WORK/e.c" -o "$WORK/e-nft" -Wl,--no-as-needed -lnftables 2>/dev/null; then :; fi
  for b in plain mnl nft; do
    [ -x "$WORK/e-$b" ] || continue
    bench "empty main, $b" -N -w 200 -r "$LINK_RUNS" "$WORK/e-$b"
    link_rows+=("${rows[-1]}")
  done
fi

# ---- 2. husk-netfw -------------------------------------------------------------
cat >"$WORK/rules.nft" <<'EOF'
table ip husk
delete table ip husk
table ip husk {
	chain prerouting {
		type nat hook prerouting priority -100; policy accept;
		fib daddr type local jump ports
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local jump ports
	}
	chain ports {
		tcp dport 18080 dnat to 10.88.0.2:80
		ip daddr 127.0.0.1 udp dport 5353 dnat to 10.88.0.3:53
	}
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		ip saddr 10.88.0.0/16 oifname != "husk0" masquerade
		oifname "husk0" ip saddr 127.0.0.0/8 masquerade
		oifname "husk0" ip saddr 10.88.0.0/16 ct status dnat masquerade
	}
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "husk0" accept
		oifname "husk0" ct state established,related accept
		oifname "husk0" ct status dnat accept
	}
}
EOF
printf 'table ip husk\ndelete table ip husk\n' >"$WORK/empty.nft"
bench "husk-netfw apply (replace the table)" -w 5 -r 200 "$NETFW apply < $WORK/rules.nft"
fw_row=${rows[-1]}
bench "husk-netfw apply (delete the table)" -w 5 -r 200 "$NETFW apply < $WORK/empty.nft"
fw_del_row=${rows[-1]}

# ---- 3. husk run ---------------------------------------------------------------
"$HUSK" $D run --rm --network bridge busybox true # image + default network
run_rows=()
bench "run --network none" -N -w 3 -r "$RUNS" "$HUSK $D run --rm --network none busybox true"
run_rows+=("${rows[-1]}")
bench "run --network bridge (first+last user)" -N -w 3 -r "$RUNS" \
  "$HUSK $D run --rm --network bridge busybox true"
run_rows+=("${rows[-1]}")
holder=$("$HUSK" $D run -d --network bridge busybox sleep 3600)
bench "run --network bridge (network in use)" -N -w 3 -r "$RUNS" \
  "$HUSK $D run --rm --network bridge busybox true"
run_rows+=("${rows[-1]}")
bench "run --network bridge -p 18080:80 (network in use)" -N -w 3 -r "$RUNS" \
  "$HUSK $D run --rm --network bridge -p 18080:80 busybox true"
run_rows+=("${rows[-1]}")
"$HUSK" $D rm -f "$holder" >/dev/null
holder=""

{
  echo "# Networking cost ($TAG)"
  echo
  echo "Kernel $(uname -r), $(nproc) CPUs; every number in ms (hyperfine), in a private netns."
  echo
  echo "| what | mean ± sd | median | min | runs |"
  echo "| --- | --- | --- | --- | --- |"
  for r in "${link_rows[@]}" "$fw_row" "$fw_del_row" "${run_rows[@]}"; do echo "$r"; done
} >"$OUT"
cat "$OUT"
echo "net-cost: wrote $OUT" >&2
