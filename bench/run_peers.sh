#!/usr/bin/env bash
# bench/run_peers.sh: canal beside its peers (Go, Boost.Fiber, std::thread, gevent), from this
# repository alone. The tables of BENCHMARKS.md come from this script.
#   1. builds //bench:canal_bench with `bazel -c opt` (through ./bazelw) and copies the binary
#      out of bazel-out/k8-opt (the bazel-bin symlink follows whatever was built last);
#   2. runs bench/peers/run_all.sh with canal as an extra peer (it installs missing Debian
#      packages, builds the peers from bench/peers/{go,cpp,gevent}, runs every cell REPEAT times
#      and prints the peers' table);
#   3. prints canal beside the peers with the canal/Go ratio, target and verdict of every row and
#      worker count (bench/compare.py).
#
#   bench/run_peers.sh                                      # everything: ~6-8 minutes on 2 vCPUs
#   PEERS="go canal" BENCHES="pingpong select_fanin" REPEAT=1 bench/run_peers.sh   # a quick subset
#
# Environment (all optional): everything bench/peers/run_all.sh reads (PEERS, BENCHES,
# WORKERS_LIST, REPEAT, REPEAT_HEAVY, TIMEOUT, PHYS, the *_N sizes; see bench/peers/README.md),
# plus
#   PEERS_OUT    where builds and results go (default ${TMPDIR:-/tmp}/canal-peers); nothing is
#                written into the source tree but Bazel's usual bazel-* symlinks
#   CANAL_BENCH  an already built canal_bench to use instead of building one
#   BAZEL_FLAGS  extra flags for the bazel build, e.g. "--jobs=2"
# BENCHES defaults to the ten benchmarks canal_bench implements (run_all.sh's own default
# adds http_hello, which canal_bench does not implement yet).
# Results: $PEERS_OUT/results/{raw,table,ratio}-<stamp>.{txt,md}.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PEERS_OUT="${PEERS_OUT:-${TMPDIR:-/tmp}/canal-peers}"
export PEERS="${PEERS:-go boostfiber thread gevent canal}"
export BENCHES="${BENCHES:-pingpong spawn_join skynet chan_spsc chan_mpmc select_fanin timers idle_memory tcp_echo mutex}"
export STAMP="${STAMP:-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$PEERS_OUT/build" "$PEERS_OUT/results" || exit 1

if [[ -z "${CANAL_BENCH:-}" ]]; then
  echo "building //bench:canal_bench (-c opt)..."
  # shellcheck disable=SC2086
  (cd "$ROOT" && ./bazelw build -c opt ${BAZEL_FLAGS:-} //bench:canal_bench) || exit 1
  CANAL_BENCH="$PEERS_OUT/build/canal_bench"
  cp -f "$ROOT/bazel-out/k8-opt/bin/bench/canal_bench" "$CANAL_BENCH" || exit 1
fi
[[ -x "$CANAL_BENCH" ]] || { echo "run_peers: no canal_bench at $CANAL_BENCH" >&2; exit 1; }
export PEER_CMD_canal="$CANAL_BENCH"

bash "$ROOT/bench/peers/run_all.sh" || exit 1

RAW="$PEERS_OUT/results/raw-$STAMP.txt"
echo
echo "canal/Go per row and worker count:"
echo
python3 "$ROOT/bench/compare.py" "$RAW" | tee "$PEERS_OUT/results/ratio-$STAMP.txt"
python3 "$ROOT/bench/compare.py" "$RAW" --markdown >"$PEERS_OUT/results/ratio-$STAMP.md"
echo "ratio table: $PEERS_OUT/results/ratio-$STAMP.txt (.md for BENCHMARKS.md)"
