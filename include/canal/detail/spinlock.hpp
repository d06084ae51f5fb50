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
  void lock_slow() noexcept {
    for (unsigned spins = 0;; ++spins) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (spins < 64) {
          CANAL_CPU_RELAX();
          ++spins;
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
