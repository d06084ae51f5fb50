// canal::run: results, exceptions, misuse, and several runs in one process.

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;

// Spawns n greenlets that each send i over a channel; returns the sum main received.
long fan_in_sum(int n) {
  canal::chan<int> ch(8);
  std::vector<canal::task<void>> tasks;
  for (int i = 1; i <= n; ++i) tasks.push_back(canal::go([ch, i] { ch.send(i); }));
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += *ch.recv();
  canal::joinall(tasks);
  return sum;
}

}  // namespace

TEST_CASE("runtime.run_returns_main_value" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    CHECK(canal_test::in_runtime(w, [] { return 42; }) == 42);
    CHECK(canal_test::in_runtime(w, [] { return std::string("canal"); }) == "canal");
    auto p = canal_test::in_runtime(w, [] { return std::make_unique<int>(3); });
    REQUIRE(p != nullptr);
    CHECK(*p == 3);
    bool ran = false;
    canal_test::in_runtime(w, [&] { ran = canal::this_task::in_greenlet(); });
    CHECK(ran);
    CHECK(canal_test::in_runtime(w, [] { return fan_in_sum(100); }) == 5050);
  }
}

TEST_CASE("runtime.run_rethrows_main_exception" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    CHECK_THROWS_WITH_AS(
        canal_test::in_runtime(w, []() -> int { throw std::runtime_error("main failed"); }),
        "main failed", std::runtime_error);
    CHECK_THROWS_AS(canal_test::in_runtime(w, [] { throw canal::timeout_error("slow main"); }),
                    canal::timeout_error);
    CHECK_THROWS_AS(canal_test::in_runtime(w, [] { throw 17; }), int);
    // The runtime is usable right after.
    CHECK(canal_test::in_runtime(w, [] { return 1; }) == 1);
  }
}

TEST_CASE("runtime.run_repeatedly_with_different_worker_counts" * doctest::timeout(120)) {
  const std::size_t counts[] = {1, 2, 4, 3, 1, 4, 2, 1};
  for (std::size_t w : counts) {
    CAPTURE(w);
    CHECK(canal_test::in_runtime(w, [] { return fan_in_sum(200); }) == 200 * 201 / 2);
  }
  // Many short runs in a row.
  for (int i = 0; i < 50; ++i) {
    const std::size_t w = 1 + static_cast<std::size_t>(i % 4);
    CAPTURE(i);
    CHECK(canal_test::in_runtime(w, [i] { return canal::go([i] { return i * 2; }).get(); }) ==
          i * 2);
  }
}

TEST_CASE("runtime.run_inside_greenlet_throws" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      CHECK_THROWS_AS(canal::run([] { return 0; }), canal::error);
      auto t = canal::go([] {
        try {
          canal::run([] {}, canal::options{.workers = 1});
        } catch (const canal::error&) {
          return true;
        }
        return false;
      });
      CHECK(t.get());
      // Still running fine afterwards.
      CHECK(fan_in_sum(10) == 55);
    });
  }
}

TEST_CASE("runtime.run_while_running_from_another_thread_throws" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      canal::chan<int> verdict(1);
      std::thread other([verdict] {
        int v = 0;
        try {
          canal::run([] {}, canal::options{.workers = 1});
          v = 1;  // a second runtime started: not allowed
        } catch (const canal::error&) {
          v = 2;
        } catch (...) {
          v = 3;
        }
        verdict.send(v);
      });
      const auto v = verdict.recv();  // parks the greenlet, not the worker
      other.join();
      CHECK(v == 2);
    });
  }
}

TEST_CASE("runtime.stack_size_option" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    // Small stacks are enough for small greenlets.
    CHECK(canal::run(
              [] {
                std::vector<canal::task<int>> ts;
                for (int i = 0; i < 100; ++i) {
                  ts.push_back(canal::go([i] {
                    volatile char buf[4096];
                    std::memset(const_cast<char*>(buf), i, sizeof buf);
                    canal::this_task::yield();
                    return static_cast<int>(buf[100]);
                  }));
                }
                int s = 0;
                for (auto& t : ts) s += t.get();
                return s;
              },
              canal::options{.workers = w, .stack_size = 32 * 1024}) == 99 * 100 / 2);
    // The default (256 KiB) holds a 128 KiB local array.
    CHECK(canal_test::in_runtime(w, [] {
            return canal::go([] {
                     volatile char big[128 * 1024];
                     std::memset(const_cast<char*>(big), 1, sizeof big);
                     canal::this_task::yield();
                     long s = 0;
                     for (std::size_t i = 0; i < sizeof big; i += 4096) s += big[i];
                     return s;
                   })
                .get();
          }) == 32);
  }
}

TEST_CASE("runtime.task_handle_outlives_run" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal::task<int> done;
    canal::task<int> failed;
    canal_test::in_runtime(w, [&] {
      done = canal::go([] { return 5; });
      failed = canal::go([]() -> int { throw std::runtime_error("kept"); });
      done.join();
      failed.join();
    });
    // After run() returned: no runtime, but finished handles still answer.
    CHECK(done.ready());
    CHECK(done.get() == 5);
    CHECK(done.wait_for(0ms));
    CHECK_THROWS_WITH_AS(failed.get(), "kept", std::runtime_error);
  }
}
