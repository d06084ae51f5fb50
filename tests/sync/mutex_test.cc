// canal::mutex: Go's TestMutex and TestMutexFairness, counters under the lock, a lock held across
// a yield and a sleep, timed locking, misuse, std lock adaptors.
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;
using sync_test::nap;

namespace {

// Go's HammerMutex.
void hammer_mutex(canal::mutex& m, int loops) {
  for (int i = 0; i < loops; ++i) {
    if (i % 3 == 0) {
      if (m.try_lock()) m.unlock();
      continue;
    }
    m.lock();
    m.unlock();
  }
}

}  // namespace

TEST_CASE("TestMutex" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::mutex m;
      m.lock();
      CHECK_FALSE(m.try_lock());  // "TryLock succeeded with mutex locked"
      m.unlock();
      CHECK(m.try_lock());  // "TryLock failed with mutex unlocked"
      m.unlock();
      canal::chan<bool> c(0);
      for (int i = 0; i < 10; ++i)
        canal::go([&m, c] {
          hammer_mutex(m, 1000);
          c.send(true);
        });
      for (int i = 0; i < 10; ++i) CHECK(c.recv_for(60s));
      CHECK(m.try_lock());
      m.unlock();
    });
  }
}

// Many greenlets increment a plain counter under the lock, yielding inside the critical section
// now and then (the others then block on it); the count must be exact.
TEST_CASE("mutex.counter" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      const int tasks = 16, per = canal_test::sanitized ? 500 : 5000;
      canal::mutex m;
      long counter = 0;  // plain: only the lock protects it
      std::atomic<int> inside{0}, overlap{0};
      std::vector<canal::task<void>> ts;
      for (int t = 0; t < tasks; ++t)
        ts.push_back(canal::go([&] {
          for (int i = 1; i <= per; ++i) {
            std::lock_guard<canal::mutex> g(m);
            if (inside.fetch_add(1) != 0) overlap.fetch_add(1);
            ++counter;
            if (i % 50 == 0) canal::this_task::yield();
            inside.fetch_sub(1);
          }
        }));
      for (auto& t : ts) t.join();
      CHECK(counter == long(tasks) * per);
      CHECK(overlap.load() == 0);
    });
  }
}

// Go's TestMutexFairness: a greenlet that keeps re-locking (holding the lock while it sleeps)
// must not starve another that wants the lock 10 times.
TEST_CASE("TestMutexFairness" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (bool sleep_holding : {true, false}) {
      CAPTURE(sleep_holding);
      bool done_in_time = false;
      in_runtime(w, [&] {
        canal::mutex mu;
        std::atomic<bool> stop{false};
        auto hog = canal::go([&] {
          while (!stop.load()) {
            mu.lock();
            if (sleep_holding) canal::this_task::sleep_for(100us); else canal::this_task::yield();
            mu.unlock();
          }
        });
        auto fair = canal::go([&] {
          for (int i = 0; i < 10; ++i) {
            canal::this_task::sleep_for(100us);
            mu.lock();
            mu.unlock();
          }
        });
        done_in_time = fair.wait_for(10s);  // "can't acquire Mutex in 10 seconds"
        stop.store(true);
        hog.join();
        fair.join();
      });
      CHECK(done_in_time);
    }
  }
}

// The lock may be held across a yield and a park (sleep); others wait meanwhile, parked.
TEST_CASE("mutex.held_across_yield_and_sleep" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::mutex m;
      std::atomic<int> stage{0};
      std::atomic<bool> other_in{false}, other_early{false};
      auto holder = canal::go([&] {
        std::unique_lock<canal::mutex> lk(m);
        stage.store(1);
        canal::this_task::yield();
        canal::this_task::sleep_for(20ms);
        canal::this_task::yield();
        if (other_in.load()) other_early.store(true);
        stage.store(2);
      });  // unlocked here
      REQUIRE(sync_test::eventually([&] { return stage.load() >= 1; }));
      auto other = canal::go([&] {
        std::lock_guard<canal::mutex> g(m);
        other_in.store(true);
        if (stage.load() != 2) other_early.store(true);
      });
      CHECK(holder.wait_for(10s));
      CHECK(other.wait_for(10s));
      CHECK(other_in.load());
      CHECK_FALSE(other_early.load());
    });
  }
}

TEST_CASE("mutex.timed" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::mutex m;
      CHECK(m.try_lock_for(1ms));
      const auto t0 = std::chrono::steady_clock::now();
      auto t = canal::go([&] { return m.try_lock_for(20ms); });
      CHECK_FALSE(t.get());
      CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
      auto u = canal::go([&] { return m.try_lock_until(std::chrono::steady_clock::now() + 10s); });
      nap(5ms);
      m.unlock();
      CHECK(u.get());  // it holds m now
      CHECK_FALSE(m.try_lock());
      CHECK_FALSE(m.try_lock_for(0ms));
      m.unlock();
      CHECK(m.try_lock());
      m.unlock();
    });
  }
}

// Timed lockers time out while others unlock and re-lock: stale queue entries must never eat
// the lock (every later lock succeeds) and mutual exclusion holds.
TEST_CASE("mutex.timeouts_race_unlocks" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::mutex m;
      std::atomic<int> inside{0}, overlap{0}, got{0}, missed{0};
      std::vector<canal::task<void>> ts;
      const int per = canal_test::sanitized ? 100 : 400;
      for (int t = 0; t < 8; ++t)
        ts.push_back(canal::go([&, t] {
          for (int i = 0; i < per; ++i) {
            if (m.try_lock_for(std::chrono::microseconds(10 + (i * 7 + t) % 50))) {
              if (inside.fetch_add(1) != 0) overlap.fetch_add(1);
              if (i % 4 == 0) canal::this_task::sleep_for(20us); else canal::this_task::yield();
              inside.fetch_sub(1);
              m.unlock();
              got.fetch_add(1);
            } else {
              missed.fetch_add(1);
            }
          }
        }));
      for (auto& t : ts) t.join();
      CHECK(overlap.load() == 0);
      CHECK(got.load() + missed.load() == 8 * per);
      CHECK(got.load() > 0);
      CHECK(m.try_lock());  // nobody left holding it
      m.unlock();
    });
  }
}

TEST_CASE("mutex.misuse") {
  canal::mutex m;
  try {
    m.unlock();
    FAIL("unlock of an unlocked mutex did not throw");
  } catch (const canal::error& e) {
    CHECK(std::string(e.what()).find("unlock of unlocked mutex") != std::string::npos);
  }
  m.lock();
  m.unlock();
  CHECK_THROWS_AS(m.unlock(), canal::error);
  CHECK(m.try_lock());  // still usable
  m.unlock();
}

TEST_CASE("mutex.std_adaptors" * doctest::timeout(60)) {
  in_runtime(2, [&] {
    canal::mutex a, b;
    {
      std::scoped_lock both(a, b);
      CHECK_FALSE(a.try_lock());
      CHECK_FALSE(b.try_lock());
    }
    {
      std::unique_lock<canal::mutex> lk(a, std::defer_lock);
      CHECK(lk.try_lock_for(1ms));
      lk.unlock();
      CHECK(lk.try_lock_until(std::chrono::steady_clock::now() + 1ms));
    }
    // std::lock on two mutexes from greenlets taking them in opposite orders: no deadlock.
    std::atomic<int> rounds{0};
    auto t1 = canal::go([&] {
      for (int i = 0; i < 200; ++i) {
        std::scoped_lock l(a, b);
        rounds.fetch_add(1);
        if (i % 10 == 0) canal::this_task::yield();
      }
    });
    auto t2 = canal::go([&] {
      for (int i = 0; i < 200; ++i) {
        std::scoped_lock l(b, a);
        rounds.fetch_add(1);
        if (i % 10 == 0) canal::this_task::yield();
      }
    });
    CHECK(t1.wait_for(30s));
    CHECK(t2.wait_for(30s));
    CHECK(rounds.load() == 400);
  });
}

// Go allows another goroutine to unlock: the lock is not owned.
TEST_CASE("mutex.unlock_by_another_greenlet" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::mutex m;
      m.lock();
      canal::go([&] { m.unlock(); });
      m.lock();  // parks until the other greenlet unlocks
      m.unlock();
      CHECK(m.try_lock());
      m.unlock();
    });
  }
}
