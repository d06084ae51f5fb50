// TSan canary: a deliberately racy canal program.
//
// Two greenlets on a 2-worker runtime increment a plain int with no
// synchronization. Built with --config=tsan, ThreadSanitizer must print
// "WARNING: ThreadSanitizer: data race"; tsan_canary_test.sh checks that, so
// a TSan tier that silently stopped instrumenting (or a runtime that hides
// cross-thread accesses behind fiber switches) is noticed.
//
// Each greenlet spins in short bursts (keeping its worker busy, so the other
// worker picks up the other greenlet) and yields between bursts. They go on
// until both have been seen spinning on different threads at the same time
// for a while, or a deadline passes.

#include <canal/canal.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <thread>

namespace {

int counter = 0;  // shared, unsynchronized: the race TSan has to find

// Relaxed atomics only: they give TSan no happens-before edges between racers.
std::atomic<std::size_t> spinning_on[2] = {0, 0};
std::atomic<int> overlapping_bursts{0};

std::size_t thread_tag() {
  return std::hash<std::thread::id>{}(std::this_thread::get_id()) | 1;  // never 0
}

void racer(int me) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::seconds(3);
  int bursts = 0;
  while (clock::now() < deadline && (bursts < 20 || overlapping_bursts.load(std::memory_order_relaxed) < 10)) {
    const std::size_t here = thread_tag();
    spinning_on[me].store(here, std::memory_order_relaxed);
    const auto until = clock::now() + std::chrono::microseconds(500);
    bool overlapped = false;
    while (clock::now() < until) {
      ++counter;  // <- data race
      const std::size_t other = spinning_on[1 - me].load(std::memory_order_relaxed);
      overlapped = overlapped || (other != 0 && other != here);
    }
    spinning_on[me].store(0, std::memory_order_relaxed);
    if (overlapped) overlapping_bursts.fetch_add(1, std::memory_order_relaxed);
    ++bursts;
    canal::this_task::yield();
  }
}

}  // namespace

int main() {
  const int total = canal::run(
      [] {
        auto a = canal::go([] { racer(0); });
        auto b = canal::go([] { racer(1); });
        a.join();
        b.join();
        return counter;
      },
      canal::options{.workers = 2});
  std::printf("tsan_canary: counter=%d, bursts running on two threads at once: %d\n", total,
              overlapping_bursts.load());
  return 0;
}
