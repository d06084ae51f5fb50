// Plain OS threads and the runtime: go() from a foreign std::thread while a runtime is running,
// task operations from that thread, and go() with no runtime.

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;

}  // namespace

TEST_CASE("runtime.go_without_runtime_throws" * doctest::timeout(60)) {
  CHECK_FALSE(canal::this_task::in_greenlet());
  CHECK_THROWS_AS(canal::go([] {}), canal::error);
  CHECK_THROWS_AS(canal::go([] { return 1; }), canal::error);
  // From another plain thread, too.
  bool threw = false;
  std::thread([&] {
    try {
      (void)canal::go([] {});
    } catch (const canal::error&) {
      threw = true;
    }
  }).join();
  CHECK(threw);
  // And after a runtime has come and gone.
  canal_test::in_runtime(2, [] {});
  CHECK_THROWS_AS(canal::go([] {}), canal::error);
  // The callable (and what it captured) is destroyed when go() throws.
  const long base = canal_test::tracked::live.load();
  CHECK_THROWS_AS(canal::go([t = canal_test::tracked{}] { (void)t; }), canal::error);
  CHECK(canal_test::tracked::live.load() == base);
}

TEST_CASE("runtime.go_from_foreign_thread" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      canal::chan<std::string> report(8);
      std::thread th([report] {
        const bool plain = !canal::this_task::in_greenlet() && canal::this_task::id() == 0;
        report.send(plain ? "plain thread" : "not a plain thread?");
        // Spawn a greenlet from this OS thread and wait for its value here (blocks the thread).
        auto t = canal::go([] {
          canal::this_task::sleep_for(5ms);
          return canal::this_task::in_greenlet() ? 6 * 7 : -1;
        });
        report.send("value " + std::to_string(t.get()));
        // An exception travels to the foreign thread's get().
        auto bad = canal::go([]() -> int { throw std::runtime_error("from greenlet"); });
        try {
          (void)bad.get();
          report.send("no exception?");
        } catch (const std::runtime_error& e) {
          report.send(std::string("caught ") + e.what());
        }
        // wait_for with a timeout, then kill from this thread.
        auto sleeper = canal::go([] { canal::this_task::sleep_for(1h); });
        const bool early = sleeper.wait_for(20ms);
        sleeper.kill();
        sleeper.join();
        try {
          sleeper.get();
          report.send("kill missed");
        } catch (const canal::cancelled&) {
          report.send(early ? "finished early?" : "killed from thread");
        }
      });
      // The main greenlet parks on the channel: its worker stays free to run the spawned ones.
      CHECK(*report.recv() == "plain thread");
      CHECK(*report.recv() == "value 42");
      CHECK(*report.recv() == "caught from greenlet");
      CHECK(*report.recv() == "killed from thread");
      th.join();
    });
  }
}

TEST_CASE("runtime.many_foreign_threads_spawn" * doctest::timeout(120)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::atomic<int> ran{0};
    canal_test::in_runtime(w, [&] {
      constexpr int threads = 4, per_thread = 250;
      canal::chan<int> done(threads);
      std::vector<std::thread> ths;
      for (int k = 0; k < threads; ++k) {
        ths.emplace_back([&ran, done, k] {
          std::vector<canal::task<int>> ts;
          for (int i = 0; i < per_thread; ++i) {
            ts.push_back(canal::go([&ran, i] {
              ran.fetch_add(1);
              canal::this_task::yield();
              return i;
            }));
          }
          int sum = 0;
          for (auto& t : ts) sum += t.get();
          done.send(k * 100000 + sum);
        });
      }
      long total = 0;
      for (int k = 0; k < threads; ++k) total += *done.recv();
      for (auto& th : ths) th.join();
      CHECK(total == (0L + 1 + 2 + 3) * 100000 + threads * (per_thread * (per_thread - 1) / 2));
      CHECK(ran.load() == threads * per_thread);
    });
  }
}

TEST_CASE("runtime.foreign_thread_joins_greenlet_blocked_on_it" * doctest::timeout(60)) {
  // A greenlet waits for the foreign thread (channel), the foreign thread waits for the greenlet.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      canal::chan<int> to_greenlet(0);
      canal::chan<int> result(1);
      std::thread th([to_greenlet, result] {
        auto t = canal::go([to_greenlet] { return *to_greenlet.recv() + 1; });
        to_greenlet.send(41);  // rendezvous with the greenlet (blocks this thread)
        result.send(t.get());
      });
      CHECK(*result.recv() == 42);
      th.join();
    });
  }
}
