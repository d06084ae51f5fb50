// canal_bench: canal's implementation of the peer benchmarks of bench/peers/
// (README.md there has the exact semantics; Go, Boost.Fiber, std::thread and gevent implement
// the same ones), so canal can be measured side by side with its peers:
//
//   bazel build -c opt //bench:canal_bench
//   bazel-out/k8-opt/bin/bench/canal_bench <bench> <workers>   (bazel-bin follows the last build)
//   bench/run_peers.sh    (builds it, runs it beside every peer, prints the canal/Go table)
//
// <bench>: pingpong spawn_join skynet chan_spsc chan_mpmc select_fanin timers idle_memory
// tcp_echo mutex. Everything runs inside canal::run() with options{.workers = <workers>}. Sizes are
// the peers' environment variables (PINGPONG_N, SPAWN_N, SKYNET_N, SPSC_N, MPMC_N, SELECT_N,
// CHAN_CAP, TIMERS_N, IDLE_N, ECHO_*, MUTEX_N, MUTEX_TASKS); CANAL_STACK_SIZE, when set, overrides the greenlet stack
// size; SKYNET_LAUNCH=post|dispatch (default dispatch) picks how skynet spawns. Output: one line per value,
//   bench=<name> peer=canal workers=<n> value=<number> unit=<unit> n=<size>
// Every benchmark checks its answer; a wrong one prints to stderr and exits 1.
#include <canal/canal.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_util.hpp"

namespace {

using canal_bench::check;
using canal_bench::clock;
using canal_bench::elapsed_ns;
using canal_bench::env_size;
using canal_bench::fail;
using canal_bench::report;

int g_workers = 1;

// ---------------------------------------------------------------------------- pingpong
// A sends i on c1 and expects i back on c2; B echoes c1 to c2. Timed: spawn of A and B until
// both are joined. Value: ns per round trip.
void bench_pingpong() {
  const long n = env_size("PINGPONG_N", 1000000);
  canal::chan<long> c1(0), c2(0);
  const auto t0 = clock::now();
  auto a = canal::go([c1, c2, n] {
    for (long i = 0; i < n; ++i) {
      c1.send(i);
      const std::optional<long> v = c2.recv();
      if (!v || *v != i) fail("pingpong: round trip " + std::to_string(i) + " came back wrong");
    }
  });
  auto b = canal::go([c1, c2, n] {
    for (long i = 0; i < n; ++i) {
      const std::optional<long> v = c1.recv();
      if (!v) fail("pingpong: c1 closed");
      c2.send(*v);
    }
  });
  a.join();
  b.join();
  const double ns = elapsed_ns(t0);
  report("pingpong", g_workers, ns / static_cast<double>(n), "ns/op", n);
}

// ---------------------------------------------------------------------------- spawn_join
// Spawn N greenlets with an empty body, all before any is awaited, then join them all.
void bench_spawn_join() {
  const long n = env_size("SPAWN_N", 100000);
  std::atomic<long> ran{0};
  std::vector<canal::task<void>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  const auto t0 = clock::now();
  for (long i = 0; i < n; ++i) {
    tasks.push_back(canal::go([&ran] { ran.fetch_add(1, std::memory_order_relaxed); }));
  }
  for (const auto& t : tasks) t.join();
  const double ns = elapsed_ns(t0);
  check(ran.load() == n, "spawn_join: " + std::to_string(ran.load()) + " of " +
                             std::to_string(n) + " bodies ran");
  report("spawn_join", g_workers, ns / static_cast<double>(n), "ns/op", n);
}

// ---------------------------------------------------------------------------- skynet
// skynet(out, num, size): a leaf sends num; an inner node makes one unbuffered channel, spawns
// 10 children on it (detached: their handles are dropped at once, Go's `go`), sums their 10
// answers and sends the sum on out.
// Children are spawned with launch::dispatch (as Boost.Fiber's skynet port does): each runs at
// once and its spawner resumes from the worker's dispatch stack, so the tree is walked depth
// first and few greenlets are alive at a time. SKYNET_LAUNCH=post spawns them FIFO instead
// (gevent's order: breadth first, every inner node parked at once).
canal::launch g_skynet_launch = canal::launch::dispatch;

void skynet(canal::chan<std::uint64_t> out, std::uint64_t num, std::uint64_t size) {
  if (size == 1) {
    out.send(num);
    return;
  }
  constexpr std::uint64_t kBranch = 10;
  canal::chan<std::uint64_t> rc(0);
  const std::uint64_t sub = size / kBranch;
  for (std::uint64_t i = 0; i < kBranch; ++i) {
    canal::go(g_skynet_launch, skynet, rc, num + i * sub, sub);
  }
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < kBranch; ++i) {
    const std::optional<std::uint64_t> v = rc.recv();
    if (!v) fail("skynet: child channel closed");
    sum += *v;
  }
  out.send(sum);
}

void bench_skynet() {
  const long n_env = env_size("SKYNET_N", 1000000);
  if (const char* l = std::getenv("SKYNET_LAUNCH"); l && *l) {
    const std::string_view how(l);
    if (how == "post") g_skynet_launch = canal::launch::post;
    else if (how == "dispatch") g_skynet_launch = canal::launch::dispatch;
    else fail("skynet: SKYNET_LAUNCH must be post or dispatch, got '" + std::string(how) + "'");
  }
  const auto n = static_cast<std::uint64_t>(n_env);
  {
    std::uint64_t p = 1;
    while (p < n) p *= 10;
    check(n >= 1 && p == n, "skynet: SKYNET_N must be a power of 10, got " + std::to_string(n));
  }
  canal::chan<std::uint64_t> c(0);
  const auto t0 = clock::now();
  canal::go(skynet, c, std::uint64_t{0}, n);
  const std::optional<std::uint64_t> got = c.recv();
  const double ns = elapsed_ns(t0);
  const std::uint64_t want = n * (n - 1) / 2;
  check(got.has_value() && *got == want,
        "skynet: got " + (got ? std::to_string(*got) : std::string("nothing")) + ", want " +
            std::to_string(want));
  report("skynet", g_workers, ns / 1e6, "ms", n_env);
  report("skynet_maxrss", g_workers, static_cast<double>(canal_bench::rss_peak()), "bytes", n_env);
}

// ---------------------------------------------------------------------------- chan_spsc
// One producer sends 0..N-1 into a buffered channel of CHAN_CAP; one consumer receives N and
// checks they arrive in order. Timed: spawn of both until both are joined.
void bench_chan_spsc() {
  const long n = env_size("SPSC_N", 10000000);
  const long cap = env_size("CHAN_CAP", 1024);
  check(cap > 0, "chan_spsc: CHAN_CAP must be > 0");
  canal::chan<long> c(static_cast<std::size_t>(cap));
  const auto t0 = clock::now();
  auto producer = canal::go([c, n] {
    for (long i = 0; i < n; ++i) c.send(i);
  });
  auto consumer = canal::go([c, n] {
    for (long i = 0; i < n; ++i) {
      const std::optional<long> v = c.recv();
      if (!v || *v != i) fail("chan_spsc: item " + std::to_string(i) + " out of order");
    }
  });
  producer.join();
  consumer.join();
  const double ns = elapsed_ns(t0);
  report("chan_spsc", g_workers, ns / static_cast<double>(n), "ns/op", n);
}

// ---------------------------------------------------------------------------- chan_mpmc
// 4 producers each send 0..N/4-1, 4 consumers each receive N/4 from one shared buffered channel;
// the consumers' sums must add up to 4 * sum(0..N/4-1).
void bench_chan_mpmc() {
  constexpr long kProducers = 4, kConsumers = 4;
  long n = env_size("MPMC_N", 10000000);
  n -= n % (kProducers * kConsumers);
  const long cap = env_size("CHAN_CAP", 1024);
  check(cap > 0, "chan_mpmc: CHAN_CAP must be > 0");
  canal::chan<long> c(static_cast<std::size_t>(cap));
  const long per_producer = n / kProducers, per_consumer = n / kConsumers;
  std::vector<canal::task<void>> producers;
  std::vector<canal::task<std::uint64_t>> consumers;
  const auto t0 = clock::now();
  for (long p = 0; p < kProducers; ++p) {
    producers.push_back(canal::go([c, per_producer] {
      for (long i = 0; i < per_producer; ++i) c.send(i);
    }));
  }
  for (long k = 0; k < kConsumers; ++k) {
    consumers.push_back(canal::go([c, per_consumer]() -> std::uint64_t {
      std::uint64_t sum = 0;
      for (long i = 0; i < per_consumer; ++i) {
        const std::optional<long> v = c.recv();
        if (!v) fail("chan_mpmc: channel closed");
        sum += static_cast<std::uint64_t>(*v);
      }
      return sum;
    }));
  }
  for (const auto& t : producers) t.join();
  std::uint64_t total = 0;
  for (const auto& t : consumers) total += t.get();
  const double ns = elapsed_ns(t0);
  const auto pp = static_cast<std::uint64_t>(per_producer);
  const std::uint64_t want = kProducers * (pp * (pp - (pp > 0 ? 1 : 0)) / 2);
  check(total == want,
        "chan_mpmc: sum " + std::to_string(total) + ", want " + std::to_string(want));
  report("chan_mpmc", g_workers, ns / static_cast<double>(n), "ns/op", n);
}

// ---------------------------------------------------------------------------- select_fanin
// 4 producers each send N/4 ones on their own unbuffered channel; one consumer runs N selects
// over the 4 receive cases and checks the sum. Timed: spawn of all five until the consumer's
// sum is in (the producers are joined inside the region too; they are done by then).
void bench_select_fanin() {
  constexpr long kProducers = 4;
  long n = env_size("SELECT_N", 2000000);
  n -= n % kProducers;
  const std::array<canal::chan<int>, kProducers> chs{canal::chan<int>(0), canal::chan<int>(0),
                                                     canal::chan<int>(0), canal::chan<int>(0)};
  const long per = n / kProducers;
  std::vector<canal::task<void>> producers;
  const auto t0 = clock::now();
  for (long p = 0; p < kProducers; ++p) {
    producers.push_back(canal::go([ch = chs[static_cast<std::size_t>(p)], per] {
      for (long i = 0; i < per; ++i) ch.send(1);
    }));
  }
  auto consumer = canal::go([chs, n]() -> long {
    long sum = 0;
    auto add = [&sum](std::optional<int> v) {
      if (!v) fail("select_fanin: a producer channel was closed");
      sum += *v;
    };
    for (long i = 0; i < n; ++i) {
      canal::select(canal::on_recv(chs[0], add), canal::on_recv(chs[1], add),
                    canal::on_recv(chs[2], add), canal::on_recv(chs[3], add));
    }
    return sum;
  });
  const long sum = consumer.get();
  for (const auto& t : producers) t.join();
  const double ns = elapsed_ns(t0);
  check(sum == n, "select_fanin: sum " + std::to_string(sum) + ", want " + std::to_string(n));
  report("select_fanin", g_workers, ns / static_cast<double>(n), "ns/op", n);
}

// ---------------------------------------------------------------------------- timers
// Task i sleeps once for d_i ms (the peers' sequence) with canal::this_task::sleep_for and
// records its overshoot (time asleep - d_i). Timed: first spawn until the last one is joined.
int sleep_ms_for(long i) {
  const std::uint64_t h = (static_cast<std::uint64_t>(i) * 2654435761ULL) & 0xFFFFFFFFULL;
  return 1 + static_cast<int>((h >> 16) % 10);
}

void bench_timers() {
  const long n = env_size("TIMERS_N", 100000);
  check(n > 0, "timers: TIMERS_N must be > 0");
  std::vector<std::int64_t> overshoot(static_cast<std::size_t>(n), -1);
  std::vector<canal::task<void>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  const auto t0 = clock::now();
  for (long i = 0; i < n; ++i) {
    tasks.push_back(canal::go([i, &overshoot] {
      const std::chrono::milliseconds d(sleep_ms_for(i));
      const auto before = clock::now();
      canal::this_task::sleep_for(d);
      const auto slept = clock::now() - before;
      overshoot[static_cast<std::size_t>(i)] =
          std::chrono::duration_cast<std::chrono::nanoseconds>(slept - d).count();
    }));
  }
  for (const auto& t : tasks) t.join();
  const double total_ns = elapsed_ns(t0);
  double sum = 0;
  for (long i = 0; i < n; ++i) {
    const std::int64_t o = overshoot[static_cast<std::size_t>(i)];
    // A timer must never fire early (beyond clock granularity).
    if (o < -100000) fail("timers: task " + std::to_string(i) + " woke " +
                          std::to_string(-o) + " ns early");
    sum += static_cast<double>(o);
  }
  std::sort(overshoot.begin(), overshoot.end());
  report("timers", g_workers, total_ns / 1e6, "ms", n);
  report("timers_overshoot_mean", g_workers, sum / static_cast<double>(n) / 1e6, "ms", n);
  report("timers_overshoot_p99", g_workers,
         static_cast<double>(overshoot[static_cast<std::size_t>((n * 99) / 100)]) / 1e6, "ms", n);
}

// ---------------------------------------------------------------------------- idle_memory
// RSS before; N greenlets each park on a receive from one shared unbuffered channel; once all
// have started (+50 ms) RSS again. Value: bytes per parked greenlet. No task handles are kept
// (Go keeps none either): the greenlets are counted with two atomics.
void bench_idle_memory() {
  const long n = env_size("IDLE_N", 100000);
  check(n > 0, "idle_memory: IDLE_N must be > 0");
  canal::chan<int> ch(0);
  std::atomic<long> started{0}, finished{0};
  canal::this_task::sleep_for(std::chrono::milliseconds(20));  // let the runtime settle
  const long before = canal_bench::rss_now();
  for (long i = 0; i < n; ++i) {
    canal::go([ch, &started, &finished] {
      started.fetch_add(1, std::memory_order_relaxed);
      const std::optional<int> v = ch.recv();  // nullopt once closed
      if (v) fail("idle_memory: received a value nobody sent");
      finished.fetch_add(1, std::memory_order_relaxed);
    });
  }
  while (started.load(std::memory_order_relaxed) < n) canal::this_task::yield();
  canal::this_task::sleep_for(std::chrono::milliseconds(50));
  const long after = canal_bench::rss_now();
  check(finished.load() == 0, "idle_memory: a greenlet got past its receive");
  ch.close();
  while (finished.load(std::memory_order_relaxed) < n) canal::this_task::yield();
  report("idle_memory", g_workers, static_cast<double>(after - before) / static_cast<double>(n),
         "bytes", n);
}

// ---------------------------------------------------------------------------- tcp_echo
void bench_tcp_echo() {
  canal_bench::report_na("tcp_echo", g_workers, "ops/s", "no_cooperative_tcp_yet");
}

// ---------------------------------------------------------------------------- mutex
// MUTEX_TASKS greenlets share one canal::mutex and one plain counter; each does N/T rounds of
// { lock; ++counter; every 100th round yield while holding the lock; unlock }, so the others
// block on it. Timed: first spawn until the last join; checks counter == N. Value: ns per
// acquisition.
void bench_mutex() {
  const long tasks = env_size("MUTEX_TASKS", 8);
  long n = env_size("MUTEX_N", 2000000);
  check(tasks > 0, "mutex: MUTEX_TASKS must be > 0");
  n -= n % tasks;
  check(n > 0, "mutex: MUTEX_N must be >= MUTEX_TASKS");
  canal::mutex mu;
  long counter = 0;  // guarded by mu
  std::vector<canal::task<void>> ts;
  ts.reserve(static_cast<std::size_t>(tasks));
  const long per = n / tasks;
  const auto t0 = clock::now();
  for (long t = 0; t < tasks; ++t) {
    ts.push_back(canal::go([&mu, &counter, per] {
      for (long i = 1; i <= per; ++i) {
        mu.lock();
        ++counter;
        if (i % 100 == 0) canal::this_task::yield();  // still holding mu: the others block
        mu.unlock();
      }
    }));
  }
  for (const auto& t : ts) t.join();
  const double ns = elapsed_ns(t0);
  check(counter == n, "mutex: counter " + std::to_string(counter) + ", want " + std::to_string(n));
  report("mutex", g_workers, ns / static_cast<double>(n), "ns/op", n);
}

struct bench_entry {
  std::string_view name;
  void (*fn)();
};
constexpr std::array<bench_entry, 10> kBenches{{
    {"pingpong", bench_pingpong},
    {"spawn_join", bench_spawn_join},
    {"skynet", bench_skynet},
    {"chan_spsc", bench_chan_spsc},
    {"chan_mpmc", bench_chan_mpmc},
    {"select_fanin", bench_select_fanin},
    {"timers", bench_timers},
    {"idle_memory", bench_idle_memory},
    {"tcp_echo", bench_tcp_echo},
    {"mutex", bench_mutex},
}};

int usage() {
  std::fprintf(stderr, "usage: canal_bench <bench> <workers>\n  bench:");
  for (const auto& b : kBenches) std::fprintf(stderr, " %.*s", static_cast<int>(b.name.size()),
                                              b.name.data());
  std::fprintf(stderr, "\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return usage();
  const std::string_view name = argv[1];
  void (*fn)() = nullptr;
  for (const auto& b : kBenches) {
    if (b.name == name) fn = b.fn;
  }
  char* end = nullptr;
  const long w = std::strtol(argv[2], &end, 10);
  if (fn == nullptr || end == argv[2] || *end != '\0' || w < 1 || w > 1024) return usage();
  g_workers = static_cast<int>(w);

  canal::options opts;
  opts.workers = static_cast<std::size_t>(w);
  if (std::getenv("CANAL_STACK_SIZE") != nullptr) opts.stack_size = 0;  // 0: use the env var
  try {
    canal::run(fn, opts);
  } catch (const canal::cancelled& e) {
    std::fprintf(stderr, "canal_bench: %s: %s\n", argv[1], e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "canal_bench: %s: exception: %s\n", argv[1], e.what());
    return 1;
  }
  return 0;
}
