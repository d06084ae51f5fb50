// tests/sync/sync_test_helpers.hpp: small helpers shared by the synchronization suites.
//
// doctest's INFO/CAPTURE keep a thread_local stack: never use them inside a greenlet (it may
// resume on another worker thread). Checks inside greenlets record into atomics; the test's
// main greenlet CHECKs them.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "tests/test_util.hpp"

namespace sync_test {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

using canal_test::eventually;  // tests/test_util.hpp
using canal_test::nap;

// probe: what a greenlet killed in a wait did.
struct probe {
  std::shared_ptr<std::atomic<bool>> entered = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> caught = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> returned = std::make_shared<std::atomic<bool>>(false);
};

// spawn_parked() runs op() in a greenlet under a probe and waits until it has (almost certainly)
// parked in op.
inline canal::task<void> spawn_parked(const probe& p, std::function<void()> op) {
  auto t = canal::go([p, op] {
    p.entered->store(true);
    try {
      op();
    } catch (const canal::cancelled&) {
      p.caught->store(true);
      throw;
    }
    p.returned->store(true);
  });
  REQUIRE(eventually([&] { return p.entered->load(); }));
  nap(5ms);
  return t;
}

// check_killed(): the greenlet is still waiting; kill() makes its wait throw cancelled.
inline void check_killed(const canal::task<void>& t, const probe& p) {
  CHECK_FALSE(t.ready());
  t.kill();
  REQUIRE(t.wait_for(10s));
  CHECK(p.caught->load());
  CHECK_FALSE(p.returned->load());
  CHECK_THROWS_AS(t.get(), canal::cancelled);
}

}  // namespace sync_test
