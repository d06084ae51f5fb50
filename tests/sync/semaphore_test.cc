// canal::semaphore and canal::bounded_semaphore: gevent's BoundedSemaphore(2) example, FIFO
// hand-off, timed acquires racing releases (no permit lost), misuse.
#include <atomic>
#include <string>
#include <vector>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;
using sync_test::nap;

// gevent's example: BoundedSemaphore(2) lets two workers in at a time; an extra release throws.
TEST_CASE("bounded_semaphore.two_at_a_time" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::bounded_semaphore sem(2);
      std::atomic<int> inside{0}, max_inside{0}, done{0};
      std::vector<canal::task<void>> ts;
      for (int i = 0; i < 6; ++i)
        ts.push_back(canal::go([&] {
          sem.acquire();
          const int now = inside.fetch_add(1) + 1;
          int m = max_inside.load();
          while (now > m && !max_inside.compare_exchange_weak(m, now)) {
          }
          canal::this_task::sleep_for(3ms);
          inside.fetch_sub(1);
          sem.release();
          done.fetch_add(1);
        }));
      for (auto& t : ts) t.join();
      CHECK(done.load() == 6);
      CHECK(max_inside.load() == 2);
      CHECK(sem.available() == 2);
      try {
        sem.release();
        FAIL("over-release did not throw");
      } catch (const canal::error& e) {
        CHECK(std::string(e.what()).find("bounded_semaphore") != std::string::npos);
      }
      CHECK(sem.available() == 2);  // unchanged
      CHECK(sem.try_acquire());
      CHECK_THROWS_AS(sem.release(2), canal::error);
      sem.release();
      CHECK(sem.available() == 2);
    });
  }
}

TEST_CASE("semaphore.basics" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::semaphore s(0);
      CHECK_FALSE(s.try_acquire());
      const auto t0 = std::chrono::steady_clock::now();
      CHECK_FALSE(s.try_acquire_for(20ms));
      CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
      CHECK_FALSE(s.try_acquire_until(std::chrono::steady_clock::now() - 1s));
      s.release(3);
      CHECK(s.available() == 3);
      s.acquire();
      CHECK(s.try_acquire());
      CHECK(s.try_acquire_for(1ms));
      CHECK(s.available() == 0);
      // FIFO: waiters get released permits in the order they queued.
      canal::chan<int> order(8);
      std::atomic<int> arrived{0};
      std::vector<canal::task<void>> ts;
      for (int i = 0; i < 4; ++i) {
        ts.push_back(canal::go([&s, &arrived, order, i] {
          arrived.fetch_add(1);
          s.acquire();
          order.send(i);
        }));
        // Queue in order: wait until it arrived, then give it time to park.
        REQUIRE(sync_test::eventually([&] { return arrived.load() == i + 1; }));
        nap(5ms);
      }
      // One permit at a time: each goes to the oldest waiter.
      for (int i = 0; i < 4; ++i) {
        s.release();
        auto got = order.recv_for(10s);
        REQUIRE(got.ok());
        CHECK(*got == i);
      }
      for (auto& t : ts) t.join();
      CHECK(s.available() == 0);
      CHECK_THROWS_AS(s.release(-1), canal::error);
      CHECK_THROWS_AS(canal::semaphore(-1), canal::error);
      CHECK_THROWS_AS(canal::bounded_semaphore(0), canal::error);
    });
  }
}

// Timed acquires race with releases: at the end every permit is accounted for.
TEST_CASE("semaphore.timeouts_race_releases" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::semaphore s(2);
      std::atomic<int> inside{0}, over{0};
      const int per = canal_test::sanitized ? 100 : 400;
      std::vector<canal::task<void>> ts;
      for (int t = 0; t < 8; ++t)
        ts.push_back(canal::go([&, t] {
          for (int i = 0; i < per; ++i) {
            if (!s.try_acquire_for(std::chrono::microseconds(5 + (i * 13 + t) % 40))) continue;
            if (inside.fetch_add(1) >= 2) over.fetch_add(1);
            if (i % 3 == 0) canal::this_task::sleep_for(10us); else canal::this_task::yield();
            inside.fetch_sub(1);
            s.release();
          }
        }));
      for (auto& t : ts) t.join();
      CHECK(over.load() == 0);
      CHECK(s.available() == 2);
    });
  }
}
