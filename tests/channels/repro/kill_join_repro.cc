// Repro (suspected runtime bug): with 2+ workers, kill() of a greenlet right after go(), before
// it has started, then join(): join() sometimes never returns; every worker sits idle in
// epoll_wait. Killing only once the greenlet runs never hangs. A watchdog thread reports the
// hang and exits 1.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tests/test_util.hpp"

using namespace std::chrono_literals;

TEST_CASE("repro.kill_before_start_then_join") {
  std::atomic<int> progress{0};
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    int last = -1;
    while (!finished.load()) {
      std::this_thread::sleep_for(3s);
      const int now = progress.load();
      if (now == last && !finished.load()) {
        std::printf("HANG: join() of the greenlet killed at iteration %d never returned\n", now);
        std::fflush(stdout);
        std::_Exit(1);
      }
      last = now;
    }
  });
  canal::run(
      [&] {
        for (int i = 0; i < 100000; ++i) {
          progress.store(i);
          auto t = canal::go([] {});
          t.kill();
          t.join();
        }
      },
      canal::options{.workers = 2});
  finished.store(true);
  watchdog.join();
}
