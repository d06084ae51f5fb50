// canal::call_once: Go's TestOnce and TestOncePanic (adapted: std::call_once's retry rule),
// parked concurrent callers, recursion.
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;
using sync_test::nap;

TEST_CASE("TestOnce" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    std::atomic<int> bad{0};
    in_runtime(w, [&] {
      int o = 0;  // plain: call_once publishes it
      canal::once_flag once;
      canal::chan<bool> c(0);
      const int n = 10;
      for (int i = 0; i < n; ++i)
        canal::go([&, c] {
          canal::call_once(once, [&o] {
            canal::this_task::yield();  // let the others arrive and wait
            ++o;
          });
          if (o != 1) bad.fetch_add(1);  // "once failed inside run"
          c.send(true);
        });
      for (int i = 0; i < n; ++i) (void)c.recv();
      CHECK(o == 1);
      CHECK(once.is_done());
    });
    CHECK(bad.load() == 0);
  }
}

// Go's TestOncePanic, with std::call_once's rule: a call whose function throws does not count;
// the exception reaches its caller and the next call runs the function again.
TEST_CASE("TestOncePanic") {
  canal::once_flag once;
  int calls = 0;
  for (int i = 0; i < 2; ++i) {
    try {
      canal::call_once(once, [&] {
        ++calls;
        throw std::runtime_error("failed");
      });
      FAIL("Once.Do did not throw");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()) == "failed");
    }
  }
  CHECK(calls == 2);
  CHECK_FALSE(once.is_done());
  canal::call_once(once, [&](int k) { calls += k; }, 10);
  CHECK(calls == 12);
  canal::call_once(once, [&] { FAIL("Once.Do called twice"); });
  CHECK(once.is_done());
}

// While the first caller runs, the others wait parked; if it throws, one waiter runs it again.
TEST_CASE("once.waiters_retry_after_throw" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::once_flag once;
      canal::event go_on;
      std::atomic<int> runs{0}, threw{0}, ok{0};
      auto first = canal::go([&] {
        try {
          canal::call_once(once, [&] {
            runs.fetch_add(1);
            go_on.wait();
            throw std::runtime_error("first run fails");
          });
        } catch (const std::runtime_error&) {
          threw.fetch_add(1);
        }
      });
      REQUIRE(sync_test::eventually([&] { return runs.load() == 1; }));
      std::vector<canal::task<void>> others;
      for (int i = 0; i < 5; ++i)
        others.push_back(canal::go([&] {
          canal::call_once(once, [&] { runs.fetch_add(1); });
          ok.fetch_add(1);
        }));
      nap(5ms);
      CHECK(runs.load() == 1);  // the others wait
      CHECK(ok.load() == 0);
      go_on.set();
      first.join();
      for (auto& t : others) CHECK(t.wait_for(10s));
      CHECK(threw.load() == 1);
      CHECK(runs.load() == 2);  // exactly one retry succeeded
      CHECK(ok.load() == 5);
      CHECK(once.is_done());
    });
  }
}

TEST_CASE("once.recursive_call_is_an_error") {
  canal::once_flag once;
  bool inner_threw = false;
  canal::call_once(once, [&] {
    try {
      canal::call_once(once, [] {});
    } catch (const canal::error& e) {
      inner_threw = std::string(e.what()).find("call_once") != std::string::npos;
    }
  });
  CHECK(inner_threw);
  CHECK(once.is_done());
}

TEST_CASE("once.threads_and_greenlets" * doctest::timeout(60)) {
  canal::once_flag once;
  std::atomic<int> runs{0};
  in_runtime(2, [&] {
    std::vector<std::thread> ts;
    for (int i = 0; i < 3; ++i)
      ts.emplace_back([&] {
        canal::call_once(once, [&] {
          std::this_thread::sleep_for(5ms);
          runs.fetch_add(1);
        });
      });
    std::vector<canal::task<void>> gs;
    for (int i = 0; i < 5; ++i)
      gs.push_back(canal::go([&] { canal::call_once(once, [&] { runs.fetch_add(1); }); }));
    for (auto& g : gs) g.join();
    for (auto& t : ts) t.join();
  });
  CHECK(runs.load() == 1);
}
