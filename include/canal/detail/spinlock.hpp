// canal/detail/spinlock.hpp: the short-critical-section lock used by channels, task states and
// run queues. Test-and-test-and-set with a pause, then sched_yield after a while. Critical
// sections guarded by it never block, allocate or switch greenlets (except the park handshake,
// which releases it from the next context after the switch: see runtime/DESIGN.md).
#pragma once

#include <atomic>

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
  void lock() noexcept {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

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
};

}  // namespace canal::detail
