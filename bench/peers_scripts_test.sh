#!/usr/bin/env bash
# Test of the peer-benchmark scripts (no network, no Go, no benchmark run; well under a second):
#   * bench/run_peers.sh, bench/peers/run_all.sh and bench/canal_vs_go.sh parse (bash -n) and
#     name no path outside the repository;
#   * bench/peers/table.py and bench/compare.py turn the checked-in sample raw file into exactly
#     the checked-in tables (medians of repeats, n= of smaller runs, N/A, FAIL, machine floors,
#     canal/Go ratios with targets and verdicts).
# Usage (by Bazel): peers_scripts_test.sh RUN_PEERS RUN_ALL CANAL_VS_GO TABLE_PY COMPARE_PY \
#                     SAMPLE_RAW EXPECTED_TABLE EXPECTED_RATIO
set -u
if (($# != 8)); then
  echo "usage: $0 RUN_PEERS RUN_ALL CANAL_VS_GO TABLE_PY COMPARE_PY SAMPLE_RAW EXPECTED_TABLE EXPECTED_RATIO" >&2
  exit 2
fi
run_peers=$1 run_all=$2 canal_vs_go=$3 table_py=$4 compare_py=$5 raw=$6 want_table=$7 want_ratio=$8
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for s in "$run_peers" "$run_all" "$canal_vs_go"; do
  bash -n "$s" || fail "$s does not parse"
  if grep -n -E '/wor[k]/|\.\./shared' "$s"; then fail "$s names a path outside the repository"; fi
done
# run_peers.sh must hand canal to run_all.sh and print the ratio table from the same raw file.
grep -q 'bench/peers/run_all.sh' "$run_peers" || fail "run_peers.sh does not run bench/peers/run_all.sh"
grep -q 'bench/compare.py' "$run_peers" || fail "run_peers.sh does not print the ratio table"

check_output() { # name expected command...
  local name=$1 want=$2
  shift 2
  if ! "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
    fail "$name exited non-zero:"
    cat "$tmp/$name.err" >&2
    return
  fi
  if ! diff -u "$want" "$tmp/$name.out" >&2; then fail "$name: output differs from $want"; fi
}
check_output table "$want_table" python3 "$table_py" "$raw"
check_output ratio "$want_ratio" python3 "$compare_py" "$raw"

# Markdown mode: a header row, a separator row and one row per (bench, workers).
python3 "$table_py" "$raw" --markdown >"$tmp/table.md" || fail "table.py --markdown exited non-zero"
grep -qxF '| bench | workers | unit | go | thread | gevent | canal |' "$tmp/table.md" ||
  fail "table.py --markdown: no header row"
[[ $(grep -c '^| pingpong | ' "$tmp/table.md") == 4 ]] || fail "table.py --markdown: want 4 pingpong rows (results + spread)"

# No arguments: usage, non-zero exit.
if python3 "$table_py" >/dev/null 2>&1; then fail "table.py without arguments exited 0"; fi

if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "PASS"
