// tests/channels/chan_test_helpers.hpp: small helpers shared by the channel and select suites.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <thread>
#include <utility>

#include "tests/test_util.hpp"

// NOTE: doctest's INFO/CAPTURE push onto a thread_local stack and pop in the scope's destructor.
// A greenlet that parks inside such a scope may resume on another worker thread and pop that
// thread's stack instead (heap corruption, crash). So: CAPTURE only on the test's own thread,
// outside canal_test::in_runtime(); inside greenlets use CHECK_MESSAGE with a condition that was
// evaluated beforehand (never one that parks).

namespace chan_test {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

inline steady::duration since(steady::time_point t0) { return steady::now() - t0; }

inline long long ms(steady::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

using canal_test::eventually;  // tests/test_util.hpp
using canal_test::nap;

// A payload that counts live instances (through canal_test::tracked) and carries a value.
// (tracked declares a move constructor, so it is not assignable; chan<T>::try_recv()/recv_for()
// and range-for assign std::optional<T>, so item brings its own assignments.)
struct item : canal_test::tracked {
  long v = 0;
  item() = default;
  explicit item(long x) : v(x) {}
  item(const item&) = default;
  item(item&&) noexcept = default;
  item& operator=(const item& o) {
    v = o.v;
    return *this;
  }
  item& operator=(item&& o) noexcept {
    v = o.v;
    return *this;
  }
  ~item() = default;
};

// Sets *flag when destroyed: proves that a frame was unwound (cancellation).
struct set_on_destroy {
  std::shared_ptr<std::atomic<bool>> flag;
  ~set_on_destroy() {
    if (flag) flag->store(true);
  }
};

// What happened to an operation run in a greenlet within a time window.
enum class outcome { blocks, completes, throws_closed, throws_other };

inline const char* to_string(outcome o) {
  switch (o) {
    case outcome::blocks: return "blocks";
    case outcome::completes: return "completes";
    case outcome::throws_closed: return "throws channel_closed";
    case outcome::throws_other: return "throws something else";
  }
  return "?";
}

// Runs f in a greenlet. When a block is expected, waits a short window (Go's select3 uses 10ms)
// and kills the greenlet afterwards; when completion is expected, waits a long time so a slow
// machine cannot fake a block. Must be called from a greenlet (the main one).
template <class F>
outcome run_op(outcome expected, F f) {
  auto t = canal::go([f]() mutable { f(); });
  const auto window = expected == outcome::blocks ? std::chrono::nanoseconds(20ms)
                                                  : std::chrono::nanoseconds(10s);
  bool finished = t.wait_for(window);
  if (!finished) {
    t.kill();
    t.join();
  }
  try {
    t.get();
    return outcome::completes;
  } catch (const canal::channel_closed&) {
    return outcome::throws_closed;
  } catch (const canal::cancelled&) {
    return finished ? outcome::throws_other : outcome::blocks;
  } catch (...) {
    return outcome::throws_other;
  }
}

}  // namespace chan_test

namespace doctest {
template <class Rep, class Period>
struct StringMaker<std::chrono::duration<Rep, Period>> {
  static String convert(std::chrono::duration<Rep, Period> d) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return toString(static_cast<long long>(us)) + " us";
  }
};
template <>
struct StringMaker<canal::chan_status> {
  static String convert(canal::chan_status s) { return canal::to_string(s); }
};
template <>
struct StringMaker<chan_test::outcome> {
  static String convert(chan_test::outcome o) { return chan_test::to_string(o); }
};
}  // namespace doctest
