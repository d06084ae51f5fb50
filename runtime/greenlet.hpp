// greenlet.hpp: machine-context switching, the one place canal touches Boost.Context.
//
// context_switch() is the single switch function. It carries the sanitizer annotations in the
// frame that jumps (ASan start/finish_switch_fiber, TSan switch_to_fiber), as both sanitizers
// require. Whoever lands after a switch calls on_landing() (worker.cc), which saves the context
// that was just left and runs the pending post-switch action (unlock, requeue, recycle).
#pragma once

#include <cstddef>

#include "canal/detail/greenlet.hpp"

namespace canal::detail {

struct worker;

// context_switch() saves the running context into *from and resumes *to, handing w to the
// landing side. Returns when *from is resumed, possibly on another worker thread: re-read any
// thread-local state after it returns.
void context_switch(exec_context* from, exec_context* to, worker* w) noexcept;

// context_exit() leaves a finished greenlet for good (its stack may be recycled by the landing
// side).
[[noreturn]] void context_exit(exec_context* to, worker* w) noexcept;

// context_make() prepares *ec to start greenlet_main() on the given stack.
void context_make(exec_context* ec, void* stack_lo, std::size_t usable) noexcept;

// context_release() frees per-context sanitizer state (the TSan fiber) of a finished greenlet;
// must run on another context, after the last switch away from it.
void context_release(exec_context* ec) noexcept;

// context_init_thread() describes the calling thread's own stack as a context (the worker's
// scheduler loop) so greenlets can switch back to it.
void context_init_thread(exec_context* ec) noexcept;

// The C++ runtime's per-thread exception globals (Itanium C++ ABI, libstdc++/libc++abi).
struct eh_globals {
  void* caught;
  unsigned uncaught;
};
eh_globals* thread_eh_globals() noexcept;

// Defined in worker.cc.
void on_landing(void* from_ctx, worker* w) noexcept;
eh_globals* worker_eh(worker* w) noexcept;
[[noreturn]] void greenlet_main() noexcept;

}  // namespace canal::detail
