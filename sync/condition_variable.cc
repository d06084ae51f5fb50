// condition_variable.cc: canal::condition_variable (sync/DESIGN.md, "condition_variable").
#include <exception>

#include "canal/errors.hpp"
#include "canal/sync.hpp"
#include "sync/wait.hpp"

namespace canal {

namespace {

using detail::parker;

// relock_on_unwind re-acquires m if the scope is left by an exception (cancelled). The lock()
// then runs while the exception propagates, and a greenlet parking during unwinding is not
// cancellable (runtime/DESIGN.md, "Cancellation"): the waiter always gets the mutex back.
class relock_on_unwind {
 public:
  explicit relock_on_unwind(mutex& m) noexcept : m_(m), n_(std::uncaught_exceptions()) {}
  relock_on_unwind(const relock_on_unwind&) = delete;
  relock_on_unwind& operator=(const relock_on_unwind&) = delete;
  ~relock_on_unwind() {
    if (std::uncaught_exceptions() > n_) m_.lock();
  }

 private:
  mutex& m_;
  int n_;
};

}  // namespace

condition_variable::~condition_variable() {
  detail::check_no_waiters(q_, "canal::condition_variable destroyed while parties wait on it");
}

void condition_variable::notify_one() noexcept {
  lk_.lock();
  detail::wait_entry* e = detail::claim_one(q_, parker::tok_signal);
  parker* p = e ? e->p : nullptr;
  lk_.unlock();
  if (p) detail::wake(p, false);
}

void condition_variable::notify_all() noexcept {
  detail::wake_list wl;
  lk_.lock();
  detail::claim_all(q_, wl, parker::tok_signal);
  lk_.unlock();
  wl.wake_all();
}

bool condition_variable::wait_impl(std::unique_lock<mutex>& ul, std::int64_t deadline) {
  if (!ul.mutex()) throw error("canal::condition_variable::wait: the unique_lock has no mutex");
  if (!ul.owns_lock())
    throw error("canal::condition_variable::wait: the unique_lock does not own its mutex");
  mutex& m = *ul.mutex();
  // Queue first, then release the mutex, both under lk_: a notifier that locks the mutex after
  // our release finds us queued (no lost wake-up), and waiters queue in the order they held the
  // mutex (notification order is FIFO).
  lk_.lock();
  const detail::wait_ticket t = detail::begin_wait();
  detail::wait_entry e;
  e.p = t.p;
  e.epoch = t.epoch;
  wq_push(q_, &e);
  try {
    m.unlock();
  } catch (...) {
    wq_remove(q_, &e);
    lk_.unlock();
    detail::end_wait(t);
    throw;
  }
  std::uint32_t tok;
  {
    relock_on_unwind guard(m);
    detail::spinlock* l = &lk_;
    tok = detail::block(t, &l, 1, deadline, "condition_variable wait");
    if (tok < parker::tok_signal) {
      lk_.lock();
      wq_remove(q_, &e);
      lk_.unlock();
      if (tok == parker::tok_cancel) detail::throw_cancelled();
    }
    m.lock();  // if this throws cancelled, guard takes the mutex while it propagates
  }
  return tok != parker::tok_timeout;
}

}  // namespace canal
