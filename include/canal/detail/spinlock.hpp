// canal/detail/spinlock.hpp: the short-critical-section lock used by channels, task states and
// run queues. Test-and-test-and-set with a pause, then sched_yield after a while. Critical
// sections guarded by it never block, allocate or switch greenlets (except the park handshake,
// which releases it from the next context after the switch: see runtime/DESIGN.md).
//
// Every spinlock is declared with its lock_rank (canal/detail/lock_rank.hpp, the one list of the
// lock order). With CANAL_DCHECKS=1 it stores the rank (sizeof 2 instead of 1) and lock(),
// try_lock() and unlock() report to the lock-order checker (runtime/check.cc), which aborts on
// an out-of-order acquisition naming both locks. Without it the rank is only a constructor
// argument: the layout is one atomic<bool> and lock()/unlock() are the same instructions as
// before ranks existed. canal/detail/check.hpp says why a program must not mix the two modes
// and how linking refuses a mix.
#pragma once

#include <atomic>

#include "canal/detail/check.hpp"
#include "canal/detail/lock_rank.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CANAL_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CANAL_CPU_RELAX() asm volatile("yield" ::: "memory")
#else
#define CANAL_CPU_RELAX() ((void)0)
#endif

namespace canal::detail {

void spin_yield() noexcept;  // sched_yield(), out of line

class spinlock {
 public:
  constexpr explicit spinlock([[maybe_unused]] lock_rank rank) noexcept
#if CANAL_DCHECK_IS_ON
      : rank_(rank)
#endif
  {
  }
  spinlock(const spinlock&) = delete;
  spinlock& operator=(const spinlock&) = delete;

  void lock() noexcept {
#if CANAL_DCHECK_IS_ON
    lock_order_acquire(rank_, this);
#endif
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  bool try_lock() noexcept {
    const bool got = !locked_.load(std::memory_order_relaxed) &&
                     !locked_.exchange(true, std::memory_order_acquire);
#if CANAL_DCHECK_IS_ON
    if (got) lock_order_record(rank_, this);
#endif
    return got;
  }
  void unlock() noexcept {
#if CANAL_DCHECK_IS_ON
    lock_order_release(rank_, this);
#endif
    locked_.store(false, std::memory_order_release);
  }

 private:
  // Contended: wait with exponential backoff (1, 2, 4 ... 256 pauses between looks). Backing
  // off lets the holder's core run several critical sections in a row with the lock's cache
  // line local instead of handing the line over after each one: chan_mpmc at two workers went
  // from ~160 ns per item (a pause between looks) to ~52 (cap 64) and ~40 (cap 256; a cap of
  // 1024 gave ~37 but lets a waiter sleep through ~40 µs of free lock). After ~2,000 pauses,
  // yield the thread instead.
  void lock_slow() noexcept {
    unsigned backoff = 1, spent = 0;
    for (;;) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (spent < 2048) {
          for (unsigned i = 0; i < backoff; ++i) CANAL_CPU_RELAX();
          spent += backoff;
          if (backoff < 256) backoff <<= 1;
        } else {
          spin_yield();
        }
      }
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
    }
  }
  std::atomic<bool> locked_{false};
#if CANAL_DCHECK_IS_ON
  lock_rank rank_;
#endif
};

#if !CANAL_DCHECK_IS_ON
// Control blocks embed spinlocks: without DCHECKs a rank costs no byte.
static_assert(sizeof(spinlock) == sizeof(std::atomic<bool>) && alignof(spinlock) == 1);
#endif

}  // namespace canal::detail
