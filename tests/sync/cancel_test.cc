// task::kill() reaching a greenlet parked in each kind of wait: canal::cancelled is thrown from
// the wait and the primitive stays consistent (counts unchanged, the mutex lockable again, no
// permit or notification lost, a condition_variable waiter holds its mutex again).
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;
using sync_test::check_killed;
using sync_test::nap;
using sync_test::probe;
using sync_test::spawn_parked;

TEST_CASE("cancel.mutex" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (bool timed : {false, true}) {
      CAPTURE(timed);
      in_runtime(w, [&] {
        canal::mutex m;
        m.lock();
        probe p;
        auto t = spawn_parked(p, [&m, timed] {
          if (timed) (void)m.try_lock_for(1h); else m.lock();
          m.unlock();
        });
        // A second waiter queued behind the killed one still gets the lock.
        auto next = canal::go([&m] { std::lock_guard<canal::mutex> g(m); });
        nap(2ms);
        check_killed(t, p);
        m.unlock();
        CHECK(next.wait_for(10s));
        CHECK(m.try_lock());
        m.unlock();
      });
    }
  }
}

TEST_CASE("cancel.condition_variable" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (bool timed : {false, true}) {
      CAPTURE(timed);
      in_runtime(w, [&] {
        canal::mutex m;
        canal::condition_variable c;
        auto held_on_exit = std::make_shared<std::atomic<int>>(-1);
        probe p;
        auto t = spawn_parked(p, [&, held_on_exit, timed] {
          std::unique_lock<canal::mutex> lk(m);
          try {
            if (timed) (void)c.wait_for(lk, 1h); else c.wait(lk);
          } catch (const canal::cancelled&) {
            // The mutex is ours again: owned, and nobody else can take it.
            held_on_exit->store(lk.owns_lock() && !m.try_lock() ? 1 : 0);
            throw;
          }
        });
        // Kill it while we hold the mutex: it must wait for the mutex before cancelled leaves
        // wait(), and must not be cancellable while doing so.
        m.lock();
        t.kill();
        nap(10ms);
        CHECK_FALSE(t.ready());
        t.kill();  // a second kill while it re-acquires changes nothing
        nap(2ms);
        CHECK_FALSE(t.ready());
        m.unlock();
        REQUIRE(t.wait_for(10s));
        CHECK(p.caught->load());
        CHECK(held_on_exit->load() == 1);
        CHECK_THROWS_AS(t.get(), canal::cancelled);
        CHECK(m.try_lock());  // released by the unique_lock as it unwound
        m.unlock();
        // No notification is lost to the killed waiter: a live waiter gets notify_one.
        auto live = canal::go([&] {
          std::unique_lock<canal::mutex> lk(m);
          c.wait(lk);
        });
        nap(5ms);
        {
          std::lock_guard<canal::mutex> g(m);
          c.notify_one();
        }
        CHECK(live.wait_for(10s));
      });
    }
  }
}

TEST_CASE("cancel.event" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::event e;
      probe p;
      auto t = spawn_parked(p, [&e] { e.wait(); });
      probe q;
      auto t2 = spawn_parked(q, [&e] { (void)e.wait_for(1h); });
      check_killed(t, p);
      check_killed(t2, q);
      CHECK_FALSE(e.is_set());
      auto live = canal::go([&e] { e.wait(); });
      nap(2ms);
      e.set();
      CHECK(live.wait_for(10s));
    });
  }
}

TEST_CASE("cancel.semaphore" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::semaphore s(0);
      probe p;
      auto t = spawn_parked(p, [&s] { s.acquire(); });
      probe q;
      auto t2 = spawn_parked(q, [&s] { (void)s.try_acquire_for(1h); });
      auto live = canal::go([&s] { s.acquire(); });
      nap(2ms);
      check_killed(t, p);
      check_killed(t2, q);
      s.release(2);  // the killed waiters took nothing: the live one gets one, one stays
      CHECK(live.wait_for(10s));
      CHECK(s.available() == 1);

      canal::bounded_semaphore b(1);
      b.acquire();
      probe r;
      auto t3 = spawn_parked(r, [&b] { b.acquire(); });
      check_killed(t3, r);
      b.release();
      CHECK(b.available() == 1);  // the permit was not lost
      CHECK_THROWS_AS(b.release(), canal::error);
    });
  }
}

TEST_CASE("cancel.wait_group" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::wait_group wg;
      wg.add(2);
      probe p;
      auto t = spawn_parked(p, [&wg] { wg.wait(); });
      probe q;
      auto t2 = spawn_parked(q, [&wg] { (void)wg.wait_for(1h); });
      check_killed(t, p);
      check_killed(t2, q);
      CHECK(wg.count() == 2);
      auto live = canal::go([&wg] { wg.wait(); });
      wg.done();
      wg.done();
      CHECK(live.wait_for(10s));
      CHECK(wg.count() == 0);
    });
  }
}

TEST_CASE("cancel.async_result" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::async_result<int> a;
      probe p;
      auto t = spawn_parked(p, [a] { (void)a.get(); });
      probe q;
      auto t2 = spawn_parked(q, [a] { (void)a.wait_for(1h); });
      check_killed(t, p);
      check_killed(t2, q);
      CHECK_FALSE(a.ready());
      auto live = canal::go([a] { return a.get(); });
      a.set(5);
      CHECK(live.get() == 5);
    });
  }
}

TEST_CASE("cancel.once" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::once_flag once;
      canal::event release_runner;
      std::atomic<int> runs{0};
      // The runner parks inside f; a second caller parks waiting for it; kill the waiter.
      auto runner = canal::go([&] {
        canal::call_once(once, [&] {
          runs.fetch_add(1);
          release_runner.wait();
        });
      });
      REQUIRE(sync_test::eventually([&] { return runs.load() == 1; }));
      probe p;
      auto t = spawn_parked(p, [&] { canal::call_once(once, [&] { runs.fetch_add(100); }); });
      check_killed(t, p);
      // Now kill the runner inside f: f throws cancelled, the flag is not set, and a waiter
      // runs f again.
      auto waiter = canal::go([&] { canal::call_once(once, [&] { runs.fetch_add(10); }); });
      nap(2ms);
      runner.kill();
      CHECK(runner.wait_for(10s));
      CHECK_THROWS_AS(runner.get(), canal::cancelled);
      CHECK(waiter.wait_for(10s));
      CHECK(runs.load() == 11);
      CHECK(once.is_done());
    });
  }
}

TEST_CASE("cancel.shared_mutex" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::shared_mutex m;
      m.lock_shared();
      // A writer waits for the reader; a reader queues behind that writer.
      probe p;
      auto wr = spawn_parked(p, [&m] {
        m.lock();
        m.unlock();
      });
      probe q;
      auto rd = spawn_parked(q, [&m] {
        m.lock_shared();
        m.unlock_shared();
      });
      // Killing the queued reader leaves the state alone.
      check_killed(rd, q);
      // Killing the waiting writer lets new readers in again while we still read.
      check_killed(wr, p);
      auto rd2 = canal::go([&m] {
        m.lock_shared();
        m.unlock_shared();
      });
      CHECK(rd2.wait_for(10s));
      m.unlock_shared();
      CHECK(m.try_lock());
      m.unlock();
      // A killed reader queued behind a writer that holds the lock.
      m.lock();
      probe r;
      auto rd3 = spawn_parked(r, [&m] { std::shared_lock<canal::shared_mutex> lk(m); });
      check_killed(rd3, r);
      m.unlock();
      CHECK(m.try_lock_shared());
      m.unlock_shared();
    });
  }
}

// run() returning while greenlets wait on each primitive: shutdown cancels them all, including
// a condition_variable waiter that must get its mutex back first.
TEST_CASE("cancel.shutdown_with_waiters" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    canal::mutex m;
    canal::condition_variable c;
    canal::event e;
    canal::semaphore s(0);
    canal::wait_group wg;
    canal::shared_mutex sm;
    auto unwound = std::make_shared<std::atomic<int>>(0);
    in_runtime(w, [&] {
      wg.add(1);
      m.lock();
      sm.lock();
      auto count = [unwound] {
        struct g {
          std::shared_ptr<std::atomic<int>> u;
          ~g() { u->fetch_add(1); }
        };
        return g{unwound};
      };
      canal::go([&, count] { auto x = count(); std::lock_guard<canal::mutex> lk(m); });
      canal::go([&, count] { auto x = count(); e.wait(); });
      canal::go([&, count] { auto x = count(); s.acquire(); });
      canal::go([&, count] { auto x = count(); wg.wait(); });
      canal::go([&, count] { auto x = count(); std::shared_lock<canal::shared_mutex> lk(sm); });
      nap(5ms);
      m.unlock();
      canal::go([&, count] {
        auto x = count();
        std::unique_lock<canal::mutex> lk(m);
        c.wait(lk);
      });
      nap(5ms);
    });
    CHECK(unwound->load() == 6);
    CHECK(m.try_lock());
    m.unlock();
    CHECK(s.available() == 0);
    CHECK(wg.count() == 1);
    wg.done();
    sm.unlock();
  }
}
