// race_hooks.hpp: named points inside the runtime's narrowest race windows, where a test can
// delay the thread that is in the window (what preemption does on a loaded machine) and so make
// a rare interleaving happen every time. Production code never installs a hook; the cost is one
// relaxed load on paths that already pay a thread wake-up (foreign threads only).
//
//   canal::detail::set_race_hook([](canal::detail::race_point p) { if (p == ...) sleep; });
#pragma once

#include <atomic>

namespace canal::detail {

enum class race_point {
  // A foreign thread queued a greenlet it woke (ready()) and has not rung a doorbell yet: the
  // greenlet may run, main may return and run() may tear down meanwhile.
  foreign_wake_queued,
  // A foreign thread's spawn was admitted (counted) and the greenlet is not queued yet.
  foreign_spawn_admitted,
};

using race_hook = void (*)(race_point) noexcept;

extern std::atomic<race_hook> g_race_hook;

inline void set_race_hook(race_hook h) noexcept { g_race_hook.store(h, std::memory_order_release); }

inline void race_window(race_point p) noexcept {
  if (race_hook h = g_race_hook.load(std::memory_order_relaxed)) [[unlikely]] h(p);
}

}  // namespace canal::detail
