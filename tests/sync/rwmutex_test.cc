// canal::shared_mutex: Go's TestParallelReaders and TestRWMutex (HammerRWMutex), writers not
// starved by a stream of readers, timed and try variants, misuse, std::shared_lock.
#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;
using sync_test::nap;

namespace {

void do_test_parallel_readers(int num_readers, std::size_t w) {
  in_runtime(w, [&] {
    canal::shared_mutex m;
    canal::chan<bool> clocked(0), cunlock(0), cdone(0);
    for (int i = 0; i < num_readers; ++i)
      canal::go([&m, clocked, cunlock, cdone] {
        m.lock_shared();
        clocked.send(true);
        (void)cunlock.recv();
        m.unlock_shared();
        cdone.send(true);
      });
    // Wait for all parallel lock_shared()s to succeed.
    for (int i = 0; i < num_readers; ++i) CHECK(clocked.recv_for(10s));
    for (int i = 0; i < num_readers; ++i) cunlock.send(true);
    for (int i = 0; i < num_readers; ++i) CHECK(cdone.recv_for(10s));
  });
}

// Go's reader/writer: activity counts readers by 1 and writers by 10000.
void reader(canal::shared_mutex& m, int iterations, std::atomic<int>& activity,
            std::atomic<int>& bad) {
  for (int i = 0; i < iterations; ++i) {
    std::shared_lock<canal::shared_mutex> lk(m);
    const int n = activity.fetch_add(1) + 1;
    if (n < 1 || n >= 10000) bad.fetch_add(1);  // "wlock(n)"
    if (i % 7 == 0) canal::this_task::yield();
    activity.fetch_sub(1);
  }
}

void writer(canal::shared_mutex& m, int iterations, std::atomic<int>& activity,
            std::atomic<int>& bad) {
  for (int i = 0; i < iterations; ++i) {
    std::lock_guard<canal::shared_mutex> lk(m);
    const int n = activity.fetch_add(10000) + 10000;
    if (n != 10000) bad.fetch_add(1);  // "wlock(n)"
    if (i % 5 == 0) canal::this_task::yield();
    activity.fetch_sub(10000);
  }
}

void hammer_rw_mutex(std::size_t w, int num_readers, int iterations) {
  std::atomic<int> bad{0};
  in_runtime(w, [&] {
    std::atomic<int> activity{0};
    canal::shared_mutex m;
    std::vector<canal::task<void>> ts;
    ts.push_back(canal::go([&] { writer(m, iterations, activity, bad); }));
    int i = 0;
    for (; i < num_readers / 2; ++i)
      ts.push_back(canal::go([&] { reader(m, iterations, activity, bad); }));
    ts.push_back(canal::go([&] { writer(m, iterations, activity, bad); }));
    for (; i < num_readers; ++i)
      ts.push_back(canal::go([&] { reader(m, iterations, activity, bad); }));
    for (auto& t : ts) CHECK(t.wait_for(60s));
    CHECK(activity.load() == 0);
    CHECK(m.try_lock());
    m.unlock();
  });
  CHECK(bad.load() == 0);
}

}  // namespace

TEST_CASE("TestParallelReaders" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    do_test_parallel_readers(1, w);
    do_test_parallel_readers(3, w);
    do_test_parallel_readers(4, w);
  }
}

TEST_CASE("TestRWMutex" * doctest::timeout(180)) {
  const int n = canal_test::sanitized ? 200 : 1000;
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (int readers : {1, 3, 10}) {
      CAPTURE(readers);
      hammer_rw_mutex(w, readers, n);
    }
  }
}

// A writer gets in while readers keep overlapping (each holds the lock across a yield, so the
// reader count never drops to zero by itself): new readers queue behind the waiting writer.
TEST_CASE("rwmutex.writer_not_starved" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::shared_mutex m;
      std::atomic<bool> stop{false};
      std::atomic<long> reads{0};
      std::vector<canal::task<void>> rs;
      for (int i = 0; i < 4; ++i)
        rs.push_back(canal::go([&] {
          while (!stop.load()) {
            std::shared_lock<canal::shared_mutex> lk(m);
            reads.fetch_add(1);
            canal::this_task::yield();
          }
        }));
      REQUIRE(sync_test::eventually([&] { return reads.load() > 10; }));
      auto wr = canal::go([&] {
        m.lock();
        m.unlock();
      });
      CHECK(wr.wait_for(10s));
      stop.store(true);
      for (auto& t : rs) CHECK(t.wait_for(10s));
    });
  }
}

// When a writer unlocks, readers that queued while it held the lock go before the next writer.
TEST_CASE("rwmutex.readers_after_writer" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::shared_mutex m;
      m.lock();
      canal::chan<char> order(8);
      std::atomic<int> arrived{0};
      // Each queues in turn (wait until it arrived, then give it time to park).
      auto queued = [&](int k) {
        REQUIRE(sync_test::eventually([&] { return arrived.load() == k; }));
        nap(5ms);
      };
      auto r1 = canal::go([&m, &arrived, order] {
        arrived.fetch_add(1);
        m.lock_shared();
        order.send('r');
        canal::this_task::sleep_for(2ms);
        m.unlock_shared();
      });
      queued(1);
      auto w2 = canal::go([&m, &arrived, order] {
        arrived.fetch_add(1);
        m.lock();
        order.send('w');
        m.unlock();
      });
      queued(2);
      auto r2 = canal::go([&m, &arrived, order] {
        arrived.fetch_add(1);
        m.lock_shared();
        order.send('r');
        canal::this_task::sleep_for(2ms);
        m.unlock_shared();
      });
      queued(3);
      m.unlock();
      r1.join();
      w2.join();
      r2.join();
      std::string s;
      for (int i = 0; i < 3; ++i) s += *order.recv();
      // r1 queued before the writer; r2 after it: both readers (queued during the write) go
      // first, then the writer.
      CHECK(s == "rrw");
    });
  }
}

TEST_CASE("rwmutex.try_timed_misuse" * doctest::timeout(60)) {
  in_runtime(2, [&] {
    canal::shared_mutex m;
    CHECK(m.try_lock_shared());
    CHECK(m.try_lock_shared_for(1ms));
    CHECK_FALSE(m.try_lock());
    CHECK_FALSE(m.try_lock_for(5ms));
    m.unlock_shared();
    m.unlock_shared();
    CHECK(m.try_lock_until(std::chrono::steady_clock::now() + 1ms));
    CHECK_FALSE(m.try_lock_shared());
    CHECK_FALSE(m.try_lock_shared_until(std::chrono::steady_clock::now() + 5ms));
    CHECK_THROWS_AS(m.unlock_shared(), canal::error);
    m.unlock();
    CHECK_THROWS_AS(m.unlock(), canal::error);
    CHECK_THROWS_AS(m.unlock_shared(), canal::error);
    // A timed-out writer must not keep readers out.
    m.lock_shared();
    auto wt = canal::go([&] { return m.try_lock_for(10ms); });
    nap(2ms);
    auto rd = canal::go([&] {
      m.lock_shared();  // queued behind the writer until it gives up
      m.unlock_shared();
    });
    CHECK_FALSE(wt.get());
    CHECK(rd.wait_for(10s));
    m.unlock_shared();
    CHECK(m.try_lock());
    m.unlock();
  });
}
