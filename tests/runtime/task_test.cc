// canal::task and canal::go: spawn, join, get, kill, wait_for, joinall, handles, detaching.
// Every test runs under 1, 2 and 4 workers (canal_test::workers()).

#include <atomic>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;
using canal_test::tracked;

int fib(int n) {
  if (n < 2) return n;
  auto a = canal::go(fib, n - 1);
  auto b = canal::go(fib, n - 2);
  return a.get() + b.get();
}

}  // namespace

TEST_CASE("runtime.spawn_join" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::atomic<int> ran{0};
    canal_test::in_runtime(w, [&] {
      std::vector<canal::task<void>> tasks;
      for (int i = 0; i < 1000; ++i) tasks.push_back(canal::go([&ran] { ran.fetch_add(1); }));
      for (auto& t : tasks) t.join();
      CHECK(ran.load() == 1000);
      for (auto& t : tasks) {
        CHECK(t.ready());
        CHECK(t.successful());
      }
    });
    CHECK(ran.load() == 1000);
  }
}

TEST_CASE("runtime.get_returns_values" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      auto answer = canal::go([] { return 42; });
      CHECK(answer.get() == 42);
      CHECK(answer.get() == 42);  // get() may be called again for a copyable result

      canal::task<std::string> s = canal::go([](std::string a, std::string b) { return a + b; },
                                             std::string("can"), std::string("al"));
      CHECK(s.get() == "canal");

      // Sum of squares over many greenlets, collected with get().
      std::vector<canal::task<long>> sq;
      for (long i = 0; i < 500; ++i) sq.push_back(canal::go([i] { return i * i; }));
      long total = 0;
      for (auto& t : sq) total += t.get();
      CHECK(total == 499L * 500 * 999 / 6);

      // A tree of greenlets: each fib(n) spawns fib(n-1) and fib(n-2) and waits for both.
      CHECK(canal::go(fib, 14).get() == 377);
    });
  }
}

TEST_CASE("runtime.get_move_only_result" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      auto t = canal::go([] { return std::make_unique<int>(5); });
      std::unique_ptr<int> p = t.get();
      REQUIRE(p != nullptr);
      CHECK(*p == 5);
      CHECK_THROWS_AS(t.get(), canal::error);  // the move-only result was already taken
    });
  }
}

TEST_CASE("runtime.get_rethrows" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      auto t = canal::go([]() -> int { throw std::runtime_error("boom in greenlet"); });
      CHECK_THROWS_WITH_AS(t.get(), "boom in greenlet", std::runtime_error);
      CHECK(t.ready());
      CHECK_FALSE(t.successful());
      REQUIRE(t.exception() != nullptr);
      CHECK_THROWS_WITH_AS(std::rethrow_exception(t.exception()), "boom in greenlet",
                           std::runtime_error);
      // A canal::error subclass keeps its type.
      auto te = canal::go([] { throw canal::timeout_error("too slow"); });
      CHECK_THROWS_AS(te.get(), canal::timeout_error);
      // join() never rethrows.
      auto j = canal::go([] { throw std::logic_error("not rethrown by join"); });
      CHECK_NOTHROW(j.join());
      CHECK_THROWS_AS(j.get(), std::logic_error);
    });
  }
}

TEST_CASE("runtime.kill_sleeping" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    const long base = tracked::live.load();
    std::atomic<bool> started{false}, saw_cancel{false}, after_sleep{false};
    canal_test::in_runtime(w, [&] {
      auto t = canal::go([&] {
        tracked on_stack;
        started = true;
        try {
          canal::this_task::sleep_for(1h);
        } catch (const canal::cancelled&) {
          saw_cancel = true;
          throw;
        }
        after_sleep = true;
      });
      REQUIRE(rt::poll_until([&] { return started.load(); }));
      canal::this_task::sleep_for(10ms);  // let it park in sleep_for
      CHECK_FALSE(t.ready());
      const auto t0 = rt::steady::now();
      t.kill();
      t.join();
      CHECK(rt::elapsed(t0) < canal_test::slack);
      CHECK(t.ready());
      CHECK_FALSE(t.successful());
      CHECK(t.exception() != nullptr);
      CHECK_THROWS_AS(t.get(), canal::cancelled);
      CHECK(saw_cancel.load());
      CHECK_FALSE(after_sleep.load());
      t.kill();  // killing a finished greenlet changes nothing
      CHECK_THROWS_AS(t.get(), canal::cancelled);
    });
    CHECK(tracked::live.load() == base);
  }
}

TEST_CASE("runtime.kill_cancelled_is_not_std_exception" * doctest::timeout(60)) {
  // A catch (const std::exception&) in user code must not swallow a kill().
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::atomic<bool> swallowed{false};
    canal_test::in_runtime(w, [&] {
      auto t = canal::go([&] {
        try {
          canal::this_task::sleep_for(1h);
        } catch (const std::exception&) {
          swallowed = true;
        }
      });
      canal::this_task::sleep_for(5ms);
      t.kill();
      CHECK_THROWS_AS(t.get(), canal::cancelled);
    });
    CHECK_FALSE(swallowed.load());
  }
}

TEST_CASE("runtime.kill_parked_in_channel_join_select" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      canal::chan<int> never;  // nil: blocks forever
      canal::chan<int> empty(0);
      canal::chan<int> full(1);
      full.send(1);
      auto sleeper = canal::go([] { canal::this_task::sleep_for(1h); });
      std::vector<canal::task<void>> victims;
      victims.push_back(canal::go([empty] { (void)empty.recv(); }));
      victims.push_back(canal::go([never] { (void)never.recv(); }));
      victims.push_back(canal::go([full] { full.send(2); }));
      victims.push_back(canal::go([sleeper] { sleeper.join(); }));
      victims.push_back(canal::go([sleeper] { (void)sleeper.wait_for(1h); }));
      victims.push_back(canal::go([empty] { canal::select(canal::on_recv(empty)); }));
      victims.push_back(canal::go(
          [empty] { canal::select(canal::on_recv(empty), canal::on_timeout(1h)); }));
      canal::this_task::sleep_for(20ms);
      const auto t0 = rt::steady::now();
      for (auto& v : victims) v.kill();
      for (auto& v : victims) {
        v.join();
        CHECK_THROWS_AS(v.get(), canal::cancelled);
      }
      CHECK(rt::elapsed(t0) < canal_test::slack);
      CHECK_FALSE(sleeper.ready());  // killing its joiners did not touch it
      sleeper.kill();
      sleeper.join();
      CHECK(full.size() == 1);  // the killed sender's value was not sent
    });
  }
}

TEST_CASE("runtime.kill_before_start" * doctest::timeout(60)) {
  // One worker: the spawner has not blocked yet, so the greenlet has not started; once killed it
  // never runs, and its captured state is released.
  const long base = tracked::live.load();
  std::atomic<bool> ran{false};
  canal_test::in_runtime(1, [&] {
    auto t = canal::go([&ran, tr = tracked{}] {
      (void)tr;
      ran = true;
    });
    CHECK(tracked::live.load() == base + 1);
    t.kill();
    t.join();
    CHECK(t.ready());
    CHECK_FALSE(ran.load());
    CHECK_THROWS_AS(t.get(), canal::cancelled);
    CHECK(tracked::live.load() == base);
  });
  CHECK_FALSE(ran.load());
  CHECK(tracked::live.load() == base);

  // Several workers: it may or may not have started; either way it ends cancelled, and the body
  // never gets past its first suspension point (a sleep it could only leave by being killed).
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::atomic<int> passed{0};
    canal_test::in_runtime(w, [&] {
      std::vector<canal::task<void>> tasks;
      for (int i = 0; i < 100; ++i) {
        tasks.push_back(canal::go([&passed, tr = tracked{}] {
          (void)tr;
          canal::this_task::sleep_for(1h);
          passed.fetch_add(1);
        }));
      }
      for (auto& t : tasks) t.kill();
      for (auto& t : tasks) CHECK_THROWS_AS(t.get(), canal::cancelled);
    });
    CHECK(passed.load() == 0);
    CHECK(tracked::live.load() == base);
  }
}

TEST_CASE("runtime.kill_from_another_greenlet" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      auto victim = canal::go([] { canal::this_task::sleep_for(1h); });
      auto killer = canal::go([victim] {
        canal::this_task::sleep_for(5ms);
        victim.kill();
        victim.join();
        return victim.ready();
      });
      CHECK(killer.get());
      CHECK_THROWS_AS(victim.get(), canal::cancelled);
    });
  }
}

TEST_CASE("runtime.wait_for_timeouts" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      canal::chan<int> gate(1);
      auto t = canal::go([gate] { return *gate.recv() * 2; });

      auto t0 = rt::steady::now();
      CHECK_FALSE(t.wait_for(30ms));
      auto took = rt::elapsed(t0);
      CHECK(took >= 30ms);
      CHECK(took < 30ms + canal_test::slack);

      t0 = rt::steady::now();
      CHECK_FALSE(t.wait_until(std::chrono::steady_clock::now() + 20ms));
      CHECK(rt::elapsed(t0) >= 20ms);
      CHECK_FALSE(t.wait_until(std::chrono::system_clock::now() + 10ms));
      CHECK_FALSE(t.wait_for(0ms));
      CHECK_FALSE(t.wait_for(-5ms));

      CHECK_FALSE(t.ready());
      CHECK_FALSE(t.successful());
      CHECK(t.exception() == nullptr);

      gate.send(21);
      t0 = rt::steady::now();
      CHECK(t.wait_for(10s));
      CHECK(rt::elapsed(t0) < canal_test::slack);
      CHECK(t.ready());
      CHECK(t.successful());
      CHECK(t.exception() == nullptr);
      CHECK(t.wait_for(0ms));
      CHECK(t.get() == 42);
    });
  }
}

TEST_CASE("runtime.joinall" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      // Without a timeout: waits for all of them, never rethrows.
      std::vector<canal::task<int>> tasks;
      for (int i = 0; i < 20; ++i) {
        tasks.push_back(canal::go([i] {
          canal::this_task::sleep_for(std::chrono::milliseconds(i % 5));
          if (i == 7) throw std::runtime_error("seven");
          return i;
        }));
      }
      const auto t0 = rt::steady::now();
      CHECK(canal::joinall(tasks));
      CHECK(rt::elapsed(t0) < canal_test::slack);
      for (auto& t : tasks) CHECK(t.ready());
      CHECK_THROWS_WITH_AS(tasks[7].get(), "seven", std::runtime_error);
      CHECK(tasks[19].get() == 19);

      // With a timeout: returns false once the timeout passed with one still running.
      std::vector<canal::task<void>> mixed;
      mixed.push_back(canal::go([] { canal::this_task::sleep_for(1ms); }));
      mixed.push_back(canal::go([] { canal::this_task::sleep_for(1h); }));
      auto t1 = rt::steady::now();
      CHECK_FALSE(canal::joinall(mixed, 30ms));
      CHECK(rt::elapsed(t1) >= 30ms);
      CHECK(rt::elapsed(t1) < 30ms + canal_test::slack);
      CHECK_FALSE(mixed[1].ready());
      mixed[1].kill();
      CHECK(canal::joinall(mixed, 10s));

      // With a timeout that is long enough: true.
      std::vector<canal::task<void>> quick;
      for (int i = 0; i < 10; ++i) {
        quick.push_back(canal::go([] { canal::this_task::sleep_for(2ms); }));
      }
      CHECK(canal::joinall(quick, 10s));

      // Empty list.
      CHECK(canal::joinall(std::vector<canal::task<void>>{}));
      CHECK(canal::joinall(std::vector<canal::task<void>>{}, 0ms));
    });
  }
}

TEST_CASE("runtime.task_handles_are_copyable" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      canal::task<int> empty;
      CHECK_FALSE(empty.valid());
      CHECK_FALSE(empty.ready());
      CHECK(empty.id() == 0);
      CHECK_THROWS_AS(empty.join(), canal::error);
      CHECK_THROWS_AS(empty.get(), canal::error);
      empty.kill();  // no-op

      auto t = canal::go([] {
        canal::this_task::sleep_for(5ms);
        return 9;
      });
      canal::task<int> a = t;  // copy
      canal::task<int> b;
      b = a;  // copy-assign
      std::vector<canal::task<int>> v(3, b);
      CHECK(a.id() == t.id());
      CHECK(b.id() == t.id());
      CHECK(v[2].id() == t.id());
      CHECK(a.get() == 9);
      CHECK(b.get() == 9);
      CHECK(v[0].get() == 9);
      CHECK(t.get() == 9);

      canal::task<int> moved = std::move(a);
      CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from is empty
      CHECK(moved.valid());
      CHECK(moved.get() == 9);

      // Handles may be passed to other greenlets and joined there.
      auto waiter = canal::go([t] { return t.get() + 1; });
      CHECK(waiter.get() == 10);
    });
  }
}

TEST_CASE("runtime.dropped_handles_detach" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    const long base = tracked::live.load();
    std::atomic<int> finished{0};
    canal_test::in_runtime(w, [&] {
      canal::chan<int> done(16);
      for (int i = 0; i < 10; ++i) {
        // The handle is a temporary: dropped at once. The greenlet runs to completion anyway.
        (void)canal::go([done, &finished, i, tr = tracked{}] {
          (void)tr;
          canal::this_task::sleep_for(std::chrono::milliseconds(5 + i));
          finished.fetch_add(1);
          done.send(i);
        });
      }
      int sum = 0;
      for (int i = 0; i < 10; ++i) sum += *done.recv();
      CHECK(sum == 45);
      CHECK(finished.load() == 10);
      // Their captured state is released once they end (shortly after their send).
      CHECK(rt::poll_until([&] { return tracked::live.load() == base; }, 10s));
    });
    CHECK(finished.load() == 10);
    CHECK(tracked::live.load() == base);
  }
}

TEST_CASE("runtime.captured_state_released_when_greenlet_ends" * doctest::timeout(60)) {
  // As in Go: a finished greenlet's closure is destroyed even while handles still exist.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    const long base = tracked::live.load();
    canal_test::in_runtime(w, [&] {
      auto t = canal::go([tr = tracked{}] {
        (void)tr;
        return 1;
      });
      CHECK(t.get() == 1);
      CHECK(tracked::live.load() == base);
    });
  }
}

TEST_CASE("runtime.workers_run_in_parallel" * doctest::timeout(60)) {
  // M:N: with w workers, w greenlets that never yield can all be running at the same time. Each
  // arrives at a spin barrier that only opens when all w are running simultaneously.
  for (std::size_t w : canal_test::workers()) {
    if (w < 2) continue;
    CAPTURE(w);
    std::atomic<std::size_t> arrived{0};
    std::vector<std::thread::id> threads(w);
    canal_test::in_runtime(w, [&] {
      std::vector<canal::task<bool>> tasks;
      for (std::size_t i = 0; i < w; ++i) {
        tasks.push_back(canal::go([&, i] {
          threads[i] = std::this_thread::get_id();
          arrived.fetch_add(1);
          const auto deadline = rt::steady::now() + 10s;
          while (arrived.load() < w) {  // spin without yielding
            if (rt::steady::now() > deadline) return false;
          }
          return true;
        }));
      }
      for (auto& t : tasks) CHECK(t.get());
    });
    CHECK(std::set<std::thread::id>(threads.begin(), threads.end()).size() == w);
  }
}
