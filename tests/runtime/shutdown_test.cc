// Shutdown: when main returns, every greenlet still alive is cancelled at its park point
// (canal::cancelled is thrown there, destructors on its stack run), then run() returns.

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;
using canal_test::tracked;

struct counters {
  std::atomic<int> entered{0};    // reached the park point
  std::atomic<int> cancelled{0};  // canal::cancelled was thrown at the park point
  std::atomic<int> returned{0};   // left the park point normally (must stay 0)
};

// Wraps a parking body: a tracked object on the greenlet's stack, counters around the park.
template <class Body>
auto guarded(counters& c, Body body) {
  return [&c, body, captured = tracked{}] {
    (void)captured;
    tracked on_stack;
    c.entered.fetch_add(1);
    try {
      body();
    } catch (const canal::cancelled&) {
      c.cancelled.fetch_add(1);
      throw;
    }
    c.returned.fetch_add(1);
  };
}

}  // namespace

TEST_CASE("runtime.shutdown_cancels_parked_greenlets" * doctest::timeout(120)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    const long base = tracked::live.load();
    counters c;        // parked on things that nothing but cancellation can end
    counters joiners;  // parked in join() of `anchor`, which is itself cancelled at shutdown
    constexpr int per_kind = 25;
    constexpr int kinds = 7;  // kinds counted in c (the anchor is counted in c too)
    canal::task<void> escaped;  // a handle that outlives the runtime
    rt::steady::time_point main_returned;
    const int result = canal_test::in_runtime(w, [&] {
      canal::chan<int> unbuffered(0);
      canal::chan<int> nil;
      canal::chan<tracked> full(1);
      full.send(tracked{});
      auto anchor = canal::go(guarded(c, [] { canal::this_task::sleep_for(1h); }));
      escaped = anchor;
      for (int i = 0; i < per_kind; ++i) {
        (void)canal::go(guarded(c, [] { canal::this_task::sleep_for(1h); }));
        (void)canal::go(guarded(c, [unbuffered] { (void)unbuffered.recv(); }));
        (void)canal::go(guarded(c, [nil] { (void)nil.recv(); }));
        (void)canal::go(guarded(c, [full] { full.send(tracked{}); }));
        (void)canal::go(guarded(c, [unbuffered] {
          canal::select(canal::on_recv(unbuffered), canal::on_timeout(1h));
        }));
        (void)canal::go(guarded(c, [unbuffered] { (void)unbuffered.recv_for(1h); }));
        (void)canal::go(guarded(c, [] {
          canal::this_task::sleep_until(std::chrono::system_clock::now() + 1h);
        }));
        (void)canal::go(guarded(joiners, [anchor] { anchor.join(); }));
      }
      const int total = per_kind * kinds + 1;
      REQUIRE(rt::poll_until(
          [&] { return c.entered.load() == total && joiners.entered.load() == per_kind; }));
      canal::this_task::sleep_for(20ms);  // let the last ones finish parking
      CHECK(c.cancelled.load() == 0);
      CHECK(joiners.cancelled.load() == 0);
      main_returned = rt::steady::now();
      return 7;
    });
    const auto shutdown_took = rt::elapsed(main_returned);
    CHECK(result == 7);
    CHECK(shutdown_took < canal_test::slack);
    CHECK(c.entered.load() == per_kind * kinds + 1);
    CHECK(c.cancelled.load() == per_kind * kinds + 1);
    CHECK(c.returned.load() == 0);
    // A joiner is either cancelled in join(), or join() returned because the anchor (cancelled
    // at the same shutdown) finished first; then it has no suspension point left and returns.
    CHECK(joiners.cancelled.load() + joiners.returned.load() == per_kind);
    // Objects on the parked stacks, captured state and buffered channel values are all gone.
    CHECK(tracked::live.load() == base);
    // The escaped handle reports the cancellation.
    CHECK(escaped.ready());
    CHECK_THROWS_AS(escaped.get(), canal::cancelled);
    escaped = canal::task<void>();
  }
}

TEST_CASE("runtime.shutdown_cancels_yielding_and_runnable_greenlets" * doctest::timeout(60)) {
  // Greenlets that never park but keep yielding are cancelled at a yield.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    const long base = tracked::live.load();
    counters c;
    canal_test::in_runtime(w, [&] {
      for (int i = 0; i < 8; ++i) {
        (void)canal::go(guarded(c, [] {
          for (;;) canal::this_task::yield();
        }));
      }
      REQUIRE(rt::poll_until([&] { return c.entered.load() == 8; }));
    });
    CHECK(c.cancelled.load() == 8);
    CHECK(c.returned.load() == 0);
    CHECK(tracked::live.load() == base);
  }
}

TEST_CASE("runtime.shutdown_discards_unstarted_greenlets" * doctest::timeout(60)) {
  // One worker, and main returns without ever blocking: the spawned greenlets never start.
  // Their bodies never run and their captured state is destroyed.
  const long base = tracked::live.load();
  counters c;
  canal::task<void> handle;
  canal_test::in_runtime(1, [&] {
    for (int i = 0; i < 50; ++i) (void)canal::go(guarded(c, [] {}));
    handle = canal::go(guarded(c, [] {}));
    CHECK(tracked::live.load() == base + 51);
  });
  CHECK(c.entered.load() == 0);
  CHECK(tracked::live.load() == base);
  CHECK(handle.ready());
  CHECK_THROWS_AS(handle.get(), canal::cancelled);
  handle = canal::task<void>();

  // Several workers: some may start (and are then cancelled at their sleep); all are cleaned up.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    counters c2;
    canal_test::in_runtime(w, [&] {
      for (int i = 0; i < 200; ++i) {
        (void)canal::go(guarded(c2, [] { canal::this_task::sleep_for(1h); }));
      }
    });
    CHECK(c2.cancelled.load() == c2.entered.load());
    CHECK(c2.returned.load() == 0);
    CHECK(tracked::live.load() == base);
  }
}

TEST_CASE("runtime.shutdown_after_main_throws" * doctest::timeout(60)) {
  // main's exception is rethrown by run(), after the other greenlets were cancelled and cleaned.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    const long base = tracked::live.load();
    counters c;
    CHECK_THROWS_WITH_AS(canal_test::in_runtime(w,
                                                [&]() -> int {
                                                  for (int i = 0; i < 20; ++i) {
                                                    (void)canal::go(guarded(c, [] {
                                                      canal::this_task::sleep_for(1h);
                                                    }));
                                                  }
                                                  rt::poll_until(
                                                      [&] { return c.entered.load() == 20; });
                                                  throw std::runtime_error("main gave up");
                                                }),
                         "main gave up", std::runtime_error);
    CHECK(c.entered.load() == 20);
    CHECK(c.cancelled.load() == 20);
    CHECK(tracked::live.load() == base);
  }
}

TEST_CASE("runtime.shutdown_destructors_may_use_channels" * doctest::timeout(60)) {
  // Destructors that run while a cancelled greenlet unwinds at shutdown may use channels
  // (non-blocking operations).
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::atomic<int> cleanups{0};
    canal::chan<int> log(100);
    canal_test::in_runtime(w, [&] {
      for (int i = 0; i < 10; ++i) {
        (void)canal::go([log, &cleanups, i] {
          struct on_exit {
            canal::chan<int> log;
            std::atomic<int>* n;
            int i;
            ~on_exit() {
              (void)log.try_send(i);
              n->fetch_add(1);
            }
          } guard{log, &cleanups, i};
          canal::this_task::sleep_for(1h);
        });
      }
      canal::this_task::sleep_for(20ms);
    });
    CHECK(cleanups.load() == 10);
    CHECK(log.size() == 10);
  }
}
