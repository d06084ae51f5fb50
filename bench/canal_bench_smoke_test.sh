#!/usr/bin/env bash
# Smoke test of canal_bench: every benchmark, tiny sizes, 1 and 2 workers. Checks the exit
# status and that the output is exactly the peers' line format with peer=canal.
# Usage (by Bazel): canal_bench_smoke_test.sh path/to/canal_bench
set -u
bin="${1:?usage: canal_bench_smoke_test.sh path/to/canal_bench}"
export PINGPONG_N=1000 SPAWN_N=1000 SKYNET_N=1000 SPSC_N=10000 MPMC_N=10000 SELECT_N=10000
export CHAN_CAP=64 TIMERS_N=1000 IDLE_N=1000 ECHO_CLIENTS=4 ECHO_ROUNDS=10 ECHO_MSG=64
export MUTEX_N=8000 MUTEX_TASKS=8

num='[0-9.eE+-]+'
failures=0
check_lines() { # bench workers output -> expected bench names
  local bench=$1 w=$2 out=$3
  shift 3
  local want
  for want in "$@"; do
    local line
    line="$(grep "^bench=$want " <<<"$out")"
    if [[ -z $line ]]; then
      echo "FAIL: $bench w=$w: no line for $want" >&2
      failures=$((failures + 1))
      continue
    fi
    if [[ $bench == tcp_echo ]]; then
      [[ $line =~ ^bench=tcp_echo\ peer=canal\ workers=$w\ value=NA\ unit=ops/s\ note=[a-z_]+$ ]] || {
        echo "FAIL: $bench w=$w: bad line: $line" >&2
        failures=$((failures + 1))
      }
      continue
    fi
    if ! [[ $line =~ ^bench=$want\ peer=canal\ workers=$w\ value=($num)\ unit=(ns/op|ms|bytes|ops/s)\ n=[0-9]+$ ]]; then
      echo "FAIL: $bench w=$w: bad line: $line" >&2
      failures=$((failures + 1))
    fi
  done
  # Nothing else on stdout.
  local extra
  extra="$(grep -v '^bench=' <<<"$out")"
  if [[ -n $extra ]]; then
    echo "FAIL: $bench w=$w: unexpected output: $extra" >&2
    failures=$((failures + 1))
  fi
}

for w in 1 2; do
  for bench in pingpong spawn_join skynet chan_spsc chan_mpmc select_fanin timers idle_memory tcp_echo mutex; do
    start=$SECONDS
    out="$(timeout 120 "$bin" "$bench" "$w" 2>"${TEST_TMPDIR:-/tmp}/stderr")"
    rc=$?
    echo "$out"
    if ((rc != 0)); then
      echo "FAIL: $bench w=$w exited $rc; stderr:" >&2
      cat "${TEST_TMPDIR:-/tmp}/stderr" >&2
      failures=$((failures + 1))
      continue
    fi
    case $bench in
    skynet) check_lines "$bench" "$w" "$out" skynet skynet_maxrss ;;
    timers) check_lines "$bench" "$w" "$out" timers timers_overshoot_mean timers_overshoot_p99 ;;
    *) check_lines "$bench" "$w" "$out" "$bench" ;;
    esac
    echo "  ($bench w=$w: $((SECONDS - start)) s)"
  done
done

# Bad usage must fail.
if "$bin" no_such_bench 1 >/dev/null 2>&1; then
  echo "FAIL: unknown bench accepted" >&2
  failures=$((failures + 1))
fi
if "$bin" pingpong 0 >/dev/null 2>&1; then
  echo "FAIL: workers=0 accepted" >&2
  failures=$((failures + 1))
fi
# A wrong size must be rejected (skynet needs a power of 10).
if SKYNET_N=999 "$bin" skynet 1 >/dev/null 2>&1; then
  echo "FAIL: SKYNET_N=999 accepted" >&2
  failures=$((failures + 1))
fi

if ((failures)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "PASS"
