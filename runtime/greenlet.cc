// greenlet.cc: the switch function and context creation. The only file that includes
// Boost.Context; canal uses its fcontext layer (make_fcontext/jump_fcontext), the 5.5 ns switch.
//
// Sanitizer protocol (google/sanitizers docs; runtime/DESIGN.md "sanitizers"):
//   ASan: __sanitizer_start_switch_fiber(&from->asan_fake, to's stack) right before the jump,
//         __sanitizer_finish_switch_fiber(from->asan_fake, ...) right after landing; a dying
//         greenlet passes nullptr; a new greenlet finishes with nullptr at its entry.
//   TSan: __tsan_switch_to_fiber(to, 0) immediately before the jump, in this same frame.
#include "runtime/greenlet.hpp"

#include <cxxabi.h>
#include <pthread.h>

#include <boost/context/detail/fcontext.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define CANAL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CANAL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CANAL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CANAL_TSAN 1
#endif
#endif

#if CANAL_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if CANAL_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace canal::detail {

namespace bctx = boost::context::detail;

eh_globals* thread_eh_globals() noexcept {
  return reinterpret_cast<eh_globals*>(abi::__cxa_get_globals());
}

namespace {

// Swap the thread's exception state: save the leaving context's, install the arriving one's.
inline void swap_eh(eh_globals* eh, exec_context* from, exec_context* to) noexcept {
  if (from) {
    from->eh_caught = eh->caught;
    from->eh_uncaught = eh->uncaught;
  }
  eh->caught = to->eh_caught;
  eh->uncaught = to->eh_uncaught;
}

[[noreturn]] void entry(bctx::transfer_t t) noexcept {
#if CANAL_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  on_landing(t.fctx, static_cast<worker*>(t.data));
  greenlet_main();
}

}  // namespace

void context_switch(exec_context* from, exec_context* to, worker* w) noexcept {
  swap_eh(worker_eh(w), from, to);
#if CANAL_ASAN
  __sanitizer_start_switch_fiber(&from->asan_fake, to->stack_lo, to->stack_size);
#endif
#if CANAL_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  bctx::transfer_t t = bctx::jump_fcontext(static_cast<bctx::fcontext_t>(to->ctx), w);
#if CANAL_ASAN
  __sanitizer_finish_switch_fiber(from->asan_fake, nullptr, nullptr);
#endif
  on_landing(t.fctx, static_cast<worker*>(t.data));
}

void context_exit(exec_context* to, worker* w) noexcept {
  swap_eh(worker_eh(w), nullptr, to);
#if CANAL_ASAN
  __sanitizer_start_switch_fiber(nullptr, to->stack_lo, to->stack_size);
#endif
#if CANAL_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  bctx::jump_fcontext(static_cast<bctx::fcontext_t>(to->ctx), w);
  __builtin_unreachable();
}

void context_make(exec_context* ec, void* stack_lo, std::size_t usable) noexcept {
  char* top = static_cast<char*>(stack_lo) + usable;
  ec->ctx = bctx::make_fcontext(top, usable, &entry);
  ec->stack_lo = stack_lo;
  ec->stack_size = usable;
#if CANAL_TSAN
  ec->tsan_fiber = __tsan_create_fiber(0);
#endif
}

void context_release(exec_context* ec) noexcept {
#if CANAL_TSAN
  if (ec->tsan_fiber) __tsan_destroy_fiber(ec->tsan_fiber);
#endif
  ec->tsan_fiber = nullptr;
  ec->ctx = nullptr;
  ec->asan_fake = nullptr;
}

void context_init_thread(exec_context* ec) noexcept {
  pthread_attr_t attr;
  void* lo = nullptr;
  std::size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &lo, &size);
    pthread_attr_destroy(&attr);
  }
  ec->stack_lo = lo;
  ec->stack_size = size;
#if CANAL_TSAN
  ec->tsan_fiber = __tsan_get_current_fiber();
#endif
}

}  // namespace canal::detail
