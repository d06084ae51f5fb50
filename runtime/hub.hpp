// hub.hpp: a worker's event loop (libuv): where an idle worker sleeps, and what wakes it.
//
// One hub per worker. run() opens every hub on its own thread before any worker thread starts
// and closes them after all have been joined; in between only the worker's thread uses its hub,
// except wake(), which any thread may call (uv_async_send: coalescing, async-signal-safe).
// Deadlines come from the worker's timer_heap and are programmed into a timerfd watched by the
// loop, so sleeps have nanosecond resolution instead of libuv's millisecond timers. Later:
// sockets and foreign fds register here too. This header keeps libuv out of everyone else's
// includes.
#pragma once

#include <cstdint>
#include <memory>

namespace canal::detail {

class hub {
 public:
  hub();
  ~hub();
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  // open() and close() run on run()'s thread, while no worker thread uses the hub.
  void open();
  void close() noexcept;

  // sleep() blocks in the loop until wake(), the deadline (steady ns; INT64_MAX: none), or I/O.
  void sleep(std::int64_t deadline) noexcept;
  // wake() interrupts sleep() from any thread.
  void wake() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> p_;
};

}  // namespace canal::detail
