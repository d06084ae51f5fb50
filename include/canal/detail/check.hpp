// canal/detail/check.hpp: canal's internal invariant checks. Not for user code.
//
//   CANAL_ASSERT(cond, "what must hold")   always on.
//   CANAL_DCHECK(cond, "what must hold")   on when CANAL_DCHECKS is defined to 1 (bazel
//                                          --config=debug, asan, tsan); otherwise the condition
//                                          is compiled (it must stay valid code) but never
//                                          evaluated: it sits in an unevaluated sizeof.
// A failed check prints the condition, the message, file:line and the running greenlet (name,
// id, spawn site; "foreign thread" / "scheduler loop" off a greenlet) to stderr without
// allocating, then calls std::abort(). runtime/check.cc implements it.
//
// Mixing: CANAL_DCHECKS changes the layout of canal's locks (spinlock carries its lock_rank)
// and the bodies of inline functions (lock()/unlock() call the lock-order checker). A program
// must therefore be built all with it or all without it: one translation unit with it and the
// library without would share greenlet/channel control blocks of different layouts and
// different copies of spinlock::lock() (the linker keeps one). That mistake cannot link: every
// translation unit that includes this header refers, through a hidden weak pointer, to a marker
// that only a library built the same way defines (dchecks_abi_on / dchecks_abi_off in
// runtime/check.cc), and the checker functions exist only in the DCHECK build. Tests that need
// DCHECKs in the default build link //:canal_dchecked, which compiles the whole library with
// `defines = ["CANAL_DCHECKS=1"]`; Bazel hands that define to every dependent, so the test's
// own translation units match the library's.
#pragma once

#if defined(CANAL_DCHECKS) && CANAL_DCHECKS
#define CANAL_DCHECK_IS_ON 1
#else
#define CANAL_DCHECK_IS_ON 0
#endif

namespace canal::detail {

// Prints the failure report (condition, message, file:line, running greenlet) and aborts.
[[noreturn, gnu::cold]] void check_failed(const char* cond, const char* msg, const char* file,
                                          int line) noexcept;

// Link-time guard against mixing (see above): one pointer per shared object (weak, hidden)
// whose relocation names the marker. used + retain keep it from the compiler and from the
// linker's --gc-sections (-c opt), which would otherwise drop it and the undefined reference.
#if defined(__has_attribute)
#if __has_attribute(retain)
#define CANAL_DETAIL_RETAIN gnu::retain
#endif
#endif
#ifndef CANAL_DETAIL_RETAIN
#define CANAL_DETAIL_RETAIN gnu::used
#endif
#if CANAL_DCHECK_IS_ON
extern const char dchecks_abi_on;
[[gnu::weak, gnu::visibility("hidden"), gnu::used, CANAL_DETAIL_RETAIN]] const char*
    dchecks_abi_ref_on = &dchecks_abi_on;
#else
extern const char dchecks_abi_off;
[[gnu::weak, gnu::visibility("hidden"), gnu::used, CANAL_DETAIL_RETAIN]] const char*
    dchecks_abi_ref_off = &dchecks_abi_off;
#endif

}  // namespace canal::detail

#define CANAL_ASSERT(cond, msg)                                     \
  (__builtin_expect(static_cast<bool>(cond), 1)                     \
       ? static_cast<void>(0)                                       \
       : ::canal::detail::check_failed(#cond, msg, __FILE__, __LINE__))

#if CANAL_DCHECK_IS_ON
#define CANAL_DCHECK(cond, msg) CANAL_ASSERT(cond, msg)
#else
#define CANAL_DCHECK(cond, msg) \
  (static_cast<void>(sizeof(static_cast<bool>(cond))), static_cast<void>(sizeof(msg)))
#endif
