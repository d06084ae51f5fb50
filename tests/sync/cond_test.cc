// canal::condition_variable: Go's TestCondSignal, TestCondSignalGenerations, TestCondBroadcast,
// timed waits with and without predicate, misuse.
#include <atomic>
#include <mutex>
#include <vector>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;
using sync_test::nap;

TEST_CASE("TestCondSignal" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    std::atomic<int> failures{0};
    in_runtime(w, [&] {
      canal::mutex m;
      canal::condition_variable c;
      int n = 2;
      canal::chan<bool> running(n), awake(n);
      for (int i = 0; i < n; ++i) {
        canal::go([&, running, awake] {
          std::unique_lock<canal::mutex> lk(m);
          running.send(true);
          c.wait(lk);
          awake.send(true);
        });
      }
      for (int i = 0; i < n; ++i) (void)running.recv();  // wait for everyone to run
      while (n > 0) {
        if (awake.try_recv()) failures.fetch_add(1);  // "goroutine not asleep"
        {
          std::lock_guard<canal::mutex> g(m);
          c.notify_one();
        }
        if (!awake.recv_for(10s)) failures.fetch_add(100);  // would deadlock: nobody woke up
        if (awake.try_recv()) failures.fetch_add(1000);  // "too many goroutines awake"
        --n;
      }
      c.notify_one();
    });
    CHECK(failures.load() == 0);
  }
}

TEST_CASE("TestCondSignalGenerations" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    std::atomic<int> failures{0};
    in_runtime(w, [&] {
      canal::mutex m;
      canal::condition_variable c;
      const int n = 100;
      canal::chan<bool> running(n);
      canal::chan<int> awake(n);
      for (int i = 0; i < n; ++i) {
        canal::go([&, i, running, awake] {
          std::unique_lock<canal::mutex> lk(m);
          running.send(true);
          c.wait(lk);
          awake.send(i);
        });
        if (i > 0) {
          auto a = awake.recv_for(10s);
          if (!a || *a != i - 1) failures.fetch_add(1);  // "wrong goroutine woke up"
        }
        (void)running.recv();
        std::lock_guard<canal::mutex> g(m);
        c.notify_one();
      }
      auto last = awake.recv_for(10s);
      if (!last || *last != n - 1) failures.fetch_add(1);
    });
    CHECK(failures.load() == 0);
  }
}

TEST_CASE("TestCondBroadcast" * doctest::timeout(180)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    std::atomic<int> failures{0};
    in_runtime(w, [&] {
      canal::mutex m;
      canal::condition_variable c;
      const int n = canal_test::sanitized ? 50 : 200;
      canal::chan<int> running(n), awake(n);
      bool exit = false;
      for (int i = 0; i < n; ++i) {
        canal::go([&, i, running, awake] {
          std::unique_lock<canal::mutex> lk(m);
          while (!exit) {
            running.send(i);
            c.wait(lk);
            awake.send(i);
          }
        });
      }
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          if (!running.recv_for(10s)) failures.fetch_add(1);  // would deadlock unless n run
        }
        if (i == n - 1) {
          std::lock_guard<canal::mutex> g(m);
          exit = true;
        }
        if (awake.try_recv()) failures.fetch_add(1);  // "goroutine not asleep"
        {
          std::lock_guard<canal::mutex> g(m);
          c.notify_all();
        }
        std::vector<bool> seen(n);
        for (int j = 0; j < n; ++j) {
          auto g = awake.recv_for(10s);
          if (!g) {
            failures.fetch_add(1);
            continue;
          }
          if (seen[*g]) failures.fetch_add(1);  // "goroutine woke up twice"
          seen[*g] = true;
        }
      }
      nap(1ms);
      if (running.try_recv()) failures.fetch_add(1);  // "goroutine did not exit"
      c.notify_all();
    });
    CHECK(failures.load() == 0);
  }
}

TEST_CASE("cond.timed_and_predicates" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::mutex m;
      canal::condition_variable c;
      std::unique_lock<canal::mutex> lk(m);
      const auto t0 = std::chrono::steady_clock::now();
      CHECK(c.wait_for(lk, 20ms) == std::cv_status::timeout);
      CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
      CHECK(lk.owns_lock());
      CHECK_FALSE(m.try_lock());  // held again after the timeout
      CHECK(c.wait_until(lk, std::chrono::steady_clock::now() - 1s) == std::cv_status::timeout);
      CHECK_FALSE(c.wait_for(lk, 5ms, [] { return false; }));
      CHECK(c.wait_for(lk, 5ms, [] { return true; }));
      int value = 0;
      auto setter = canal::go([&] {
        for (int i = 1; i <= 3; ++i) {
          nap(2ms);
          std::lock_guard<canal::mutex> g(m);
          value = i;
          c.notify_all();
        }
      });
      CHECK(c.wait_until(lk, std::chrono::system_clock::now() + 10s, [&] { return value == 3; }));
      CHECK(value == 3);
      lk.unlock();
      setter.join();
      // Untimed predicate wait.
      lk.lock();
      auto setter2 = canal::go([&] {
        nap(2ms);
        std::lock_guard<canal::mutex> g(m);
        value = 10;
        c.notify_one();
      });
      c.wait(lk, [&] { return value == 10; });
      CHECK(lk.owns_lock());
      lk.unlock();
      setter2.join();
    });
  }
}

// A notification races with timeouts: every waiter returns exactly once, holds the lock when it
// returns, and no notification is lost to a waiter that timed out (the last notify_one always
// finds a live waiter if there is one).
TEST_CASE("cond.notify_races_timeouts" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::mutex m;
      canal::condition_variable c;
      int tokens = 0;  // under m
      std::atomic<int> consumed{0}, bad{0};
      const int n = canal_test::sanitized ? 100 : 500;
      std::vector<canal::task<void>> consumers;
      for (int k = 0; k < 4; ++k)
        consumers.push_back(canal::go([&] {
          std::unique_lock<canal::mutex> lk(m);
          while (consumed.load() < n) {
            if (tokens > 0) {
              --tokens;
              consumed.fetch_add(1);
              continue;
            }
            (void)c.wait_for(lk, std::chrono::microseconds(30));
            if (!lk.owns_lock()) bad.fetch_add(1);
          }
        }));
      for (int i = 0; i < n; ++i) {
        std::lock_guard<canal::mutex> g(m);
        ++tokens;
        c.notify_one();
        if (i % 8 == 0) canal::this_task::yield();
      }
      for (auto& t : consumers) CHECK(t.wait_for(30s));
      CHECK(consumed.load() == n);
      CHECK(bad.load() == 0);
    });
  }
}

TEST_CASE("cond.misuse") {
  canal::mutex m;
  canal::condition_variable c;
  std::unique_lock<canal::mutex> lk(m, std::defer_lock);
  CHECK_THROWS_AS(c.wait(lk), canal::error);
  std::unique_lock<canal::mutex> none;
  CHECK_THROWS_AS(c.wait_for(none, 1ms), canal::error);
  // A unique_lock that claims ownership of a mutex somebody unlocked behind its back.
  lk.lock();
  m.unlock();
  CHECK_THROWS_AS(c.wait_for(lk, 1ms), canal::error);
  lk.release();
  c.notify_one();  // nobody queued: no-op
  c.notify_all();
  CHECK(m.try_lock());
  m.unlock();
}
