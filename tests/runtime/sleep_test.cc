// this_task::sleep_for / sleep_until / yield: accuracy (lower bound strict, upper bound loose),
// concurrency (sleepers overlap), and plain-thread behaviour.

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;
using canal_test::slack;

}  // namespace

TEST_CASE("runtime.sleep_accuracy" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      for (auto d : {1ms, 5ms, 20ms, 50ms, 120ms}) {
        CAPTURE(d.count());
        const auto t0 = rt::steady::now();
        canal::this_task::sleep_for(d);
        const auto took = rt::elapsed(t0);
        CHECK(took >= d);
        CHECK(took < d + slack);
      }
      // Other units.
      auto t0 = rt::steady::now();
      canal::this_task::sleep_for(std::chrono::microseconds(15'000));
      CHECK(rt::elapsed(t0) >= 15ms);
      t0 = rt::steady::now();
      canal::this_task::sleep_for(std::chrono::duration<double>(0.025));
      CHECK(rt::elapsed(t0) >= 25ms);
      // sleep_until, steady and system clocks.
      t0 = rt::steady::now();
      canal::this_task::sleep_until(t0 + 30ms);
      CHECK(rt::steady::now() >= t0 + 30ms);
      CHECK(rt::elapsed(t0) < 30ms + slack);
      t0 = rt::steady::now();
      canal::this_task::sleep_until(std::chrono::system_clock::now() + 30ms);
      CHECK(rt::elapsed(t0) >= 29ms);  // system_clock -> steady conversion: allow rounding
      CHECK(rt::elapsed(t0) < 30ms + slack);
      // Deadlines in the past, zero and negative durations return at once.
      t0 = rt::steady::now();
      canal::this_task::sleep_until(t0 - 1s);
      canal::this_task::sleep_for(0ms);
      canal::this_task::sleep_for(-10ms);
      canal::this_task::sleep_until(std::chrono::system_clock::now() - 1h);
      CHECK(rt::elapsed(t0) < slack);
    });
  }
}

TEST_CASE("runtime.sleep_in_many_greenlets_overlaps" * doctest::timeout(60)) {
  // 1000 greenlets sleeping 100..200 ms take about 200 ms in total, not the sum (150 s).
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      constexpr int n = 1000;
      std::atomic<int> early{0};
      std::vector<canal::task<void>> ts;
      const auto t0 = rt::steady::now();
      for (int i = 0; i < n; ++i) {
        const auto d = std::chrono::milliseconds(100 + i % 101);
        ts.push_back(canal::go([d, &early] {
          const auto s = rt::steady::now();
          canal::this_task::sleep_for(d);
          if (rt::elapsed(s) < d) early.fetch_add(1);
        }));
      }
      canal::joinall(ts);
      const auto took = rt::elapsed(t0);
      MESSAGE("1000 sleepers of 100..200 ms took " << rt::ms(took) << " ms with " << w
                                                    << " worker(s)");
      CHECK(early.load() == 0);
      CHECK(took >= 200ms);
      CHECK(took < 200ms + slack);
    });
  }
}

TEST_CASE("runtime.sleep_does_not_block_the_worker" * doctest::timeout(60)) {
  // One worker: while a greenlet sleeps, another keeps running (the sleep parks the greenlet on
  // the hub's timer, not the thread).
  canal_test::in_runtime(1, [] {
    std::atomic<int> ticks{0};
    auto sleeper = canal::go([] { canal::this_task::sleep_for(100ms); });
    auto ticker = canal::go([&ticks, sleeper] {
      while (!sleeper.ready()) {
        ticks.fetch_add(1);
        canal::this_task::sleep_for(1ms);
      }
    });
    ticker.join();
    CHECK(ticks.load() >= 10);
  });
}

TEST_CASE("runtime.sleep_and_yield_on_plain_thread" * doctest::timeout(60)) {
  auto check_plain = [] {
    CHECK_FALSE(canal::this_task::in_greenlet());
    auto t0 = rt::steady::now();
    canal::this_task::sleep_for(20ms);  // sleeps the thread
    CHECK(rt::elapsed(t0) >= 20ms);
    CHECK(rt::elapsed(t0) < 20ms + slack);
    t0 = rt::steady::now();
    canal::this_task::sleep_until(t0 + 15ms);
    CHECK(rt::steady::now() >= t0 + 15ms);
    for (int i = 0; i < 100; ++i) canal::this_task::yield();  // std::this_thread::yield()
    canal::this_task::sleep_for(0ms);
    canal::this_task::sleep_for(-1ms);
  };
  // No runtime at all: the test thread itself.
  check_plain();
  // A plain thread while a runtime is running (and greenlets keep running meanwhile).
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      canal::chan<int> done(1);
      std::atomic<int> greenlet_ticks{0};
      auto ticker = canal::go([&greenlet_ticks, done] {
        while (done.size() == 0) {
          greenlet_ticks.fetch_add(1);
          canal::this_task::sleep_for(1ms);
        }
      });
      std::thread th([&check_plain, done] {
        check_plain();
        done.send(1);
      });
      ticker.join();
      CHECK(*done.recv() == 1);
      th.join();
      CHECK(greenlet_ticks.load() >= 5);
    });
  }
}

TEST_CASE("runtime.yield_lets_others_run" * doctest::timeout(60)) {
  // A greenlet that loops on yield() does not starve the others, on any worker count.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      std::atomic<bool> stop{false};
      std::atomic<long> spins{0};
      std::vector<canal::task<void>> spinners;
      for (std::size_t i = 0; i < w + 1; ++i) {
        spinners.push_back(canal::go([&] {
          while (!stop.load()) {
            spins.fetch_add(1);
            canal::this_task::yield();
          }
        }));
      }
      // Sleepers and a channel exchange still make progress.
      const auto t0 = rt::steady::now();
      canal::this_task::sleep_for(30ms);
      CHECK(rt::elapsed(t0) < 30ms + slack);
      canal::chan<int> ch(0);
      auto echo = canal::go([ch] { ch.send(5); });
      CHECK(*ch.recv() == 5);
      echo.join();
      stop = true;
      canal::joinall(spinners);
      CHECK(spins.load() > 0);
    });
  }
}
