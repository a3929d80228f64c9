#!/usr/bin/env bash
# Build husk's libFuzzer targets with clang (ASan + UBSan) into build-fuzz and
# run each for SECONDS (default 60) on its seed corpus in fuzz/corpus/<target>.
# New inputs go to build-fuzz/corpus/<target>; crashes to build-fuzz/crashes/.
# Exit status: non-zero if a target found a crash/leak or failed to build.
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
secs=${1:-60}
shift || true
build=${HUSK_FUZZ_BUILD:-$repo/build-fuzz}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(spec process seccomp reference oci_cli extract manifest)

command -v clang >/dev/null || { echo "fuzz/run.sh: clang not installed (apt-get install clang)" >&2; exit 2; }
CC=clang cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

status=0
mkdir -p "$build/crashes"
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  echo "== fuzz_$t: ${secs}s"
  extra=()
  [ "$t" = oci_cli ] && extra=(-close_fd_mask=3)
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$build/crashes/$t-" -print_final_stats=1 "${extra[@]}" \
      "$work" "$here/corpus/$t" >"$build/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t: FOUND A PROBLEM (see $build/fuzz_$t.log, $build/crashes/$t-*)" >&2
    tail -n 40 "$build/fuzz_$t.log" >&2
    status=1
  else
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$build/fuzz_$t.log" | tail -n 2 || true
  fi
done
exit $status
