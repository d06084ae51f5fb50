#!/usr/bin/env bash
# Smoke test of micro_bench: all micro-benchmarks with tiny iteration counts, 1 and 2 workers.
# Usage (by Bazel): micro_bench_smoke_test.sh path/to/micro_bench
set -u
bin="${1:?usage: micro_bench_smoke_test.sh path/to/micro_bench}"
export MICRO_SCALE=0.001 MICRO_REPEAT=1
failures=0
want=(yield_switch park_ready_roundtrip chan_buffered_sendrecv chan_unbuffered_roundtrip
  select_ready_1 select_ready_2 select_ready_4 select_ready_8
  select_park_1 select_park_2 select_park_4 select_park_8 spawn_join steal_first steal_batch)
for w in 1 2; do
  out="$(timeout 120 "$bin" "$w" 2>"${TEST_TMPDIR:-/tmp}/stderr")"
  rc=$?
  echo "$out"
  if ((rc != 0)); then
    echo "FAIL: micro_bench $w exited $rc; stderr:" >&2
    cat "${TEST_TMPDIR:-/tmp}/stderr" >&2
    failures=$((failures + 1))
    continue
  fi
  for name in "${want[@]}"; do
    grep -Eq "^bench=micro_$name peer=canal workers=[0-9]+ value=([0-9.eE+-]+|NA) unit=ns/op( |$)" <<<"$out" || {
      echo "FAIL: w=$w: no valid line for micro_$name" >&2
      failures=$((failures + 1))
    }
  done
done
if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "PASS"
