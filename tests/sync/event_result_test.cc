// canal::event and canal::async_result: gevent's tutorial behaviours, timed waits, misuse.
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;
using sync_test::nap;

// gevent's Event example: five waiters block until one setter sets the event, then all five
// are released at once.
TEST_CASE("event.five_waiters" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::event evt;
      std::atomic<int> woke{0};
      std::vector<canal::task<void>> waiters;
      for (int i = 0; i < 5; ++i)
        waiters.push_back(canal::go([&] {
          evt.wait();
          woke.fetch_add(1);
        }));
      auto setter = canal::go([&] {
        canal::this_task::sleep_for(10ms);
        CHECK(woke.load() == 0);
        evt.set();
      });
      for (auto& t : waiters) CHECK(t.wait_for(10s));
      CHECK(woke.load() == 5);
      setter.join();
      CHECK(evt.is_set());
      evt.wait();  // set: returns at once
      CHECK(evt.wait_for(0ms));
      evt.clear();
      CHECK_FALSE(evt.is_set());
      const auto t0 = std::chrono::steady_clock::now();
      CHECK_FALSE(evt.wait_for(20ms));
      CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
      CHECK_FALSE(evt.wait_until(std::chrono::steady_clock::now() - 1s));
      auto t = canal::go([&] { return evt.wait_until(std::chrono::system_clock::now() + 10s); });
      nap(2ms);
      evt.set();
      CHECK(t.get());
    });
  }
}

// A waiter released by set() returns true even when clear() ran before it resumed.
TEST_CASE("event.set_then_clear_releases_waiters" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::event evt;
      auto t = canal::go([&] { return evt.wait_for(10s); });
      nap(5ms);
      evt.set();
      evt.clear();
      CHECK(t.get());
    });
  }
}

// gevent's AsyncResult example: a setter hands a value to every waiter.
TEST_CASE("async_result.hands_value_to_waiters" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::async_result<std::string> a;
      CHECK_FALSE(a.ready());
      CHECK_FALSE(a.successful());
      std::vector<canal::task<std::string>> waiters;
      for (int i = 0; i < 10; ++i) waiters.push_back(canal::go([a] { return a.get(); }));
      canal::go([a] {
        canal::this_task::sleep_for(5ms);
        a.set("Hello!");
      });
      for (auto& t : waiters) CHECK(t.get() == "Hello!");
      CHECK(a.ready());
      CHECK(a.successful());
      CHECK(a.exception() == nullptr);
      CHECK(a.get() == "Hello!");
      CHECK(a.get_for(0ms) == "Hello!");
      CHECK(a.wait_for(0ms));
      try {
        a.set("again");
        FAIL("second set did not throw");
      } catch (const canal::error& e) {
        CHECK(std::string(e.what()).find("already set") != std::string::npos);
      }
      CHECK_THROWS_AS(a.set_exception(std::make_exception_ptr(std::runtime_error("x"))),
                      canal::error);
      CHECK(a.get() == "Hello!");
    });
  }
}

TEST_CASE("async_result.exception_and_timeouts" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::async_result<int> a;
      CHECK_FALSE(a.wait_for(5ms));
      CHECK_THROWS_AS(a.get_for(5ms), canal::timeout_error);
      CHECK_THROWS_AS(a.set_exception(nullptr), canal::error);
      auto waiter = canal::go([a] {
        try {
          (void)a.get();
        } catch (const std::runtime_error& e) {
          return std::string(e.what());
        }
        return std::string("no exception");
      });
      nap(2ms);
      a.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
      CHECK(waiter.get() == "boom");
      CHECK(a.ready());
      CHECK_FALSE(a.successful());
      CHECK(a.exception() != nullptr);
      CHECK_THROWS_AS(a.get(), std::runtime_error);
      CHECK_THROWS_AS(a.set(1), canal::error);

      canal::async_result<> done;  // void
      auto v = canal::go([done] { done.get(); });
      nap(2ms);
      done.set();
      CHECK(v.wait_for(10s));
      CHECK(done.successful());
      CHECK_THROWS_AS(done.set(), canal::error);

      // Move-only values.
      canal::async_result<std::unique_ptr<int>> mp;
      mp.set(std::make_unique<int>(7));
      CHECK(*mp.get() == 7);
    });
  }
}

// The same objects from plain OS threads, without a runtime.
TEST_CASE("event_result.threads_without_runtime" * doctest::timeout(60)) {
  canal::event evt;
  canal::async_result<int> a;
  std::atomic<int> got{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      evt.wait();
      got.fetch_add(a.get());
    });
  std::this_thread::sleep_for(5ms);
  CHECK(got.load() == 0);
  a.set(10);
  evt.set();
  for (auto& t : ts) t.join();
  CHECK(got.load() == 40);
}
