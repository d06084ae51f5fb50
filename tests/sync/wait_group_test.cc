// canal::wait_group: Go's TestWaitGroup and TestWaitGroupMisuse, timed waits, rounds.
#include <atomic>
#include <string>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;
using sync_test::nap;

namespace {

// Go's testWaitGroup: wg1 counts greenlets that started, wg2 holds them until every Done.
void test_wait_group(canal::wait_group& wg1, canal::wait_group& wg2, std::atomic<int>& failures) {
  const int n = 16;
  wg1.add(n);
  wg2.add(n);
  canal::chan<bool> exited(n);
  for (int i = 0; i != n; ++i) {
    canal::go([&wg1, &wg2, exited] {
      wg1.done();
      wg2.wait();
      exited.send(true);
    });
  }
  wg1.wait();
  for (int i = 0; i != n; ++i) {
    if (exited.try_recv()) failures.fetch_add(1);  // "WaitGroup released group too soon"
    wg2.done();
  }
  for (int i = 0; i != n; ++i) {
    if (!exited.recv_for(10s)) failures.fetch_add(1);  // a barrier failed to release someone
  }
}

}  // namespace

TEST_CASE("TestWaitGroup" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    std::atomic<int> failures{0};
    in_runtime(w, [&] {
      canal::wait_group wg1, wg2;
      // Run the same test a few times to ensure that the wait groups are reusable.
      for (int i = 0; i != 8; ++i) test_wait_group(wg1, wg2, failures);
    });
    CHECK(failures.load() == 0);
  }
}

TEST_CASE("TestWaitGroupMisuse") {
  canal::wait_group wg;
  wg.add(1);
  wg.done();
  try {
    wg.done();
    FAIL("done() below zero did not throw");
  } catch (const canal::error& e) {
    CHECK(std::string(e.what()).find("negative") != std::string::npos);
  }
  CHECK(wg.count() == 0);  // unchanged by the failed done()
  CHECK_THROWS_AS(wg.add(-1), canal::error);
  wg.add(2);
  CHECK_THROWS_AS(wg.add(-3), canal::error);
  CHECK(wg.count() == 2);
  wg.add(-2);
  wg.wait();  // zero: returns at once
}

TEST_CASE("wait_group.timed" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::wait_group wg;
      CHECK(wg.wait_for(0ms));  // zero counter
      wg.add(1);
      const auto t0 = std::chrono::steady_clock::now();
      CHECK_FALSE(wg.wait_for(20ms));
      CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
      CHECK_FALSE(wg.wait_until(std::chrono::steady_clock::now() - 1s));  // past deadline
      CHECK(wg.count() == 1);
      canal::go([&wg] {
        nap(5ms);
        wg.done();
      });
      CHECK(wg.wait_for(10s));
      CHECK(wg.wait_until(std::chrono::system_clock::now() + 1s));
    });
  }
}

// When the counter reaches zero every wait in progress is released, even if an add() raises it
// again before the released waiters run; a wait that starts after that add waits for the new
// round.
TEST_CASE("wait_group.rounds" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::wait_group wg;
      wg.add(1);
      std::atomic<int> released{0};
      std::vector<canal::task<void>> waiters;
      for (int i = 0; i < 5; ++i)
        waiters.push_back(canal::go([&] {
          wg.wait();
          released.fetch_add(1);
        }));
      nap(5ms);
      CHECK(released.load() == 0);
      wg.done();   // round 1 ends: all five released
      wg.add(1);   // round 2 starts before they ran
      for (auto& t : waiters) CHECK(t.wait_for(10s));
      CHECK(released.load() == 5);
      auto late = canal::go([&] { wg.wait(); });
      nap(5ms);
      CHECK_FALSE(late.ready());  // waits for round 2
      wg.done();
      CHECK(late.wait_for(10s));
    });
  }
}

TEST_CASE("wait_group.many_done" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      const int n = canal_test::sanitized ? 200 : 2000;
      canal::wait_group wg;
      std::atomic<int> ran{0};
      wg.add(n);
      for (int i = 0; i < n; ++i)
        canal::go([&] {
          if (ran.fetch_add(1) % 3 == 0) canal::this_task::yield();
          wg.done();
        });
      wg.wait();
      CHECK(ran.load() == n);
      CHECK(wg.count() == 0);
    });
  }
}
