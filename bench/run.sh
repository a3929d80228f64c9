#!/usr/bin/env bash
# Start-latency benchmarks: husk vs crun vs runc vs the kernel floor (issue 5).
#
#   bash bench/run.sh /abs/path/to/build        (what `make bench` runs)
#
# Every runtime runs inside ONE private mount namespace in which the hybrid
# host's /sys/fs/cgroup/unified is unmounted (crun 1.8 refuses hybrid
# cgroups), with the same bundle (ociVersion 1.0.2).  The host mount
# namespace is never changed.  Writes bench/results/<date>-<host>.{md,json,png}
# and prints the table.
#
# Knobs (environment):
#   BENCH_QUICK=1        few runs, for developing the scripts (numbers are noisy)
#   BENCH_MIN_RUNS=100   hyperfine --min-runs for the single-start benchmarks (per round)
#   BENCH_MAX_RUNS=200   hyperfine --max-runs (per round; fast commands stop there)
#   BENCH_WARMUP=10      hyperfine --warmup
#   BENCH_ROUNDS=5       hyperfine invocations (order rotated) for run, c+s+d, seq, exec
#   BENCH_ISOLATED_RUNS=30  runs of benchmark 1b (100 ms idle before each start)
#   BENCH_CSD_RUNS=50    hyperfine --runs per round for create+start+delete
#   BENCH_SEQ=100        containers per sequence in benchmark 3
#   BENCH_SEQ_RUNS=2     hyperfine --runs for benchmark 3 (per round)
#   BENCH_PORCELAIN_RUNS=20
#   BENCH_SAMPLES=5      strace / husk-trace samples per runtime
#   BENCH_RSS_SAMPLES=10 /usr/bin/time samples per runtime
#   BENCH_TAG=<date>-<host>   name of the result files
#   BENCH_FORCE_PORCELAIN=1   measure podman even when `husk run` is missing
#   BENCH_KEEP_RAW=DIR   copy the raw hyperfine/strace/trace files to DIR
#   BENCH_TIMEOUT=30     seconds for any single runtime command outside hyperfine
#   BENCH_HF_TIMEOUT=300 seconds for one hyperfine invocation
# $(rt NAME), $R, $H, $P and $cmd hold command lines that are split on purpose.
# shellcheck disable=SC2046,SC2086
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3 # Debian's python: it has matplotlib

die() {
  echo "bench: $*" >&2
  exit 1
}
say() { echo "bench: $*" >&2; }

# --------------------------------------------------------------------------
# Outer half: checks, then re-exec inside a private mount namespace.
# --------------------------------------------------------------------------
if [ -z "${HUSK_BENCH_INNER:-}" ]; then
  [ $# -eq 1 ] || die "usage: bash bench/run.sh /abs/path/to/build"
  case "$1" in /*) ;; *) die "the build directory must be an absolute path: $1" ;; esac
  [ "$(id -u)" -eq 0 ] || die "must run as root (containers with namespaces and cgroups)"
  for tool in hyperfine unshare strace "$PY" /usr/bin/time; do
    command -v "$tool" >/dev/null || die "missing $tool (run: make deps)"
  done
  "$PY" -c 'import matplotlib' 2>/dev/null || die "missing python3-matplotlib (run: make deps)"
  [ -x /bin/busybox ] || die "missing /bin/busybox (busybox-static)"
  HUSK_BENCH_HOST_MNTNS=$(readlink /proc/self/ns/mnt)
  export HUSK_BENCH_HOST_MNTNS HUSK_BENCH_INNER=1
  exec unshare -m --propagation private bash "${BASH_SOURCE[0]}" "$@"
fi

# --------------------------------------------------------------------------
# Inner half: we are in a private mount namespace.
# --------------------------------------------------------------------------
BUILD=$1
[ "$(readlink /proc/self/ns/mnt)" != "$HUSK_BENCH_HOST_MNTNS" ] ||
  die "refusing to run: not in a private mount namespace"
CGROUP_NOTE="hybrid host; /sys/fs/cgroup/unified unmounted in the benchmark's private mount namespace (cgroup v1 for every runtime)"
if mountpoint -q /sys/fs/cgroup/unified; then
  umount /sys/fs/cgroup/unified
elif [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
  CGROUP_NOTE="unified cgroup v2 host"
else
  CGROUP_NOTE="cgroup v1 host (no unified mount)"
fi

if [ -n "${BENCH_QUICK:-}" ]; then
  : "${BENCH_MIN_RUNS:=10}" "${BENCH_WARMUP:=2}" "${BENCH_ROUNDS:=1}" "${BENCH_ISOLATED_RUNS:=5}" "${BENCH_CSD_RUNS:=10}" "${BENCH_SEQ:=10}" "${BENCH_SEQ_RUNS:=2}"
  : "${BENCH_PORCELAIN_RUNS:=3}" "${BENCH_SAMPLES:=2}" "${BENCH_RSS_SAMPLES:=3}"
  HF_TIME=(--max-runs "$BENCH_MIN_RUNS")
else
  HF_TIME=(--max-runs "${BENCH_MAX_RUNS:-200}")
fi
: "${BENCH_MIN_RUNS:=100}" "${BENCH_WARMUP:=10}" "${BENCH_ROUNDS:=5}" "${BENCH_ISOLATED_RUNS:=30}" "${BENCH_CSD_RUNS:=50}" "${BENCH_SEQ:=100}" "${BENCH_SEQ_RUNS:=2}"
: "${BENCH_PORCELAIN_RUNS:=20}" "${BENCH_SAMPLES:=5}" "${BENCH_RSS_SAMPLES:=10}"
: "${BENCH_TAG:=$(date +%Y-%m-%d)-$(hostname -s)}"
: "${BENCH_TIMEOUT:=30}" "${BENCH_HF_TIMEOUT:=300}"

# A runtime that hangs must not hang the benchmark.
tmo() { timeout -k 5 "$BENCH_TIMEOUT" "$@"; }

HUSK_OCI=$BUILD/runtime/husk-oci
HUSK=$BUILD/runtime/husk
HUSK_TRACE=""
for t in "$BUILD/runtime/husk-trace" "$BUILD/ebpf/husk-trace" "$BUILD/husk-trace"; do
  [ -x "$t" ] && HUSK_TRACE=$t && break
done

# Runtimes measured: the OCI runtimes and the floor.
OCI_RUNTIMES=()
if [ -x "$HUSK_OCI" ]; then OCI_RUNTIMES+=(husk); else say "husk rows skipped: $HUSK_OCI not built"; fi
for r in crun runc; do
  if command -v $r >/dev/null; then OCI_RUNTIMES+=("$r"); else say "$r rows skipped: $r not installed"; fi
done

# "runtime --root STATE" for a runtime name.
rt() {
  case "$1" in
  husk) echo "$HUSK_OCI --root $WORK/state/husk" ;;
  crun) echo "crun --root $WORK/state/crun" ;;
  runc) echo "runc --root $WORK/state/runc" ;;
  esac
}

WORK=$(mktemp -d /tmp/husk-bench.XXXXXX)
RAW=$WORK/raw
mkdir -p "$RAW" "$WORK/state"
ROOTFS=$WORK/rootfs
FAIL=$RAW/failures.tsv # runtime <TAB> benchmark <TAB> message
: >"$FAIL"
PFX=hb$$ # container id prefix, unique per invocation
T0=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# Every container id ever used is listed in IDS and deleted on exit (a file:
# cid is called from command substitutions).
IDS=$WORK/ids
: >"$IDS"
cid() { # cid RUNTIME TAG -> id
  local id="$PFX-$2-$1"
  grep -qx "$1 $id" "$IDS" || echo "$1 $id" >>"$IDS"
  echo "$id"
}

PODMAN_ROOT=""
cleanup() {
  local rc=$? r id
  set +e
  while read -r r id; do
    tmo $(rt "$r") delete --force "$id" >/dev/null 2>&1 </dev/null
  done <"$IDS"
  # A runtime bug can leave a container behind (e.g. an init that holds the
  # state lock).  Our ids are unique: kill what is still in cgroups named
  # after them, then remove those cgroups.  crun 1.8 also mkdirs
  # /sys/fs/cgroup/unified/<id> on the tmpfs under the unmounted cgroup2
  # mount and leaves it (with a plain file named cgroup.procs in it): remove
  # those too, and never read pids from anything that is not a cgroup fs.
  local dirs d i
  dirs=$(while read -r r id; do
    find /sys/fs/cgroup -maxdepth 4 -type d -name "$id" 2>/dev/null
  done <"$IDS")
  if [ -n "$dirs" ]; then
    for i in 1 2 3 4 5; do
      for d in $dirs; do
        [ -d "$d" ] || continue
        case "$(stat -f -c %T "$d")" in
        cgroupfs | cgroup2fs)
          xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null
          rmdir "$d" 2>/dev/null
          ;;
        tmpfs) rm -rf --one-file-system "$d" ;;
        esac
      done
      sleep 0.2
    done
    for d in $dirs; do [ -d "$d" ] && say "cleanup: could not remove $d"; done
  fi
  if [ -n "$PODMAN_ROOT" ]; then
    podman_cmd rm -af >/dev/null 2>&1
    podman_cmd rmi -af >/dev/null 2>&1
  fi
  # Anything still mounted under WORK lives only in this private namespace;
  # detach it before removing the tree.
  awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { # fail RUNTIME BENCHMARK MESSAGE-FILE-OR-TEXT [EXIT-STATUS]
  local msg=$3
  [ -f "$3" ] && msg=$(tr '\n' ' ' <"$3" | cut -c1-400)
  [ "${4:-}" = 124 ] || [ "${4:-}" = 137 ] && msg="timed out after ${BENCH_TIMEOUT}s (killed). $msg"
  printf '%s\t%s\t%s\n' "$1" "$2" "${msg:-failed with no message}" >>"$FAIL"
  say "FAILED: $1 $2: ${msg:-no message}"
}

# hyperfine in one invocation for all commands of one benchmark.
hf() { # hf NAME [hyperfine args and -n/command pairs...]
  local name=$1
  shift
  say "benchmark $name"
  timeout -k 10 "$BENCH_HF_TIMEOUT" hyperfine -N --style basic \
    --export-json "$RAW/hf-$name.json" "$@" >&2 ||
    fail all "$name" "hyperfine failed or timed out after ${BENCH_HF_TIMEOUT}s (exit $?)"
}

# The same benchmark in BENCH_ROUNDS hyperfine invocations, the order of the
# commands rotated each round, so that a noisy minute or the position in the
# invocation does not favour one runtime.  Commands: the global array `args`
# of (-n LABEL COMMAND) triples.  report.py pools the rounds.
hf_rounds() { # hf_rounds NAME [hyperfine args...]
  local name=$1 k i n=$((${#args[@]} / 3)) rot
  shift
  for k in $(seq "$BENCH_ROUNDS"); do
    rot=()
    for i in $(seq 0 $((n - 1))); do
      local j=$(((i + k - 1) % n))
      rot+=("${args[@]:$((j * 3)):3}")
    done
    hf "$name-$k" "$@" "${rot[@]}"
  done
}

# --------------------------------------------------------------------------
# The bundle: busybox-static rootfs, /bin/true, runc's default spec plus
# pid/ipc/uts/mount/net namespaces and memory + pids limits.
# --------------------------------------------------------------------------
mkdir -p "$ROOTFS"/{bin,proc,dev,sys,tmp,etc}
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in true sleep sh cat ls hostname grep tr echo; do ln -s busybox "$ROOTFS/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
B_TRUE=$WORK/bundle-true
B_SLEEP=$WORK/bundle-sleep
B_CHECK=$WORK/bundle-check
"$PY" "$HERE/bundle.py" "$B_TRUE" "$ROOTFS" /bin/true
"$PY" "$HERE/bundle.py" "$B_SLEEP" "$ROOTFS" /bin/sleep 1000000
# shellcheck disable=SC2016
"$PY" "$HERE/bundle.py" "$B_CHECK" "$ROOTFS" /bin/sh -c \
  'echo "pid=$$ hostname=$(hostname) memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max) netdevs=$(ls /sys/class/net | tr "\n" " ")"'
CHECK_WANT="pid=1 hostname=bench memory=67108864 pids=64 netdevs=lo "

# --------------------------------------------------------------------------
# Sanity: each runtime runs the bundle and applies namespaces and limits.
# A runtime whose `run` fails is left out of every benchmark (and reported).
# --------------------------------------------------------------------------
RUN_OK=()
: >"$RAW/checks.tsv"
for r in "${OCI_RUNTIMES[@]}"; do
  id=$(cid "$r" check)
  if out=$(tmo $(rt "$r") run --bundle "$B_CHECK" "$id" </dev/null 2>"$RAW/check-$r.err"); then
    if [ "$out" = "$CHECK_WANT" ]; then
      printf '%s\tok\t%s\n' "$r" "$out" >>"$RAW/checks.tsv"
    else
      printf '%s\tmismatch\t%s\n' "$r" "$out" >>"$RAW/checks.tsv"
      fail "$r" check "container saw '$out', expected '$CHECK_WANT'"
    fi
    if tmo $(rt "$r") run --bundle "$B_TRUE" "$id" </dev/null >/dev/null 2>"$RAW/check-$r.err"; then
      RUN_OK+=("$r")
    else
      fail "$r" run "$RAW/check-$r.err" $?
    fi
  else
    rc=$?
    printf '%s\tfailed\t%s\n' "$r" "$(tr '\n' ' ' <"$RAW/check-$r.err")" >>"$RAW/checks.tsv"
    fail "$r" run "$RAW/check-$r.err" $rc
  fi
  tmo $(rt "$r") delete --force "$id" >/dev/null 2>&1 </dev/null || true
done
FLOOR="unshare -fpimun --mount-proc true"
say "runtimes that run the bundle: ${RUN_OK[*]:-none}"

HF_COMMON=(--warmup "$BENCH_WARMUP" --min-runs "$BENCH_MIN_RUNS" "${HF_TIME[@]}")

# (1) run ------------------------------------------------------------------
args=()
for r in "${RUN_OK[@]}"; do
  args+=(-n "$r" "$(rt "$r") run --bundle $B_TRUE $(cid "$r" run)")
done
args+=(-n unshare "$FLOOR")
hf_rounds run "${HF_COMMON[@]}"

# (1b) run, isolated starts --------------------------------------------------
# Back-to-back starts keep the kernel's cgroup-attach RCU state warm; a start
# after an idle pause pays a full grace period on the first cgroup.procs
# write (see RESULTS.md).  Same commands, 100 ms of idle before each.
hf run-isolated --warmup 3 --runs "$BENCH_ISOLATED_RUNS" --prepare "sleep 0.1" "${args[@]}"

# (2) create + start + delete ---------------------------------------------
args=()
for r in "${RUN_OK[@]}"; do
  id=$(cid "$r" csd)
  R=$(rt "$r")
  if tmo sh -c "$R create --bundle $B_TRUE $id && $R start $id && $R delete --force $id" \
    </dev/null >/dev/null 2>"$RAW/csd-$r.err"; then
    args+=(-n "$r" "sh -c '$R create --bundle $B_TRUE $id && $R start $id && $R delete --force $id'")
  else
    fail "$r" create-start-delete "$RAW/csd-$r.err" $?
    tmo $R delete --force "$id" >/dev/null 2>&1 </dev/null || true
  fi
done
args+=(-n "sh + 3 × true" "sh -c '/bin/true && /bin/true && /bin/true'")
hf_rounds create-start-delete --warmup 5 --runs "$BENCH_CSD_RUNS"

# (3) N containers in sequence ----------------------------------------------
args=()
for r in "${RUN_OK[@]}"; do
  args+=(-n "$r" "sh -c 'i=0; while [ \$i -lt $BENCH_SEQ ]; do $(rt "$r") run --bundle $B_TRUE $(cid "$r" seq) </dev/null || exit 1; i=\$((i+1)); done'")
done
args+=(-n unshare "sh -c 'i=0; while [ \$i -lt $BENCH_SEQ ]; do $FLOOR </dev/null || exit 1; i=\$((i+1)); done'")
hf_rounds sequence --runs "$BENCH_SEQ_RUNS"

# (4) exec into a running container -----------------------------------------
args=()
for r in "${RUN_OK[@]}"; do
  id=$(cid "$r" exec)
  R=$(rt "$r")
  if tmo $R create --bundle "$B_SLEEP" "$id" </dev/null >/dev/null 2>"$RAW/exec-$r.err" &&
    tmo $R start "$id" </dev/null >/dev/null 2>>"$RAW/exec-$r.err" &&
    tmo $R exec "$id" /bin/true </dev/null >/dev/null 2>>"$RAW/exec-$r.err"; then
    args+=(-n "$r" "$R exec $id /bin/true")
  else
    fail "$r" exec "$RAW/exec-$r.err" $?
  fi
done
if [ ${#args[@]} -gt 0 ]; then
  hf_rounds exec "${HF_COMMON[@]}"
fi
for r in "${RUN_OK[@]}"; do tmo $(rt "$r") delete --force "$PFX-exec-$r" >/dev/null 2>&1 </dev/null || true; done

# (5) porcelain: husk run --rm busybox true vs podman run --rm ---------------
podman_cmd() {
  CONTAINERS_CONF=$PODMAN_ROOT/containers.conf \
    CONTAINERS_STORAGE_CONF=$PODMAN_ROOT/storage.conf \
    CONTAINERS_REGISTRIES_CONF=$PODMAN_ROOT/registries.conf \
    podman "$@"
}
# Private storage and config.  No static_dir/volume_path: conmon's exit
# command (`podman container cleanup --rm`) gets --root but not our
# storage.conf, and a static_dir outside the graph root makes it look in
# another database: "no such container", and `run --rm` waits 20 s.
podman_setup() {
  PODMAN_ROOT=$WORK/podman
  mkdir -p "$PODMAN_ROOT"/{graph,run,tmp}
  # Some state is kept at fixed paths whatever the config says (netavark's
  # IPAM database in /run/containers/networks, the blob-info cache, the
  # short-name alias cache): cover them with private directories, in this
  # private mount namespace only.
  local d
  for d in /run/containers /var/lib/containers /var/cache/containers; do
    if [ -d "$d" ]; then
      mkdir -p "$PODMAN_ROOT/shadow$d"
      mount --bind "$PODMAN_ROOT/shadow$d" "$d"
    fi
  done
  cat >"$PODMAN_ROOT/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PODMAN_ROOT/events.log"
lock_type = "file"
tmp_dir = "$PODMAN_ROOT/tmp"
runtime = "crun"
[network]
network_config_dir = "$PODMAN_ROOT/net"
EOF
  cat >"$PODMAN_ROOT/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PODMAN_ROOT/graph"
runroot = "$PODMAN_ROOT/run"
EOF
  echo 'unqualified-search-registries = []' >"$PODMAN_ROOT/registries.conf"
  tar -C "$ROOTFS" --numeric-owner -cf "$WORK/busybox.tar" .
  podman_cmd import "$WORK/busybox.tar" localhost/busybox:latest >/dev/null
}

HUSK_PORCELAIN=""
if [ -x "$HUSK" ] && "$HUSK" run --help >/dev/null 2>&1; then
  HUSK_PORCELAIN=1
fi
# Both run in a private network namespace of their own (lo up): neither
# husk's nor podman's bridge may touch the host's network.
NETNS=(unshare -n sh -c 'ip link set lo up && exec "$@"' sh)
if [ -z "$HUSK_PORCELAIN" ] && [ -z "${BENCH_FORCE_PORCELAIN:-}" ]; then
  say "benchmark porcelain SKIPPED: \`husk run\` is not available yet ($HUSK run --help fails)"
  echo "\`husk run\` is not available yet ($HUSK run --help fails)" >"$RAW/porcelain-skipped"
else
  args=()
  if [ -n "$HUSK_PORCELAIN" ]; then
    # Private state and image store; the busybox image is created from
    # busybox-static by the first run (the check below, not timed).
    H="$HUSK --root $WORK/state/husk-porcelain --data-root $WORK/husk-data"
    for net in none bridge; do
      label="husk run --network $net"
      if tmo "${NETNS[@]}" $H run --rm --network $net busybox true </dev/null >/dev/null 2>"$RAW/porcelain-husk.err"; then
        args+=(-n "$label" "$H run --rm --network $net busybox true")
      else
        fail husk "porcelain ($label)" "$RAW/porcelain-husk.err" $?
      fi
    done
  else
    echo "\`husk run\` is not available yet ($HUSK run --help fails); podman measured alone" >"$RAW/porcelain-skipped"
  fi
  if command -v podman >/dev/null && podman_setup 2>"$RAW/podman-setup.err"; then
    P="env CONTAINERS_CONF=$PODMAN_ROOT/containers.conf CONTAINERS_STORAGE_CONF=$PODMAN_ROOT/storage.conf CONTAINERS_REGISTRIES_CONF=$PODMAN_ROOT/registries.conf podman"
    for net in none bridge; do
      label="podman run --network $net"
      if tmo "${NETNS[@]}" $P run --rm --network $net busybox true </dev/null >/dev/null 2>"$RAW/porcelain-podman.err"; then
        args+=(-n "$label" "$P run --rm --network $net busybox true")
      else
        fail podman "porcelain ($label)" "$RAW/porcelain-podman.err" $?
      fi
    done
  else
    fail podman porcelain "podman missing or its setup failed: $(tr '\n' ' ' <"$RAW/podman-setup.err" 2>/dev/null)"
  fi
  if [ ${#args[@]} -gt 0 ]; then
    say "benchmark porcelain (in a private network namespace)"
    timeout -k 10 "$BENCH_HF_TIMEOUT" "${NETNS[@]}" \
      hyperfine -N --style basic --export-json "$RAW/hf-porcelain.json" \
      --warmup 2 --runs "$BENCH_PORCELAIN_RUNS" "${args[@]}" >&2 ||
      fail all porcelain "hyperfine failed"
  fi
fi

# (6) syscalls per start: husk-trace --json, and strace -f -c ----------------
start_cmd() { # the single-start command line of a runtime (or the floor)
  if [ "$1" = unshare ]; then echo "$FLOOR"; else echo "$(rt "$1") run --bundle $B_TRUE $(cid "$1" sys)"; fi
}
say "syscall profile (strace -f -c, $BENCH_SAMPLES samples each${HUSK_TRACE:+, and husk-trace})"
for r in "${RUN_OK[@]}" unshare; do
  cmd=$(start_cmd "$r")
  for i in $(seq "$BENCH_SAMPLES"); do
    tmo strace -f -c -o "$RAW/strace-sys-$r-$i.txt" $cmd </dev/null >/dev/null 2>&1 ||
      fail "$r" strace "strace -f -c $cmd failed"
    tmo strace -f -c -w -o "$RAW/strace-wall-$r-$i.txt" $cmd </dev/null >/dev/null 2>&1 || true
    if [ -n "$HUSK_TRACE" ]; then
      tmo "$HUSK_TRACE" --json -o "$RAW/trace-$r-$i.json" -- $cmd </dev/null >/dev/null 2>"$RAW/trace-$r.err" ||
        { fail "$r" husk-trace "$RAW/trace-$r.err" $?; rm -f "$RAW/trace-$r-$i.json"; }
    fi
  done
done
[ -n "$HUSK_TRACE" ] || echo "husk-trace not built (looked in $BUILD/runtime, $BUILD/ebpf and $BUILD)" >"$RAW/trace-skipped"

# Peak RSS of one start ------------------------------------------------------
say "peak RSS (/usr/bin/time, $BENCH_RSS_SAMPLES samples each)"
for r in "${RUN_OK[@]}" unshare; do
  cmd=$(start_cmd "$r")
  for i in $(seq "$BENCH_RSS_SAMPLES"); do
    tmo /usr/bin/time -f %M -a -o "$RAW/rss-$r.txt" $cmd </dev/null >/dev/null 2>&1 ||
      fail "$r" rss "/usr/bin/time $cmd failed"
  done
done

# --------------------------------------------------------------------------
# Metadata and the report.
# --------------------------------------------------------------------------
ver() { "$@" 2>/dev/null | head -1 || true; }
{
  echo "tag=$BENCH_TAG"
  echo "date=$(date -Is)"
  echo "host=$(hostname -s)"
  echo "kernel=$(uname -r)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "ncpu=$(nproc)"
  echo "cgroups=$CGROUP_NOTE"
  echo "hyperfine=$(ver hyperfine --version)"
  echo "crun=$(ver crun --version)"
  echo "runc=$(ver runc --version)"
  echo "podman=$(ver podman --version)"
  echo "strace=$(ver strace -V)"
  echo "husk_oci=$([ -x "$HUSK_OCI" ] && echo "$HUSK_OCI" || echo "not built")"
  [ -x "$HUSK_OCI" ] && echo "husk_version=$(ver "$HUSK_OCI" --version)"
  [ -x "$HUSK_OCI" ] && echo "husk_binary=$(stat -L -c %s "$HUSK_OCI") bytes, $(file -bL "$HUSK_OCI" | grep -oE 'statically linked|dynamically linked|static-pie linked' | head -1)"
  echo "husk_trace=${HUSK_TRACE:-not built}"
  echo "git=$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo none)$( [ -n "$(git -C "$HERE/.." status --porcelain 2>/dev/null | head -1)" ] && echo ' (dirty tree)')"
  echo "min_runs=$BENCH_MIN_RUNS"
  echo "warmup=$BENCH_WARMUP"
  echo "rounds=$BENCH_ROUNDS"
  echo "seq=$BENCH_SEQ"
  echo "seq_runs=$BENCH_SEQ_RUNS"
  echo "samples=$BENCH_SAMPLES"
  echo "rss_samples=$BENCH_RSS_SAMPLES"
  echo "quick=${BENCH_QUICK:-}"
  echo "elapsed_s=$(($(date +%s) - T0))"
  echo "load_start=$LOAD_START"
  echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RAW/meta.txt"

mkdir -p "$HERE/results"
if [ -n "${BENCH_KEEP_RAW:-}" ]; then
  mkdir -p "$BENCH_KEEP_RAW" && cp -a "$RAW/." "$BENCH_KEEP_RAW/"
fi
"$PY" "$HERE/report.py" "$RAW" "$HERE/results/$BENCH_TAG"
say "done in $(($(date +%s) - T0)) s: $HERE/results/$BENCH_TAG.{md,json,png}"
