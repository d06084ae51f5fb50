// Greenlets and plain OS threads sharing one mutex + condition_variable + wait_group (a bounded
// queue), and every primitive used from threads without a runtime.
#include <atomic>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;

namespace {

// A bounded queue guarded by a canal::mutex with two condition variables.
struct bounded_queue {
  canal::mutex m;
  canal::condition_variable not_empty, not_full;
  std::deque<long> q;
  std::size_t cap = 4;
  bool closed = false;

  void push(long v) {
    std::unique_lock<canal::mutex> lk(m);
    not_full.wait(lk, [&] { return q.size() < cap; });
    q.push_back(v);
    not_empty.notify_one();
  }
  bool pop(long& out) {
    std::unique_lock<canal::mutex> lk(m);
    not_empty.wait(lk, [&] { return !q.empty() || closed; });
    if (q.empty()) return false;
    out = q.front();
    q.pop_front();
    not_full.notify_one();
    return true;
  }
  void close() {
    std::lock_guard<canal::mutex> g(m);
    closed = true;
    not_empty.notify_all();
  }
};

}  // namespace

TEST_CASE("threads.greenlets_and_threads_share_mutex_cond_wait_group" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    const long per = canal_test::sanitized ? 300 : 2000;
    std::atomic<long> sum{0}, count{0};
    in_runtime(w, [&] {
      bounded_queue bq;
      canal::wait_group producers, consumers;
      producers.add(4);
      consumers.add(4);
      std::vector<std::thread> threads;
      // Producers: two threads, two greenlets; values 1..per each.
      for (int i = 0; i < 2; ++i)
        threads.emplace_back([&] {
          for (long v = 1; v <= per; ++v) bq.push(v);
          producers.done();
        });
      for (int i = 0; i < 2; ++i)
        canal::go([&] {
          for (long v = 1; v <= per; ++v) bq.push(v);
          producers.done();
        });
      // Consumers: two threads, two greenlets.
      auto consume = [&] {
        long v;
        while (bq.pop(v)) {
          sum.fetch_add(v);
          count.fetch_add(1);
        }
        consumers.done();
      };
      for (int i = 0; i < 2; ++i) threads.emplace_back(consume);
      for (int i = 0; i < 2; ++i) (void)canal::go(consume);
      // A thread waits for the producers (blocking the thread), then closes the queue.
      threads.emplace_back([&] {
        producers.wait();
        bq.close();
      });
      CHECK(consumers.wait_for(60s));  // the main greenlet parks
      for (auto& t : threads) t.join();
    });
    CHECK(count.load() == 4 * per);
    CHECK(sum.load() == 4 * (per * (per + 1) / 2));
  }
}

// Mutual exclusion between threads and greenlets hammering one mutex with timed attempts.
TEST_CASE("threads.mutex_hammer_mixed" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    long counter = 0;
    const int per = canal_test::sanitized ? 500 : 3000;
    std::atomic<int> inside{0}, overlap{0};
    in_runtime(w, [&] {
      canal::mutex m;
      auto body = [&] {
        for (int i = 0; i < per; ++i) {
          std::unique_lock<canal::mutex> lk(m, std::defer_lock);
          if (i % 5 == 0) {
            if (!lk.try_lock_for(50ms)) lk.lock();
          } else {
            lk.lock();
          }
          if (inside.fetch_add(1) != 0) overlap.fetch_add(1);
          ++counter;
          if (i % 100 == 0) canal::this_task::yield();
          inside.fetch_sub(1);
        }
      };
      std::vector<std::thread> ts;
      for (int i = 0; i < 2; ++i) ts.emplace_back(body);
      std::vector<canal::task<void>> gs;
      for (int i = 0; i < 4; ++i) gs.push_back(canal::go(body));
      for (auto& g : gs) g.join();
      for (auto& t : ts) t.join();
    });
    CHECK(counter == 6L * per);
    CHECK(overlap.load() == 0);
  }
}

// No runtime at all: every primitive works between plain threads.
TEST_CASE("threads.without_runtime" * doctest::timeout(60)) {
  canal::mutex m;
  canal::condition_variable c;
  canal::wait_group wg;
  canal::semaphore sem(0);
  canal::shared_mutex sm;
  canal::once_flag once;
  long counter = 0;
  int ready = 0, onces = 0;
  wg.add(4);
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      canal::call_once(once, [&] { ++onces; });
      for (int k = 0; k < 1000; ++k) {
        std::lock_guard<canal::mutex> g(m);
        ++counter;
      }
      {
        std::unique_lock<canal::mutex> lk(m);
        ++ready;
        c.notify_all();
        c.wait(lk, [&] { return ready == 4; });
      }
      sem.acquire();
      {
        std::shared_lock<canal::shared_mutex> r(sm);
      }
      wg.done();
    });
  std::this_thread::sleep_for(5ms);
  CHECK_FALSE(wg.wait_for(1ms));
  sem.release(4);
  wg.wait();
  for (auto& t : ts) t.join();
  CHECK(counter == 4000);
  CHECK(onces == 1);
  CHECK(sem.available() == 0);
}
