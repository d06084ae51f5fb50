#!/usr/bin/env bash
# Passes only if the racy canary binary makes ThreadSanitizer report a data
# race, i.e. only under --config=tsan. Usage (by Bazel): tsan_canary_test.sh BIN
set -u
bin="${1:?usage: tsan_canary_test.sh path/to/tsan_canary}"
err="${TEST_TMPDIR:-/tmp}/tsan_canary.stderr"

# Report every race, keep going after the first one, and don't let TSan's exit
# code decide: the verdict is the report itself.
export TSAN_OPTIONS="${TSAN_OPTIONS:-}:halt_on_error=0:exitcode=0"

"$bin" 2>"$err"
rc=$?
cat "$err" >&2
echo "tsan_canary exited with status $rc" >&2

if grep -q "WARNING: ThreadSanitizer: data race" "$err"; then
  echo "PASS: ThreadSanitizer reported the deliberate data race."
  exit 0
fi
echo "FAIL: no 'WARNING: ThreadSanitizer: data race' in the canary's stderr" >&2
echo "      (was it built with --config=tsan? did both greenlets run on one worker?)" >&2
exit 1
