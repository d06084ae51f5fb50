#!/usr/bin/env bash
# run_example.sh BINARY [EXPECTED_OUTPUT [SCALE]]
#
# Runs one example the way its test wants it (used by the sh_tests in examples/BUILD):
#   * every sleep/timeout is scaled by CANAL_EXAMPLE_SCALE=SCALE (default 0.05: 20x faster);
#   * the example must exit 0 (they check their own results);
#   * with EXPECTED_OUTPUT, stdout must equal that file exactly (stderr is free-form).
set -u
bin="${1:?usage: run_example.sh BINARY [EXPECTED_OUTPUT [SCALE]]}"
expected="${2:-}"
export CANAL_EXAMPLE_SCALE="${3:-0.05}"

out="${TEST_TMPDIR:-/tmp}/$(basename "$bin").stdout"
"$bin" >"$out"
rc=$?
echo "---- stdout of $(basename "$bin") (CANAL_EXAMPLE_SCALE=$CANAL_EXAMPLE_SCALE) ----"
cat "$out"
echo "---- exit status $rc ----"

if [[ $rc -ne 0 ]]; then
  echo "FAIL: $(basename "$bin") exited with status $rc" >&2
  exit 1
fi
if [[ -n "$expected" ]]; then
  if ! diff -u "$expected" "$out"; then
    echo "FAIL: stdout differs from $expected (diff above: - expected, + actual)" >&2
    exit 1
  fi
fi
echo "PASS"
