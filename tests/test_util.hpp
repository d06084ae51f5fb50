// tests/test_util.hpp: helpers shared by canal's tests.
//
//   for (std::size_t w : canal_test::workers()) {
//     CAPTURE(w);
//     canal_test::in_runtime(w, [&] { ... test body runs as the main greenlet ... });
//   }
//
// Sizes: canal_test::scale(short_n, full_n) picks by CANAL_TEST_SCALE=short|full (default short).
// Timing asserts use canal_test::slack: lower bounds strict, upper bounds loose.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <canal/canal.hpp>

namespace canal_test {

using namespace std::chrono_literals;

// The worker counts every concurrency test runs under (CANAL_TEST_WORKERS="1,2" overrides).
inline std::vector<std::size_t> workers() {
  if (const char* e = std::getenv("CANAL_TEST_WORKERS"); e && *e) {
    std::vector<std::size_t> out;
    std::string s(e);
    std::size_t pos = 0;
    while (pos < s.size()) {
      std::size_t comma = s.find(',', pos);
      if (comma == std::string::npos) comma = s.size();
      out.push_back(std::stoul(s.substr(pos, comma - pos)));
      pos = comma + 1;
    }
    return out;
  }
  return {1, 2, 4};
}

inline bool full_scale() {
  const char* e = std::getenv("CANAL_TEST_SCALE");
  return e && std::strcmp(e, "full") == 0;
}
template <class N>
N scale(N short_n, N full_n) {
  return full_scale() ? full_n : short_n;
}

// Sanitizer builds run smaller sizes: TSan keeps state per fiber, ASan quarantines stacks.
inline constexpr bool sanitized =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

// nap() sleeps without blocking a worker thread when called from a greenlet (a plain sleep on
// an OS thread).
template <class Rep, class Period>
void nap(std::chrono::duration<Rep, Period> d) {
  if (canal::this_task::in_greenlet()) {
    canal::this_task::sleep_for(d);
  } else {
    std::this_thread::sleep_for(d);
  }
}

// eventually() polls pred (napping 100 us between tries) until it holds or the timeout passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::steady_clock::duration timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    nap(std::chrono::microseconds(100));
  }
  return true;
}

// Loose upper bound for timing checks on this noisy 2-core machine.
inline constexpr auto slack = 2s;

// in_runtime() runs body as the main greenlet of a fresh runtime with `w` workers and returns
// its result (rethrowing its exception).
template <class F>
auto in_runtime(std::size_t w, F body) {
  return canal::run(std::move(body), canal::options{.workers = w});
}

// Counts live instances, to check that destructors ran (shutdown, cancellation, channels).
struct tracked {
  static inline std::atomic<long> live{0};
  tracked() { live.fetch_add(1); }
  tracked(const tracked&) { live.fetch_add(1); }
  tracked(tracked&&) noexcept { live.fetch_add(1); }
  ~tracked() { live.fetch_sub(1); }
};

}  // namespace canal_test
