// dispatch_test.cc: canal::launch::dispatch runs the new greenlet at once; the spawner waits on
// its worker's dispatch stack and resumes once the worker has nothing else queued (innermost
// first), within a bounded number of picks, or on another worker that takes it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.hpp"

using namespace canal_test;

TEST_CASE("runtime.launch.dispatch_runs_child_first" * doctest::timeout(30)) {
  auto log = in_runtime(1, [] {
    std::vector<std::string> out;
    auto post = canal::go([&] { out.push_back("posted"); });
    auto child = canal::go(canal::launch::dispatch, [&] {
      out.push_back("child starts");
      canal::this_task::yield();
      out.push_back("child resumes");
    });
    out.push_back("spawner continues");
    child.join();
    post.join();
    return out;
  });
  // The dispatched child ran before the spawner continued; the queued work (the posted one,
  // then the yielded child) ran before the suspended spawner.
  CHECK(log == std::vector<std::string>{"child starts", "posted", "child resumes",
                                        "spawner continues"});
}

TEST_CASE("runtime.launch.dispatch_nested_resume_innermost_first" * doctest::timeout(30)) {
  auto log = in_runtime(1, [] {
    std::vector<std::string> out;
    canal::chan<int> gate(0);
    auto outer = canal::go(canal::launch::dispatch, [&] {
      out.push_back("outer starts");
      auto inner = canal::go(canal::launch::dispatch, [&] {
        out.push_back("inner starts");
        gate.recv();  // parks: the innermost spawner (outer) resumes, not the outermost
        out.push_back("inner done");
      });
      out.push_back("outer continues");
      gate.send(1);
      inner.join();
      out.push_back("outer done");
    });
    out.push_back("spawner continues");
    outer.join();
    return out;
  });
  CHECK(log == std::vector<std::string>{"outer starts", "inner starts", "outer continues",
                                        "inner done", "outer done", "spawner continues"});
}

TEST_CASE("runtime.launch.dispatch_spawner_not_starved_by_busy_queue" * doctest::timeout(30)) {
  // The child yields until the spawner runs again: the yielded child is always queued, so the
  // spawner must still get its turn (after at most 61 picks), not wait for an empty queue.
  for (std::size_t w : workers()) {
    CAPTURE(w);
    const long yields = in_runtime(w, [] {
      std::atomic<bool> resumed{false};
      long n = 0;
      auto child = canal::go(canal::launch::dispatch, [&] {
        while (!resumed.load() && n < 1000000) {
          ++n;
          canal::this_task::yield();
        }
      });
      resumed.store(true);
      child.join();
      return n;
    });
    CHECK(yields < 200);
  }
}

TEST_CASE("runtime.launch.dispatch_spawner_taken_by_idle_worker" * doctest::timeout(60)) {
  // The child spins without yielding until the spawner sets a flag: only another worker taking
  // the suspended spawner from the dispatch stack can set it. One spawner is below the steal
  // backlog, so this is also the test of stall detection for dispatch stacks.
  for (std::size_t w : workers()) {
    if (w < 2) continue;
    CAPTURE(w);
    const bool taken = in_runtime(w, [] {
      std::atomic<bool> resumed{false};
      bool ok = false;
      auto child = canal::go(canal::launch::dispatch, [&] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!resumed.load() && std::chrono::steady_clock::now() < deadline) {
        }
        ok = resumed.load();
      });
      resumed.store(true);
      child.join();
      return ok;
    });
    CHECK(taken);
  }
}

namespace {
std::atomic<long> g_live{0};
std::atomic<long> g_peak{0};

struct live_mark {
  live_mark() {
    const long now = g_live.fetch_add(1) + 1;
    long p = g_peak.load();
    while (now > p && !g_peak.compare_exchange_weak(p, now)) {
    }
  }
  ~live_mark() { g_live.fetch_sub(1); }
};

void tree(canal::chan<long> out, long num, long size) {
  live_mark mark;
  if (size == 1) {
    out.send(num);
    return;
  }
  canal::chan<long> rc(0);
  const long sub = size / 10;
  for (long i = 0; i < 10; ++i) canal::go(canal::launch::dispatch, tree, rc, num + i * sub, sub);
  long sum = 0;
  for (int i = 0; i < 10; ++i) sum += *rc.recv();
  out.send(sum);
}
}  // namespace

TEST_CASE("runtime.launch.dispatch_skynet" * doctest::timeout(60)) {
  const long n = sanitized ? 1000 : scale(10000L, 1000000L);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    g_live = 0;
    g_peak = 0;
    long got = in_runtime(w, [n] {
      canal::chan<long> c(0);
      canal::go(canal::launch::dispatch, tree, c, 0L, n);
      return *c.recv();
    });
    CHECK(got == n * (n - 1) / 2);
    // Depth first: per worker about ten parked children per level, not one greenlet per node
    // (n + n/9 with FIFO spawning).
    const long peak = g_peak.load();
    CAPTURE(peak);
    CHECK(peak <= 150 * static_cast<long>(w));
  }
}
