// semaphore.cc: the counting semaphore core behind semaphore and bounded_semaphore.
//
// Invariant (under lk_): count_ > 0 implies q_ holds no claimable waiter. release() gives
// permits to queued waiters first (claimed with tok_signal: the permit is theirs) and adds only
// the rest to count_; a waiter that times out or is cancelled was not claimed, so it took no
// permit and none is lost.
#include <cstdint>
#include <limits>
#include <string>

#include "canal/errors.hpp"
#include "canal/sync.hpp"
#include "sync/wait.hpp"

namespace canal::detail {

sem_core::sem_core(std::ptrdiff_t initial, std::ptrdiff_t max, const char* name)
    : count_(initial), max_(max), name_(name) {
  if (initial < 0) throw error(std::string(name) + ": negative initial count");
  if (max_ >= 0 && initial == 0)
    throw error(std::string(name) + ": a bounded semaphore needs a positive initial count");
}

sem_core::~sem_core() { check_no_waiters(q_, "canal semaphore destroyed while parties wait on it"); }

std::ptrdiff_t sem_core::available() const noexcept {
  std::lock_guard<spinlock> g(lk_);
  return count_;
}

bool sem_core::acquire_until(std::int64_t deadline) {
  lk_.lock();
  if (count_ > 0) {
    --count_;
    lk_.unlock();
    return true;
  }
  if (deadline == try_now) {
    lk_.unlock();
    return false;
  }
  wait_entry e;
  const std::uint32_t tok = park_in(q_, lk_, e, deadline, "semaphore acquire");
  if (tok >= parker::tok_signal) return true;
  if (tok == parker::tok_cancel) throw_cancelled();
  return false;
}

void sem_core::release(std::ptrdiff_t n) {
  if (n < 0) throw error(std::string(name_) + "::release: negative count");
  wake_list wl;
  lk_.lock();
  if (max_ >= 0 && n > max_ - count_) {
    lk_.unlock();
    throw error(std::string(name_) + "::release: released more times than acquired (would exceed " +
                std::to_string(max_) + " permits)");
  }
  if (n > std::numeric_limits<std::ptrdiff_t>::max() - count_) {
    lk_.unlock();
    throw error(std::string(name_) + "::release: permit count overflow");
  }
  while (n > 0) {
    wait_entry* e = claim_one(q_, parker::tok_signal);
    if (!e) break;
    wl.add(e);
    --n;
  }
  count_ += n;
  lk_.unlock();
  wl.wake_all();
}

}  // namespace canal::detail
