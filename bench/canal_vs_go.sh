#!/usr/bin/env bash
# Interleaved canal-vs-Go runs: for every (bench, workers, repeat) run Go's peer and then
# canal_bench back to back, so both see the same background load (on a shared 2-vCPU machine
# the load moves within minutes, and run_all.sh measures each peer minutes apart).
# Output: raw lines in the peers' format (+ header) for bench/compare.py.
#
#   REPEAT=5 bench/canal_vs_go.sh > /tmp/cvg.txt
#   python3 bench/compare.py /tmp/cvg.txt --markdown
#
# Sizes: the peers' env vars with bench/peers/run_all.sh's defaults. CANAL and GO default to the
# binaries bench/run_peers.sh leaves in $PEERS_OUT/build (default ${TMPDIR:-/tmp}/canal-peers).
set -uo pipefail
OUT="${PEERS_OUT:-${TMPDIR:-/tmp}/canal-peers}"
CANAL="${CANAL:-$OUT/build/canal_bench}"
GO="${GO:-$OUT/build/peer_go}"
: "${BENCHES:=pingpong spawn_join skynet chan_spsc chan_mpmc select_fanin timers idle_memory}"
: "${WORKERS_LIST:=1 2}"
: "${REPEAT:=5}"
: "${TIMEOUT:=300}"
export PINGPONG_N="${PINGPONG_N:-1000000}" SPAWN_N="${SPAWN_N:-100000}"
export SKYNET_N="${SKYNET_N:-1000000}" SPSC_N="${SPSC_N:-10000000}" MPMC_N="${MPMC_N:-10000000}"
export SELECT_N="${SELECT_N:-2000000}" CHAN_CAP="${CHAN_CAP:-1024}" TIMERS_N="${TIMERS_N:-100000}"
export IDLE_N="${IDLE_N:-100000}" ECHO_CLIENTS="${ECHO_CLIENTS:-100}"
export ECHO_ROUNDS="${ECHO_ROUNDS:-2000}" ECHO_MSG="${ECHO_MSG:-64}"
[[ -x $GO ]] || { echo "no Go peer at $GO (run bench/run_peers.sh once, or build it: (cd bench/peers/go && go build -o $GO .), or set GO=)" >&2; exit 1; }
[[ -x $CANAL ]] || { echo "no canal_bench at $CANAL (run bench/run_peers.sh once, or set CANAL=)" >&2; exit 1; }

echo "# date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) kernel=$(uname -r) mode=interleaved-canal-vs-go"
echo "# cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "# $(go version 2>/dev/null) ; sizes: PINGPONG_N=$PINGPONG_N SPAWN_N=$SPAWN_N SKYNET_N=$SKYNET_N SPSC_N=$SPSC_N MPMC_N=$MPMC_N SELECT_N=$SELECT_N CHAN_CAP=$CHAN_CAP TIMERS_N=$TIMERS_N IDLE_N=$IDLE_N REPEAT=$REPEAT"
one() { # peer cmd bench workers
  local out rc
  out="$(timeout "$TIMEOUT" "$2" "$3" "$4" 2>&1)"
  rc=$?
  grep '^bench=' <<<"$out"
  if ((rc != 0)); then
    echo "bench=$3 peer=$1 workers=$4 value=FAIL unit=- note=rc_$rc"
    grep -v '^bench=' <<<"$out" | tail -5 | sed 's/^/#    /'
  fi
}
for bench in $BENCHES; do
  for w in $WORKERS_LIST; do
    for ((r = 0; r < REPEAT; r++)); do
      one go "$GO" "$bench" "$w"
      one canal "$CANAL" "$bench" "$w"
    done
  done
done
