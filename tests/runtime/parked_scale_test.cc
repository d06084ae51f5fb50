// Many parked greenlets: 100,000 (10,000 under sanitizers) receivers parked on one channel,
// released by close() or by shutdown. Prints the resident memory per parked greenlet
// (from /proc/self/statm).

#include <atomic>
#include <vector>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;

std::size_t parked_count() {
  return canal_test::sanitized ? canal_test::scale<std::size_t>(10'000, 20'000)
                               : canal_test::scale<std::size_t>(100'000, 300'000);
}

}  // namespace

TEST_CASE("runtime.parked_greenlets_released_by_close" * doctest::timeout(900)) {
  const std::size_t n = parked_count();
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    CAPTURE(n);
    std::atomic<std::size_t> parked{0}, released{0};
    canal_test::in_runtime(w, [&] {
      canal::chan<int> ch(0);
      std::vector<canal::task<void>> tasks;
      tasks.reserve(n);
      const long rss0 = rt::rss_bytes();
      const auto t0 = rt::steady::now();
      for (std::size_t i = 0; i < n; ++i) {
        tasks.push_back(canal::go([ch, &parked, &released] {
          parked.fetch_add(1, std::memory_order_relaxed);
          if (!ch.recv()) released.fetch_add(1, std::memory_order_relaxed);
        }));
      }
      REQUIRE(rt::poll_until([&] { return parked.load() == n; }, 300s));
      canal::this_task::sleep_for(50ms);
      const auto spawn_took = rt::elapsed(t0);
      const long rss1 = rt::rss_bytes();
      const double per = double(rss1 - rss0) / double(n);
      MESSAGE(n << " greenlets parked on one channel with " << w << " worker(s): RSS +"
                << (rss1 - rss0) / 1024 << " KiB = " << per << " bytes per parked greenlet"
                << " (spawn+park " << rt::ms(spawn_took) << " ms)");
      if (!canal_test::sanitized) {
        // Stacks are committed only where touched: far below the 256 KiB reserved per stack.
        CHECK(per < 64 * 1024);
      }
      const auto t1 = rt::steady::now();
      ch.close();
      canal::joinall(tasks);
      MESSAGE("close() released them in " << rt::ms(rt::elapsed(t1)) << " ms");
      CHECK(released.load() == n);
    });
    CHECK(released.load() == n);
  }
}

TEST_CASE("runtime.parked_greenlets_released_by_shutdown" * doctest::timeout(900)) {
  const std::size_t n = parked_count();
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    CAPTURE(n);
    const long base = canal_test::tracked::live.load();
    std::atomic<std::size_t> parked{0}, cancelled{0}, returned{0};
    rt::steady::time_point main_returned;
    canal_test::in_runtime(w, [&] {
      canal::chan<int> ch(0);
      for (std::size_t i = 0; i < n; ++i) {
        (void)canal::go([ch, &parked, &cancelled, &returned] {
          canal_test::tracked on_stack;
          parked.fetch_add(1, std::memory_order_relaxed);
          try {
            (void)ch.recv();
          } catch (const canal::cancelled&) {
            cancelled.fetch_add(1, std::memory_order_relaxed);
            throw;
          }
          returned.fetch_add(1, std::memory_order_relaxed);
        });
      }
      REQUIRE(rt::poll_until([&] { return parked.load() == n; }, 300s));
      canal::this_task::sleep_for(20ms);
      main_returned = rt::steady::now();
    });
    MESSAGE("shutdown cancelled " << n << " parked greenlets in "
                                  << rt::ms(rt::elapsed(main_returned)) << " ms with " << w
                                  << " worker(s)");
    CHECK(cancelled.load() == n);
    CHECK(returned.load() == 0);
    CHECK(canal_test::tracked::live.load() == base);
  }
}
