// Allocation failure on the wait paths (issue 8, defect 10): select over more than 8 cases
// allocates its wait entries, and that used to happen after every channel was locked, so a
// bad_alloc left the spinlocks held and every later operation on those channels spun for ever.
// Timed waits armed their timer in a heap that could grow (allocate) under the same locks.
// This binary replaces the global operator new so that a test can make allocations fail on the
// calling thread. Tagged no_sanitizer: the sanitizers own operator new.
#include <atomic>
#include <cstdlib>
#include <new>

#include "doctest/doctest.h"
#include "tests/subprocess.hpp"
#include "tests/test_util.hpp"

// The sanitizers define operator new themselves (a second definition does not link): under a
// sanitizer this file builds to an empty suite, and the target is tagged no_sanitizer so the
// sanitizer tiers do not run it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CANAL_TEST_OWN_NEW 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CANAL_TEST_OWN_NEW 0
#endif
#endif
#ifndef CANAL_TEST_OWN_NEW
#define CANAL_TEST_OWN_NEW 1
#endif

#if CANAL_TEST_OWN_NEW

namespace {
thread_local bool t_fail = false;
std::atomic<long> g_failed{0};

void* checked_alloc(std::size_t n) {
  if (t_fail) {
    g_failed.fetch_add(1, std::memory_order_relaxed);
    throw std::bad_alloc();
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return checked_alloc(n); }
void* operator new[](std::size_t n) { return checked_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return checked_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return checked_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {
using namespace std::chrono_literals;

struct fail_scope {
  fail_scope() { t_fail = true; }
  ~fail_scope() { t_fail = false; }
};
}  // namespace

TEST_CASE("defect10.select_over_many_cases_releases_locks_on_bad_alloc" * doctest::timeout(120)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    const auto r = canal_test::run_in_child(
        [w] {
          return canal::run(
              [] {
                std::vector<canal::chan<int>> cs;
                for (int i = 0; i < 12; ++i) cs.emplace_back(1);
                bool threw = false;
                try {
                  fail_scope f;
                  (void)canal::select(
                      canal::on_recv(cs[0]), canal::on_recv(cs[1]), canal::on_recv(cs[2]),
                      canal::on_recv(cs[3]), canal::on_recv(cs[4]), canal::on_recv(cs[5]),
                      canal::on_recv(cs[6]), canal::on_recv(cs[7]), canal::on_recv(cs[8]),
                      canal::on_recv(cs[9]), canal::on_recv(cs[10]), canal::on_recv(cs[11]));
                } catch (const std::bad_alloc&) {
                  threw = true;
                }
                if (!threw) return 20;
                // Every channel is still usable (a held lock would spin here for ever).
                for (auto& c : cs) {
                  if (c.try_send(1) != canal::chan_status::ok) return 21;
                  if (c.recv() != 1) return 22;
                }
                // And the same select works once memory is back.
                cs[7].send(5);
                int got = 0;
                const std::size_t i = canal::select(
                    canal::on_recv(cs[0]), canal::on_recv(cs[1]), canal::on_recv(cs[2]),
                    canal::on_recv(cs[3]), canal::on_recv(cs[4]), canal::on_recv(cs[5]),
                    canal::on_recv(cs[6]), canal::on_recv(cs[7], [&](std::optional<int> v) { got = *v; }),
                    canal::on_recv(cs[8]), canal::on_recv(cs[9]), canal::on_recv(cs[10]),
                    canal::on_recv(cs[11]));
                return i == 7 && got == 5 ? 0 : 23;
              },
              canal::options{.workers = w});
        },
        60s);
    INFO(r.err);
    CHECK_FALSE(r.timed_out);
    CHECK(r.ok());
  }
}

TEST_CASE("defect10.timed_waits_do_not_allocate" * doctest::timeout(120)) {
  // A timed channel wait, a timed select and a sleep complete with allocation failing on their
  // thread: arming a deadline allocates nothing (the timer heap is intrusive). One worker, so
  // the loop that fires the timer runs on the same thread with failures on.
  const auto r = canal_test::run_in_child(
      [] {
        return canal::run(
            [] {
              canal::chan<int> c(0);
              {
                // The first deadline armed in a fresh runtime (a growable heap allocated here).
                fail_scope f;
                canal::this_task::sleep_for(1ms);
              }
              std::vector<canal::task<void>> sleepers;
              std::atomic<int> started{0};
              // 128 armed deadlines: the next one would have grown a power-of-two array.
              for (int i = 0; i < 128; ++i)
                sleepers.push_back(canal::go([&started] {
                  started.fetch_add(1);
                  canal::this_task::sleep_for(100ms);
                }));
              // Their stacks are assigned when they first run: let that happen first.
              while (started.load() < 128) canal::this_task::yield();
              const long before = g_failed.load();
              canal::chan_status st;
              std::size_t sel;
              {
                fail_scope f;
                canal::this_task::sleep_for(3ms);
                st = c.recv_for(5ms).status;
                sel = canal::select(canal::on_recv(c), canal::on_timeout(5ms));
              }
              for (auto& s : sleepers) s.join();
              if (g_failed.load() != before) return 30;
              return st == canal::chan_status::timeout && sel == 1 ? 0 : 31;
            },
            canal::options{.workers = 1});
      },
      60s);
  INFO(r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.ok());
}

#endif  // CANAL_TEST_OWN_NEW
