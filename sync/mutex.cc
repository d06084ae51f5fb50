// mutex.cc: canal::mutex (sync/DESIGN.md, "mutex").
//
// state_ = locked | waiters. The uncontended paths are one CAS each (lock: 0 -> locked, unlock:
// locked -> 0). Everything else takes lk_, which guards q_ (waiters, FIFO, each with the time it
// first queued) and woken_. Tokens: k_retry (the lock was released and you were woken to compete
// for it) and k_handed (the lock is yours: it never became free).
#include <cstdint>

#include "canal/errors.hpp"
#include "canal/sync.hpp"
#include "sync/wait.hpp"

namespace canal {

namespace {

using detail::parker;
using detail::wait_entry;

constexpr std::uint32_t k_retry = parker::tok_signal;
constexpr std::uint32_t k_handed = parker::tok_signal + 1;

// A waiter that has waited this long is handed the lock directly (Go's starvationThresholdNs).
constexpr std::int64_t k_starve_ns = 1000000;

// Spinning before parking: a holder on another worker usually unlocks within a few hundred
// nanoseconds. Short, because with one worker the holder cannot run while we spin.
constexpr int k_spin_rounds = 4;
constexpr int k_spin_pauses = 16;

// mutex_waiter: a queued wait_entry and when its owner first queued (first member: a queue
// entry converts back to its waiter).
struct mutex_waiter {
  wait_entry e;
  std::int64_t since = 0;
};
static_assert(std::is_standard_layout_v<mutex_waiter>);

}  // namespace

mutex::~mutex() { detail::check_no_waiters(q_, "canal::mutex destroyed while parties wait on it"); }

bool mutex::lock_slow(std::int64_t deadline) {
  for (int i = 0; i < k_spin_rounds; ++i) {
    if (try_lock()) return true;
    for (int j = 0; j < k_spin_pauses; ++j) CANAL_CPU_RELAX();
  }
  mutex_waiter w;
  bool retrying = false;  // we were woken with k_retry: we own woken_, and requeue in front
  for (;;) {
    lk_.lock();
    if (retrying) woken_ = false;
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (!(s & k_locked)) {
        if (state_.compare_exchange_weak(s, s | k_locked, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
          lk_.unlock();
          return true;
        }
        continue;
      }
      // Announce a waiter before queueing: a fast-path unlock (locked -> 0) then fails and
      // takes lk_, which we hold until we are parked.
      if ((s & k_waiters) || state_.compare_exchange_weak(s, s | k_waiters,
                                                          std::memory_order_relaxed,
                                                          std::memory_order_relaxed))
        break;
    }
    if (w.since == 0) w.since = detail::now_ns();
    const std::uint32_t tok =
        detail::park_in(q_, lk_, w.e, retrying, deadline, "mutex lock", [this](detail::wake_list&) {
          if (wq_empty(q_)) state_.fetch_and(~k_waiters, std::memory_order_relaxed);
        });
    if (tok == k_handed) return true;
    if (tok == k_retry) {
      retrying = true;
      continue;
    }
    if (tok == parker::tok_cancel) detail::throw_cancelled();
    return false;  // timeout
  }
}

void mutex::unlock_slow() {
  lk_.lock();
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  if (!(s & k_locked)) {
    lk_.unlock();
    throw error("canal::mutex::unlock: unlock of unlocked mutex");
  }
  // Starvation: the oldest waiter has waited k_starve_ns: hand the lock over (it stays locked,
  // so nobody can barge in between).
  if (!wq_empty(q_) &&
      detail::now_ns() - reinterpret_cast<mutex_waiter*>(q_.head)->since >= k_starve_ns) {
    if (wait_entry* e = detail::claim_one(q_, k_handed)) {
      if (wq_empty(q_)) state_.fetch_and(~k_waiters, std::memory_order_relaxed);
      parker* p = e->p;
      lk_.unlock();
      detail::wake(p, true);
      return;
    }
  }
  // Normal mode: release, and wake the oldest waiter to compete for it unless a woken waiter is
  // already on its way (it will requeue in front if it loses).
  wait_entry* e = woken_ ? nullptr : detail::claim_one(q_, k_retry);
  if (e) woken_ = true;
  s &= ~k_locked;
  if (wq_empty(q_)) s &= ~k_waiters;
  // Under lk_ with the lock held nobody else changes state_ (try_lock needs it unlocked, the
  // waiters bit changes under lk_): a plain store publishes the release.
  state_.store(s, std::memory_order_release);
  parker* p = e ? e->p : nullptr;
  lk_.unlock();
  if (p) detail::wake(p, false);
}

void detail::sync_fatal(const char* what) noexcept {
  std::fprintf(stderr, "canal: fatal: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

}  // namespace canal
