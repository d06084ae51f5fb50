// Idle workers sleep in their hubs: with every greenlet asleep on a timer the process uses well
// under 5% of a core (getrusage user+sys over the wall time of the sleep window).
// Tagged no_sanitizer: sanitizer runtimes add background CPU of their own.

#include <atomic>
#include <vector>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;

}  // namespace

TEST_CASE("runtime.idle_cpu_with_sleeping_greenlets" * doctest::timeout(120)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      constexpr int n = 1000;
      std::atomic<int> asleep{0};
      std::vector<canal::task<void>> ts;
      ts.reserve(n);
      for (int i = 0; i < n; ++i) {
        ts.push_back(canal::go([&asleep] {
          asleep.fetch_add(1);
          canal::this_task::sleep_for(1500ms);
        }));
      }
      REQUIRE(rt::poll_until([&] { return asleep.load() == n; }));
      canal::this_task::sleep_for(10ms);
      // Measure while everything (main included) sleeps: the window ends before the 1.5 s timers.
      const double cpu0 = rt::cpu_seconds();
      const auto t0 = rt::steady::now();
      canal::this_task::sleep_for(1s);
      const double cpu = rt::cpu_seconds() - cpu0;
      const double wall = std::chrono::duration<double>(rt::elapsed(t0)).count();
      const double share = cpu / wall;
      MESSAGE("idle: " << n << " sleeping greenlets, " << w << " worker(s): CPU " << cpu * 1000
                       << " ms over " << wall * 1000 << " ms wall = " << share * 100
                       << "% of a core");
      CHECK(share < 0.05);
      canal::joinall(ts);
    });
  }
}

TEST_CASE("runtime.idle_cpu_with_parked_receivers" * doctest::timeout(120)) {
  // Greenlets parked on a channel (no timers of their own) while main sleeps.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      canal::chan<int> ch(0);
      std::atomic<int> parked{0};
      std::vector<canal::task<void>> ts;
      for (int i = 0; i < 1000; ++i) {
        ts.push_back(canal::go([ch, &parked] {
          parked.fetch_add(1);
          (void)ch.recv();
        }));
      }
      REQUIRE(rt::poll_until([&] { return parked.load() == 1000; }));
      canal::this_task::sleep_for(10ms);
      const double cpu0 = rt::cpu_seconds();
      const auto t0 = rt::steady::now();
      canal::this_task::sleep_for(1s);
      const double cpu = rt::cpu_seconds() - cpu0;
      const double wall = std::chrono::duration<double>(rt::elapsed(t0)).count();
      MESSAGE("idle: 1000 parked receivers, " << w << " worker(s): " << cpu / wall * 100
                                              << "% of a core");
      CHECK(cpu / wall < 0.05);
      ch.close();
      canal::joinall(ts);
    });
  }
}
