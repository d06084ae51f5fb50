// lock_order.hpp: ranked locks for runtime/. The lock order itself (every rank, lowest first,
// and why each sits where it does) is the enum in canal/detail/lock_rank.hpp; the spinlock in
// canal/detail/spinlock.hpp carries a rank. This header adds ranked_mutex: a std::mutex with
// a rank, for locks whose critical section may block in the kernel (stack_pool maps slabs).
// With CANAL_DCHECKS=1 its lock()/try_lock()/unlock() report to the lock-order checker like a
// spinlock's; without, it is a std::mutex and nothing else.
#pragma once

#include <mutex>

#include "canal/detail/check.hpp"
#include "canal/detail/lock_rank.hpp"

namespace canal::detail {

class ranked_mutex {
 public:
  explicit ranked_mutex([[maybe_unused]] lock_rank rank) noexcept
#if CANAL_DCHECK_IS_ON
      : rank_(rank)
#endif
  {
  }
  ranked_mutex(const ranked_mutex&) = delete;
  ranked_mutex& operator=(const ranked_mutex&) = delete;

  void lock() {
#if CANAL_DCHECK_IS_ON
    lock_order_acquire(rank_, this);  // before blocking: report rather than deadlock
#endif
    mu_.lock();
  }
  bool try_lock() {
    const bool got = mu_.try_lock();
#if CANAL_DCHECK_IS_ON
    if (got) lock_order_record(rank_, this);
#endif
    return got;
  }
  void unlock() {
#if CANAL_DCHECK_IS_ON
    lock_order_release(rank_, this);
#endif
    mu_.unlock();
  }

 private:
  std::mutex mu_;
#if CANAL_DCHECK_IS_ON
  lock_rank rank_;
#endif
};

#if !CANAL_DCHECK_IS_ON
static_assert(sizeof(ranked_mutex) == sizeof(std::mutex));
#endif

}  // namespace canal::detail
