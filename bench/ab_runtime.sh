#!/usr/bin/env bash
# Interleaved A/B of two canal_bench binaries beside Go's peer: for every (bench, workers,
# repeat) it runs Go, then BEFORE, then AFTER back to back, so all three see the same background
# load; lines are the peers' format with peer=go|before|after. Table: bench/ab_table.py RAW.
#
#   git worktree add /tmp/canal-before <old-commit> && (cd /tmp/canal-before && ./bazelw build -c opt //bench:canal_bench)
#   BEFORE=/tmp/canal-before/bazel-out/k8-opt/bin/bench/canal_bench \
#   AFTER=$PWD/bazel-out/k8-opt/bin/bench/canal_bench GO=<peer_go built by bench/run_peers.sh> \
#   bench/ab_runtime.sh > raw.txt && python3 bench/ab_table.py raw.txt
set -uo pipefail
: "${BEFORE:?path of the old canal_bench}" "${AFTER:?path of the new canal_bench}"
GO="${GO:-${PEERS_OUT:-${TMPDIR:-/tmp}/canal-peers}/build/peer_go}"
: "${BENCHES:=pingpong spawn_join skynet chan_spsc chan_mpmc select_fanin timers idle_memory mutex}"
: "${REPEAT:=3}"
export PINGPONG_N="${PINGPONG_N:-1000000}" SPAWN_N="${SPAWN_N:-100000}" SKYNET_N="${SKYNET_N:-1000000}"
export SPSC_N="${SPSC_N:-10000000}" MPMC_N="${MPMC_N:-10000000}" SELECT_N="${SELECT_N:-2000000}"
export CHAN_CAP="${CHAN_CAP:-1024}" TIMERS_N="${TIMERS_N:-100000}" IDLE_N="${IDLE_N:-100000}"
export MUTEX_N="${MUTEX_N:-2000000}" MUTEX_TASKS="${MUTEX_TASKS:-8}"
for b in $BENCHES; do
  for w in 1 2; do
    for ((r = 1; r <= REPEAT; r++)); do
      [[ -x $GO ]] && timeout 300 "$GO" "$b" "$w" 2>/dev/null
      timeout 300 "$BEFORE" "$b" "$w" 2>/dev/null | sed 's/peer=canal/peer=before/'
      timeout 300 "$AFTER" "$b" "$w" 2>/dev/null | sed 's/peer=canal/peer=after/'
    done
  done
done
