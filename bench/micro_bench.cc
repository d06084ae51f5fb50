// micro_bench: micro-benchmarks of canal's building blocks, one number per line:
//
//   bench=micro_<name> peer=canal workers=<n> value=<ns> unit=ns/op n=<iterations>
//
//   bazel build -c opt //bench:micro_bench
//   bazel-out/k8-opt/bin/bench/micro_bench [workers] [name-prefix...]
//
// workers (default 1) is canal::options::workers for every micro-benchmark except steal_*, which
// always runs with max(2, workers) workers. Name prefixes select a subset (e.g. `micro_bench 1
// select`). MICRO_SCALE (default 1.0) multiplies every iteration count; MICRO_REPEAT (default 3)
// is the number of timed trials per benchmark, the reported value is the fastest trial (the
// steal_* values are medians over rounds instead, see bench_steal()).
//
//   yield_switch           two greenlets yield to each other: ns per yield (= per switch)
//   park_ready_roundtrip   two greenlets park and ready each other through runtime/park.hpp
//                          (begin_wait/block/try_claim/wake): ns per round trip (2 parks, 2 readies)
//   chan_buffered_sendrecv one greenlet send()s then recv()s on a buffered channel: ns per pair
//   chan_unbuffered_roundtrip  two greenlets, send/recv both ways on unbuffered channels: ns per
//                          round trip (the baseline for select_park_<k>)
//   select_ready_<k>       select over k receive cases that are all ready (k buffered channels,
//                          prefilled): ns per select
//   select_park_<k>        select over k empty unbuffered channels; another greenlet sends on one
//                          (round robin) and waits for an ack on an unbuffered channel: ns per
//                          iteration = park + wake in select + one unbuffered ack; compare with
//                          chan_unbuffered_roundtrip (the same shape with a plain recv)
//   spawn_join             canal::go(empty).join() in a loop: ns per spawn + join
//   steal_first            2 workers: time from spawning a batch to the first of its greenlets
//                          running on the other worker (median over rounds, ns)
//   steal_batch            same rounds: time until all of the batch ran, per greenlet (ns)
//   steal_stalled_one      a batch of one greenlet (below the steal backlog): time until the
//                          other worker sees the spawner's worker stalled and takes it (ns;
//                          bounded by the 50 µs stall rule and the idle worker's 1 ms watch)
#include <canal/canal.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_util.hpp"

#if __has_include("runtime/park.hpp")
#include "runtime/park.hpp"
#define CANAL_BENCH_HAVE_PARK 1
#else
#define CANAL_BENCH_HAVE_PARK 0
#endif

namespace {

using canal_bench::check;
using canal_bench::clock;
using canal_bench::elapsed_ns;
using canal_bench::fail;

int g_workers = 1;
double g_scale = 1.0;
int g_repeat = 3;
std::vector<std::string> g_filter;

long scaled(long n) {
  const long s = static_cast<long>(static_cast<double>(n) * g_scale);
  return s < 1 ? 1 : s;
}

bool selected(std::string_view name) {
  if (g_filter.empty()) return true;
  for (const auto& f : g_filter) {
    if (name.substr(0, f.size()) == f) return true;
  }
  return false;
}

// run_trials(name, n, ops_per_iter, body): body(n) runs one timed trial inside the runtime and
// returns its duration in ns; reports the fastest of g_repeat trials divided by n * ops.
void run_trials(const std::string& name, long n, double ops_per_iter,
                const std::function<double(long)>& body) {
  if (!selected(name)) return;
  double best = 0;
  for (int r = 0; r < g_repeat; ++r) {
    const double ns = body(n);
    if (r == 0 || ns < best) best = ns;
  }
  canal_bench::report(("micro_" + name).c_str(), g_workers,
                      best / (static_cast<double>(n) * ops_per_iter), "ns/op", n);
}

// ---------------------------------------------------------------------------- yield_switch
double trial_yield(long n) {
  std::atomic<long> turns{0};
  auto body = [n, &turns] {
    long mine = 0;  // counted locally: an atomic RMW per turn would cost as much as the switch
    for (long i = 0; i < n; ++i) {
      ++mine;
      canal::this_task::yield();
    }
    turns.fetch_add(mine, std::memory_order_relaxed);
  };
  const auto t0 = clock::now();
  auto a = canal::go(body);
  auto b = canal::go(body);
  a.join();
  b.join();
  const double ns = elapsed_ns(t0);
  check(turns.load() == 2 * n, "yield_switch: wrong number of turns");
  return ns;
}

// ---------------------------------------------------------------------------- park_ready
#if CANAL_BENCH_HAVE_PARK
namespace cd = canal::detail;

// One side's published wait: the parker and (epoch + 1); 0 = nothing to wake.
struct wait_slot {
  std::atomic<cd::parker*> p{nullptr};
  std::atomic<std::uint64_t> epoch1{0};
  std::atomic<bool> finished{false};

  void publish(cd::wait_ticket t) {
    p.store(t.p, std::memory_order_relaxed);
    epoch1.store(static_cast<std::uint64_t>(t.epoch) + 1, std::memory_order_release);
  }
  // take_and_wake(): readies the published waiter, if any (each published wait is woken once).
  void take_and_wake() {
    const std::uint64_t e = epoch1.exchange(0, std::memory_order_acq_rel);
    if (e == 0) return;
    cd::parker* pp = p.load(std::memory_order_relaxed);
    if (cd::try_claim(pp, static_cast<std::uint32_t>(e - 1), cd::parker::tok_signal)) cd::wake(pp);
  }
};

// Each side per iteration: open a wait, publish it, ready the other side's published wait,
// park. So every iteration of A is one round trip A -> B -> A with two parks and two readies.
double trial_park_ready(long n) {
  wait_slot sa, sb;
  auto side = [n](wait_slot& mine, wait_slot& other) {
    for (long i = 0; i < n; ++i) {
      const cd::wait_ticket t = cd::begin_wait();
      mine.publish(t);
      other.take_and_wake();
      cd::block(t, nullptr, 0, canal::detail::block_forever, "micro_bench park_ready");
    }
    mine.finished.store(true, std::memory_order_release);
    // The other side may still be parked on a wait nobody will take otherwise.
    while (!other.finished.load(std::memory_order_acquire)) {
      other.take_and_wake();
      canal::this_task::yield();
    }
  };
  const auto t0 = clock::now();
  auto a = canal::go([&] { side(sa, sb); });
  auto b = canal::go([&] { side(sb, sa); });
  a.join();
  b.join();
  return elapsed_ns(t0);
}
#endif

// ---------------------------------------------------------------------------- channels
double trial_buffered(long n) {
  canal::chan<long> c(64);
  const auto t0 = clock::now();
  for (long i = 0; i < n; ++i) {
    c.send(i);
    const std::optional<long> v = c.recv();
    if (!v || *v != i) fail("chan_buffered_sendrecv: wrong value");
  }
  return elapsed_ns(t0);
}

double trial_unbuffered(long n) {
  canal::chan<long> c1(0), c2(0);
  const auto t0 = clock::now();
  auto a = canal::go([c1, c2, n] {
    for (long i = 0; i < n; ++i) {
      c1.send(i);
      const std::optional<long> v = c2.recv();
      if (!v || *v != i) fail("chan_unbuffered_roundtrip: wrong value");
    }
  });
  auto b = canal::go([c1, c2, n] {
    for (long i = 0; i < n; ++i) c2.send(*c1.recv());
  });
  a.join();
  b.join();
  return elapsed_ns(t0);
}

// ---------------------------------------------------------------------------- select
template <std::size_t K, std::size_t... I>
std::size_t select_recv(const std::array<canal::chan<int>, K>& chs, long& sum,
                        std::index_sequence<I...>) {
  auto add = [&sum](std::optional<int> v) {
    if (!v) fail("select: channel closed");
    sum += *v;
  };
  return canal::select(canal::on_recv(chs[I], add)...);
}

template <std::size_t K>
double trial_select_ready(long n) {
  std::array<canal::chan<int>, K> chs;
  for (auto& c : chs) {
    c = canal::chan<int>(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i) c.send(1);  // never runs dry, whichever case is picked
  }
  long sum = 0;
  const auto t0 = clock::now();
  for (long i = 0; i < n; ++i) select_recv<K>(chs, sum, std::make_index_sequence<K>{});
  const double ns = elapsed_ns(t0);
  check(sum == n, "select_ready: wrong sum");
  return ns;
}

template <std::size_t K>
double trial_select_park(long n) {
  std::array<canal::chan<int>, K> chs;
  for (auto& c : chs) c = canal::chan<int>(0);
  canal::chan<int> ack(0);
  const auto t0 = clock::now();
  auto selecting = canal::go([chs, ack, n]() -> long {
    long sum = 0;
    for (long i = 0; i < n; ++i) {
      select_recv<K>(chs, sum, std::make_index_sequence<K>{});
      ack.send(0);
    }
    return sum;
  });
  auto sending = canal::go([chs, ack, n] {
    for (long i = 0; i < n; ++i) {
      chs[static_cast<std::size_t>(i) % K].send(1);
      if (!ack.recv()) fail("select_park: ack closed");
    }
  });
  const long sum = selecting.get();
  sending.join();
  const double ns = elapsed_ns(t0);
  check(sum == n, "select_park: wrong sum");
  return ns;
}

// ---------------------------------------------------------------------------- spawn_join
double trial_spawn_join(long n) {
  long ran = 0;
  const auto t0 = clock::now();
  for (long i = 0; i < n; ++i) canal::go([&ran] { ++ran; }).join();
  const double ns = elapsed_ns(t0);
  check(ran == n, "spawn_join: wrong count");
  return ns;
}

// ---------------------------------------------------------------------------- steal
// Method: the spawning greenlet records its thread, takes t0, spawns a batch of B greenlets
// (handles dropped) and then busy-waits WITHOUT yielding, so its own worker cannot run them:
// each one can only run after another worker took (stole) it. Each greenlet records the time
// it started and whether it ran on a thread other than the spawner's. steal_first = first start
// - t0 (includes waking an idle worker); steal_batch = (last start - t0) / B. Before every round
// the spawner sleeps 1 ms so the other worker is idle again. Values are medians over rounds.
// A round whose batch has not all run within 1 s stops spinning (yields, so the rest runs
// locally), is left out of the medians and is counted in the `not_stolen=` field.
void bench_steal(const char* name_first, const char* name_batch, const long kBatch) {
  if (!selected(name_first) && !selected(name_batch)) return;
  const long rounds = std::max(5L, scaled(kBatch > 1 ? 200 : 100));
  std::vector<double> first, batch;
  long not_stolen = 0, ran_locally = 0;
  canal::options opts;
  opts.workers = static_cast<std::size_t>(std::max(2, g_workers));
  canal::run(
      [&] {
        for (long r = 0; r < rounds; ++r) {
          canal::this_task::sleep_for(std::chrono::milliseconds(1));
          struct shared_state {
            std::thread::id spawner;
            std::atomic<long> started{0}, local{0};
            std::atomic<std::int64_t> first_ns{INT64_MAX}, last_ns{0};
            clock::time_point t0;
          };
          auto st = std::make_shared<shared_state>();
          st->spawner = std::this_thread::get_id();
          st->t0 = clock::now();
          for (long i = 0; i < kBatch; ++i) {
            canal::go([st] {
              const std::int64_t t = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         clock::now() - st->t0)
                                         .count();
              if (std::this_thread::get_id() == st->spawner)
                st->local.fetch_add(1, std::memory_order_relaxed);
              std::int64_t f = st->first_ns.load(std::memory_order_relaxed);
              while (t < f && !st->first_ns.compare_exchange_weak(f, t)) {
              }
              std::int64_t l = st->last_ns.load(std::memory_order_relaxed);
              while (t > l && !st->last_ns.compare_exchange_weak(l, t)) {
              }
              st->started.fetch_add(1, std::memory_order_release);
            });
          }
          bool gave_up = false;
          while (st->started.load(std::memory_order_acquire) < kBatch) {
            if (!gave_up && clock::now() - st->t0 > std::chrono::seconds(1)) {
              gave_up = true;
            }
            if (gave_up) canal::this_task::yield();
          }
          if (gave_up) {
            ++not_stolen;
            continue;
          }
          ran_locally += st->local.load();
          first.push_back(static_cast<double>(st->first_ns.load()));
          batch.push_back(static_cast<double>(st->last_ns.load()) / kBatch);
        }
      },
      opts);
  auto median = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  const std::string extra =
      "not_stolen=" + std::to_string(not_stolen) + " ran_on_spawner=" + std::to_string(ran_locally);
  const int w = static_cast<int>(opts.workers);
  const std::string first_name = std::string("micro_") + name_first;
  const std::string batch_name = name_batch ? std::string("micro_") + name_batch : std::string();
  if (first.empty()) {
    canal_bench::report_na(first_name.c_str(), w, "ns/op", "nothing_stolen_within_1s");
    if (name_batch)
      canal_bench::report_na(batch_name.c_str(), w, "ns/op", "nothing_stolen_within_1s");
    return;
  }
  canal_bench::report(first_name.c_str(), w, median(first), "ns/op", rounds, extra);
  if (name_batch)
    canal_bench::report(batch_name.c_str(), w, median(batch), "ns/op", rounds * kBatch, extra);
}

void all_single_run() {
  run_trials("yield_switch", scaled(2000000), 2.0, trial_yield);
#if CANAL_BENCH_HAVE_PARK
  run_trials("park_ready_roundtrip", scaled(1000000), 1.0, trial_park_ready);
#else
  if (selected("park_ready_roundtrip"))
    canal_bench::report_na("micro_park_ready_roundtrip", g_workers, "ns/op", "no_runtime_park_hpp");
#endif
  run_trials("chan_buffered_sendrecv", scaled(2000000), 1.0, trial_buffered);
  run_trials("chan_unbuffered_roundtrip", scaled(1000000), 1.0, trial_unbuffered);
  run_trials("select_ready_1", scaled(200000), 1.0, trial_select_ready<1>);
  run_trials("select_ready_2", scaled(200000), 1.0, trial_select_ready<2>);
  run_trials("select_ready_4", scaled(200000), 1.0, trial_select_ready<4>);
  run_trials("select_ready_8", scaled(200000), 1.0, trial_select_ready<8>);
  run_trials("select_park_1", scaled(500000), 1.0, trial_select_park<1>);
  run_trials("select_park_2", scaled(500000), 1.0, trial_select_park<2>);
  run_trials("select_park_4", scaled(500000), 1.0, trial_select_park<4>);
  run_trials("select_park_8", scaled(500000), 1.0, trial_select_park<8>);
  run_trials("spawn_join", scaled(500000), 1.0, trial_spawn_join);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2) {
    char* end = nullptr;
    const long w = std::strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || w < 1 || w > 1024) {
      std::fprintf(stderr, "usage: micro_bench [workers] [name-prefix...]\n");
      return 2;
    }
    g_workers = static_cast<int>(w);
  }
  for (int i = 2; i < argc; ++i) g_filter.emplace_back(argv[i]);
  if (const char* s = std::getenv("MICRO_SCALE")) g_scale = std::atof(s);
  if (!(g_scale > 0)) g_scale = 1.0;
  g_repeat = static_cast<int>(std::max(1L, canal_bench::env_size("MICRO_REPEAT", 3)));

  canal::options opts;
  opts.workers = static_cast<std::size_t>(g_workers);
  try {
    canal::run(all_single_run, opts);
    bench_steal("steal_first", "steal_batch", 64);
    bench_steal("steal_stalled_one", nullptr, 1);
  } catch (const canal::cancelled& e) {
    std::fprintf(stderr, "micro_bench: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "micro_bench: exception: %s\n", e.what());
    return 1;
  }
  return 0;
}
