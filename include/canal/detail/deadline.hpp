// canal/detail/deadline.hpp: every conversion from a user's duration or time point to canal's
// internal deadline (steady_clock nanoseconds in an int64). Not for user code.
//
// One rule for all of them, as Go's TestOverflowSleep asks: the conversion saturates. A duration
// too large for int64 nanoseconds (std::chrono::hours::max(), seconds::max(), ...) means
// "practically never" (about 292 years from now), never an overflow into the past; a negative
// duration means "already expired". The result of deadline_after() is a real deadline (at most
// far_future), never block_forever, so a timed call keeps its timed semantics (it reports
// timeout/closed as a value rather than throwing like the untimed call).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>

namespace canal::detail {

// Deadlines are steady_clock nanoseconds. block_forever waits without a deadline; try_now never
// waits (reports would_block); anything else is an absolute deadline (reports timeout).
inline constexpr std::int64_t block_forever = INT64_MAX;
inline constexpr std::int64_t try_now = INT64_MIN;
// The latest real deadline: block_forever - 1 (timed waits that saturate land here).
inline constexpr std::int64_t far_future = INT64_MAX - 1;

std::int64_t now_ns() noexcept;  // steady_clock, nanoseconds (runtime/park.cc)

// saturating_ns(d): d in nanoseconds, clamped to [INT64_MIN + 1, INT64_MAX - 1] instead of
// wrapping. Exact for every duration whose value fits.
template <class Rep, class Period>
constexpr std::int64_t saturating_ns(std::chrono::duration<Rep, Period> d) noexcept {
  constexpr std::int64_t hi = INT64_MAX - 1;
  constexpr std::int64_t lo = INT64_MIN + 1;
  if constexpr (std::is_floating_point_v<Rep>) {
    const long double ns = static_cast<long double>(d.count()) * Period::num * 1'000'000'000.0L /
                           Period::den;
    if (!(ns == ns)) return 0;  // NaN: treat as no time at all
    if (ns >= static_cast<long double>(hi)) return hi;
    if (ns <= static_cast<long double>(lo)) return lo;
    return static_cast<std::int64_t>(ns);
  } else {
    using to_ns = std::ratio_divide<Period, std::nano>;  // ns per tick, reduced
    const auto c = d.count();
    if constexpr (to_ns::den == 1) {
      // Integral: c * num fits iff |c| <= hi / num.
      constexpr auto num = static_cast<std::intmax_t>(to_ns::num);
      if constexpr (std::is_unsigned_v<Rep>) {
        if (c > static_cast<std::uintmax_t>(hi / num)) return hi;
        return static_cast<std::int64_t>(c) * num;
      } else {
        if (c > hi / num) return hi;
        if (c < lo / num) return lo;
        return static_cast<std::int64_t>(c) * num;
      }
    } else {
      // Finer than a nanosecond, or an odd ratio: go through long double (exact enough: the
      // result is then rounded to whole nanoseconds anyway).
      const long double ns =
          static_cast<long double>(c) * static_cast<long double>(to_ns::num) / to_ns::den;
      if (ns >= static_cast<long double>(hi)) return hi;
      if (ns <= static_cast<long double>(lo)) return lo;
      return static_cast<std::int64_t>(ns);
    }
  }
}

// add_saturating(a, b): a + b clamped to [INT64_MIN + 1, far_future].
constexpr std::int64_t add_saturating(std::int64_t a, std::int64_t b) noexcept {
  if (b > 0 && a > far_future - b) return far_future;
  if (b < 0 && a < INT64_MIN + 1 - b) return INT64_MIN + 1;
  return a + b;
}

// deadline_after(d): now + d as a deadline. d <= 0: now (already due).
template <class Rep, class Period>
std::int64_t deadline_after(std::chrono::duration<Rep, Period> d) {
  std::int64_t ns = saturating_ns(d);
  if (ns < 0) ns = 0;
  return add_saturating(now_ns(), ns);
}

// to_steady_ns(tp): a time point of any clock as a steady deadline. Other clocks are converted
// through their distance from now (Clock::now() - tp), which also saturates.
template <class Clock, class Dur>
std::int64_t to_steady_ns(std::chrono::time_point<Clock, Dur> tp) {
  std::int64_t ns;
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    ns = saturating_ns(tp.time_since_epoch());
  } else {
    // tp - now without overflow: both in Clock's own duration type, compared before subtracting.
    const auto now = std::chrono::time_point_cast<Dur>(Clock::now());
    const auto a = tp.time_since_epoch().count();
    const auto b = now.time_since_epoch().count();
    using R = decltype(a);
    std::int64_t rel;
    if constexpr (std::is_floating_point_v<R>) {
      rel = saturating_ns(Dur(a - b));
    } else if (b > 0 && a < std::numeric_limits<R>::min() + b) {
      rel = INT64_MIN + 1;
    } else if (b < 0 && a > std::numeric_limits<R>::max() + b) {
      rel = far_future;
    } else {
      rel = saturating_ns(Dur(a - b));
    }
    ns = add_saturating(now_ns(), rel);
  }
  if (ns > far_future) ns = far_future;
  return ns;
}

}  // namespace canal::detail
