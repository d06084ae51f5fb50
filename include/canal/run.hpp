// canal/run.hpp: starting and stopping the runtime.
//
// Defines: canal::options, canal::run.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "canal/task.hpp"

namespace canal {

// options configures one run(). An aggregate: canal::options{.workers = 2}.
struct options {
  // Worker OS threads, 1 to 4096. 0 (the default) means the CANAL_WORKERS environment variable
  // if set, else std::thread::hardware_concurrency(). The thread that calls run() is worker 0.
  std::size_t workers = 0;
  // Usable stack bytes per greenlet, 16 KiB to 4 GiB (rounded up to whole pages; one guard page
  // is added below). 0 (the default) means the CANAL_STACK_SIZE environment variable if set,
  // else 256 KiB. Pages are only committed when touched, so a parked greenlet costs what it
  // used, not this much. A value set here wins over the environment; an out-of-range value here
  // or a malformed one in the environment makes run() throw canal::error.
  std::size_t stack_size = 0;
  // Print an exception nobody observed (no get()) when its task is released.
  bool report_unobserved_exceptions = true;
};

namespace detail {
// run_main() runs g as the first greenlet on a fresh set of workers and returns after g has
// finished and every other greenlet has been cancelled and joined. Throws canal::error for
// misuse (run() inside a greenlet, two runs at once, bad options).
void run_main(greenlet* g, const options& opts);
}  // namespace detail

// run() starts the workers, runs `main` as the first greenlet and returns its result (or
// rethrows its exception). When main returns, every greenlet still alive is cancelled
// (canal::cancelled is thrown at its suspension point, so its destructors run) and new spawns
// are refused (go() throws canal::error, as a Go program ends when main does); then the
// workers stop and are joined. If run() throws before main started (bad options, no file
// descriptors for the hubs), nothing is left behind. run() may be called again afterwards.
template <class F>
auto run(F main, options opts = {}) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  auto* st = new detail::task_closure<R, F>(canal::source_location::current(), std::move(main));
  task<R> handle = task<R>::adopt(st);  // the handle's reference; the runtime holds its own
  detail::run_main(st, opts);
  return handle.get();
}

}  // namespace canal
