#!/usr/bin/env bash
# Run every cmocka unit test of a (non-sanitizer) build under valgrind:
# any memory error or definite leak fails.
set -uo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")/.." && pwd)
export HUSK_TEST_DATA="$HERE/harness/unit/data"
# valgrind 3.19 (Debian 12) does not know openat2, fsopen/fsmount or seccomp:
# these tests exercise exactly those calls, so valgrind cannot run them (they
# run under ASan/UBSan in `make unit`).
SKIP=" test_paths test_porcelain_spec test_porcelain_store test_seccomp "
fail=0
n=0
for t in "$BUILD"/harness/test_* "$BUILD"/ebpf/test_trace; do
  [ -x "$t" ] || continue
  case "$SKIP" in *" $(basename "$t") "*)
    echo "valgrind: $(basename "$t") skipped (uses syscalls valgrind 3.19 does not know)"
    continue ;;
  esac
  n=$((n + 1))
  log=$(mktemp)
  if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      "$t" >"$log" 2>&1; then
    echo "valgrind: $(basename "$t") ok"
  else
    echo "valgrind: $(basename "$t") FAILED"
    cat "$log"
    fail=$((fail + 1))
  fi
  rm -f "$log"
done
echo "valgrind: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
