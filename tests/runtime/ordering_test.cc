// Scheduling order on one worker: gevent's guarantees.
//
// With a single worker the run queue is FIFO: a spawned greenlet runs when its spawner blocks or
// yields, in spawn order, and yield()/sleep_for(0) puts the caller at the back of the queue.
// These tests pin that down with the gevent tutorial's first program.

#include <mutex>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;

// A log that greenlets append to (one worker here, but keep it safe anyway).
struct event_log {
  std::mutex mu;
  std::vector<std::string> lines;
  void add(std::string s) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(std::move(s));
  }
};

}  // namespace

TEST_CASE("runtime.ordering.gevent_foo_bar" * doctest::timeout(30)) {
  // gevent:
  //   def foo():
  //       print('Running in foo'); gevent.sleep(0); print('Explicit context switch to foo again')
  //   def bar():
  //       print('Explicit context to bar'); gevent.sleep(0)
  //       print('Implicit context switch back to bar')
  //   gevent.joinall([gevent.spawn(foo), gevent.spawn(bar)])
  event_log log;
  canal_test::in_runtime(1, [&] {
    auto foo = canal::go([&] {
      log.add("Running in foo");
      canal::this_task::sleep_for(0ms);
      log.add("Explicit context switch to foo again");
    });
    auto bar = canal::go([&] {
      log.add("Explicit context to bar");
      canal::this_task::sleep_for(0ms);
      log.add("Implicit context switch back to bar");
    });
    canal::joinall(std::vector<canal::task<void>>{foo, bar});
  });
  const std::vector<std::string> expected = {
      "Running in foo",
      "Explicit context to bar",
      "Explicit context switch to foo again",
      "Implicit context switch back to bar",
  };
  CHECK(log.lines == expected);
}

TEST_CASE("runtime.ordering.yield_is_sleep_zero" * doctest::timeout(30)) {
  // Same program with this_task::yield() instead of sleep_for(0).
  event_log log;
  canal_test::in_runtime(1, [&] {
    auto foo = canal::go([&] {
      log.add("foo 1");
      canal::this_task::yield();
      log.add("foo 2");
    });
    auto bar = canal::go([&] {
      log.add("bar 1");
      canal::this_task::yield();
      log.add("bar 2");
    });
    foo.join();
    bar.join();
  });
  const std::vector<std::string> expected = {"foo 1", "bar 1", "foo 2", "bar 2"};
  CHECK(log.lines == expected);
}

TEST_CASE("runtime.ordering.spawned_runs_only_when_spawner_blocks" * doctest::timeout(30)) {
  event_log log;
  canal_test::in_runtime(1, [&] {
    std::vector<canal::task<void>> tasks;
    for (int i = 0; i < 5; ++i) {
      tasks.push_back(canal::go([&log, i] { log.add("child " + std::to_string(i)); }));
    }
    // Nothing ran yet: the spawner has neither blocked nor yielded.
    CHECK(log.lines.empty());
    log.add("main before join");
    tasks.back().join();  // blocks: every child runs, in spawn order
    log.add("main after join");
    canal::joinall(tasks);
  });
  const std::vector<std::string> expected = {
      "main before join", "child 0", "child 1", "child 2", "child 3", "child 4", "main after join",
  };
  CHECK(log.lines == expected);
}

TEST_CASE("runtime.ordering.yield_runs_everything_queued_first" * doctest::timeout(30)) {
  event_log log;
  canal_test::in_runtime(1, [&] {
    std::vector<canal::task<void>> tasks;
    for (int i = 0; i < 4; ++i) {
      tasks.push_back(canal::go([&log, i] { log.add("child " + std::to_string(i)); }));
    }
    canal::this_task::yield();  // to the back of the queue: all four children run first
    log.add("main after yield");
    canal::joinall(tasks);
  });
  const std::vector<std::string> expected = {"child 0", "child 1", "child 2", "child 3",
                                             "main after yield"};
  CHECK(log.lines == expected);
}

TEST_CASE("runtime.ordering.round_robin_yield" * doctest::timeout(30)) {
  // Three greenlets that each record and yield three times interleave round-robin.
  event_log log;
  canal_test::in_runtime(1, [&] {
    std::vector<canal::task<void>> tasks;
    for (char name : {'a', 'b', 'c'}) {
      tasks.push_back(canal::go([&log, name] {
        for (int i = 0; i < 3; ++i) {
          log.add(std::string(1, name) + std::to_string(i));
          canal::this_task::sleep_for(0ms);
        }
      }));
    }
    canal::joinall(tasks);
  });
  const std::vector<std::string> expected = {"a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"};
  CHECK(log.lines == expected);
}

TEST_CASE("runtime.ordering.timers_fire_in_deadline_order" * doctest::timeout(30)) {
  // One worker: sleepers wake in deadline order, not spawn order.
  event_log log;
  canal_test::in_runtime(1, [&] {
    std::vector<canal::task<void>> tasks;
    for (int d : {100, 20, 60, 40, 80}) {
      tasks.push_back(canal::go([&log, d] {
        canal::this_task::sleep_for(std::chrono::milliseconds(d));
        log.add(std::to_string(d));
      }));
    }
    canal::joinall(tasks);
  });
  const std::vector<std::string> expected = {"20", "40", "60", "80", "100"};
  CHECK(log.lines == expected);
}
