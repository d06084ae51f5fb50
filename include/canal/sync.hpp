// canal/sync.hpp: synchronization primitives for greenlets and OS threads.
//
// Defines: canal::wait_group, canal::mutex, canal::condition_variable, canal::event,
//          canal::async_result<T>, canal::semaphore, canal::bounded_semaphore,
//          canal::once_flag, canal::call_once, canal::shared_mutex.
//
// Every blocking call parks the calling greenlet (its worker runs other greenlets meanwhile) or
// blocks the calling OS thread, with or without a runtime running; greenlets and threads may use
// the same object at once. A greenlet killed (task::kill(), run() shutting down) while it waits
// gets canal::cancelled thrown from the wait, and the object stays consistent: it took nothing
// (no lock, no permit, no notification). Timed waits take a std::chrono duration or time point.
// Misuse (unlock of an unlocked mutex, a negative wait_group counter, setting an async_result
// twice, over-releasing a bounded_semaphore) throws canal::error with a message. Destroying an
// object while parties wait on it aborts the process with a message.
//
// Nothing allocates on a wait path (the wait records live on the waiters' stacks), except
// async_result, whose shared state is allocated once when it is constructed.
// How each primitive waits: sync/DESIGN.md.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>  // std::cv_status
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>  // std::unique_lock
#include <optional>
#include <type_traits>
#include <utility>

#include "canal/detail/chan_api.hpp"  // block_forever, try_now
#include "canal/detail/greenlet.hpp"  // wait_queue
#include "canal/detail/spinlock.hpp"
#include "canal/errors.hpp"
#include "canal/task.hpp"  // deadline_after, to_steady_ns

namespace canal {

// ------------------------------------------------------------------------------- wait_group
// wait_group waits for a collection of greenlets or threads to finish (Go's sync.WaitGroup):
// add(n) before starting n of them, each calls done() when finished, wait() blocks until the
// counter is zero. A counter that would go negative throws canal::error ("negative counter")
// and is left unchanged. When the counter reaches zero every wait() in progress is released at
// once; an add() after that starts a new round: waits released by the zero return even if the
// counter was raised again before they ran, later waits wait for the new round (Go's rule:
// the add() that starts a round must happen before the wait() that waits for it).
class wait_group {
 public:
  wait_group() noexcept = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;
  ~wait_group();

  void add(std::int64_t n = 1);
  void done() { add(-1); }
  void wait() { wait_impl(detail::block_forever); }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) {
    return wait_impl(detail::deadline_after(d));
  }
  template <class Clock, class Dur>
  bool wait_until(std::chrono::time_point<Clock, Dur> tp) {
    return wait_impl(detail::to_steady_ns(tp));
  }
  // count(): the counter now (for diagnostics and tests).
  std::int64_t count() const noexcept;

 private:
  bool wait_impl(std::int64_t deadline);
  mutable detail::spinlock lk_{detail::lock_rank::sync};
  std::int64_t count_ = 0;
  detail::wait_queue q_;
};

// ------------------------------------------------------------------------------------ mutex
// mutex: a Lockable and TimedLockable mutual-exclusion lock (std::lock_guard, std::unique_lock,
// std::scoped_lock, condition_variable). As Go's sync.Mutex, it is not tied to the greenlet or
// thread that locked it: it may be held across a yield, a sleep or any park (greenlets migrate
// between workers), and another party may unlock it. Not recursive: locking it twice from the
// same greenlet without an unlock in between waits forever, as in Go.
//
// Fairness (Go's starvation mode): normally an unlock releases the lock and wakes the oldest
// waiter, which competes with newcomers (barging keeps throughput high); once the oldest waiter
// has waited 1 ms, unlock hands the lock directly to it (FIFO) instead, so no waiter starves.
//
// unlock() of an unlocked mutex throws canal::error ("unlock of unlocked mutex"); from a noexcept
// destructor (std::lock_guard) that ends the process through std::terminate with the message.
class mutex {
 public:
  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;
  ~mutex();

  void lock() {
    std::uint32_t s = 0;
    if (!state_.compare_exchange_strong(s, k_locked, std::memory_order_acquire,
                                        std::memory_order_relaxed))
      lock_slow(detail::block_forever);
  }
  bool try_lock() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    while (!(s & k_locked)) {
      if (state_.compare_exchange_weak(s, s | k_locked, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return true;
    }
    return false;
  }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    return try_lock() || lock_slow(detail::deadline_after(d));
  }
  template <class Clock, class Dur>
  bool try_lock_until(std::chrono::time_point<Clock, Dur> tp) {
    return try_lock() || lock_slow(detail::to_steady_ns(tp));
  }
  void unlock() {
    std::uint32_t s = k_locked;
    if (!state_.compare_exchange_strong(s, 0, std::memory_order_release,
                                        std::memory_order_relaxed))
      unlock_slow();
  }

 private:
  friend class condition_variable;
  static constexpr std::uint32_t k_locked = 1;
  static constexpr std::uint32_t k_waiters = 2;  // q_ may be non-empty: unlock takes lk_
  bool lock_slow(std::int64_t deadline);
  void unlock_slow();

  std::atomic<std::uint32_t> state_{0};
  detail::spinlock lk_{detail::lock_rank::sync};
  bool woken_ = false;  // a waiter was woken to retry and has not retried yet (under lk_)
  detail::wait_queue q_;
};

// ------------------------------------------------------------------------ condition_variable
// condition_variable works with std::unique_lock<canal::mutex>, like std::condition_variable:
// wait() releases the lock and waits for notify_one()/notify_all(), then re-acquires it. Waiters
// are notified in the order they started waiting. The lock is held again whenever wait returns
// or throws, canal::cancelled included (a killed waiter re-acquires the mutex, without being
// cancellable, while cancelled propagates). Spurious wake-ups do not happen, but use the
// predicate forms anyway: another party may change the state before the waiter re-locks.
class condition_variable {
 public:
  condition_variable() noexcept = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;
  ~condition_variable();

  void notify_one() noexcept;
  void notify_all() noexcept;

  void wait(std::unique_lock<mutex>& lk) { wait_impl(lk, detail::block_forever); }
  template <class Pred>
  void wait(std::unique_lock<mutex>& lk, Pred pred) {
    while (!pred()) wait(lk);
  }
  template <class Clock, class Dur>
  std::cv_status wait_until(std::unique_lock<mutex>& lk, std::chrono::time_point<Clock, Dur> tp) {
    return wait_impl(lk, detail::to_steady_ns(tp)) ? std::cv_status::no_timeout
                                                    : std::cv_status::timeout;
  }
  template <class Clock, class Dur, class Pred>
  bool wait_until(std::unique_lock<mutex>& lk, std::chrono::time_point<Clock, Dur> tp,
                  Pred pred) {
    return wait_deadline(lk, detail::to_steady_ns(tp), std::move(pred));
  }
  template <class Rep, class Period>
  std::cv_status wait_for(std::unique_lock<mutex>& lk, std::chrono::duration<Rep, Period> d) {
    return wait_impl(lk, detail::deadline_after(d)) ? std::cv_status::no_timeout
                                                     : std::cv_status::timeout;
  }
  template <class Rep, class Period, class Pred>
  bool wait_for(std::unique_lock<mutex>& lk, std::chrono::duration<Rep, Period> d, Pred pred) {
    return wait_deadline(lk, detail::deadline_after(d), std::move(pred));
  }

 private:
  template <class Pred>
  bool wait_deadline(std::unique_lock<mutex>& lk, std::int64_t deadline, Pred pred) {
    while (!pred()) {
      if (!wait_impl(lk, deadline)) return pred();
    }
    return true;
  }
  // true: notified; false: the deadline passed. The lock is held on return and on throw.
  bool wait_impl(std::unique_lock<mutex>& lk, std::int64_t deadline);

  detail::spinlock lk_{detail::lock_rank::sync_cond};
  detail::wait_queue q_;
};

// ------------------------------------------------------------------------------------ event
// event (gevent's Event): a flag that wait() blocks on until set(). set() releases every waiter
// and lets later waits through until clear(). A waiter released by set() returns true even if
// clear() ran before it resumed.
class event {
 public:
  event() noexcept = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;
  ~event();

  void set();
  void clear() noexcept;
  bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }
  void wait() { wait_impl(detail::block_forever); }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) {
    return wait_impl(detail::deadline_after(d));
  }
  template <class Clock, class Dur>
  bool wait_until(std::chrono::time_point<Clock, Dur> tp) {
    return wait_impl(detail::to_steady_ns(tp));
  }

 private:
  bool wait_impl(std::int64_t deadline);
  std::atomic<bool> set_{false};
  detail::spinlock lk_{detail::lock_rank::sync};
  detail::wait_queue q_;
};

// ----------------------------------------------------------------------------- async_result
namespace detail {
// result_core: the one-shot state machine behind async_result (empty -> setting -> ready).
class result_core {
 public:
  result_core() noexcept = default;
  result_core(const result_core&) = delete;
  result_core& operator=(const result_core&) = delete;
  ~result_core();
  // begin_set() claims the right to store the outcome; throws canal::error if it was set.
  void begin_set(const char* who);
  void abort_set() noexcept;  // storing threw: back to empty
  void publish() noexcept;    // the outcome is stored: ready, every waiter released
  bool wait_until(std::int64_t deadline);
  bool ready() const noexcept { return state_.load(std::memory_order_acquire) == k_ready; }

 private:
  static constexpr std::uint8_t k_empty = 0, k_setting = 1, k_ready = 2;
  std::atomic<std::uint8_t> state_{k_empty};
  spinlock lk_{detail::lock_rank::sync};
  wait_queue q_;
};

template <class T>
struct result_state {
  result_core core;
  std::optional<T> value;
  std::exception_ptr error;
};
template <>
struct result_state<void> {
  result_core core;
  std::exception_ptr error;
};

template <class T>
class async_result_base {
 public:
  // set_exception() makes every get() rethrow e. Throws canal::error if already set or if e is
  // null.
  void set_exception(std::exception_ptr e) const {
    if (!e) throw error("canal::async_result::set_exception: null exception_ptr");
    s_->core.begin_set("canal::async_result::set_exception");
    s_->error = std::move(e);
    s_->core.publish();
  }
  // wait() blocks until the result is set (value or exception); wait_for/wait_until say
  // whether it is set. They never rethrow.
  void wait() const { s_->core.wait_until(block_forever); }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    return s_->core.wait_until(deadline_after(d));
  }
  template <class Clock, class Dur>
  bool wait_until(std::chrono::time_point<Clock, Dur> tp) const {
    return s_->core.wait_until(to_steady_ns(tp));
  }
  bool ready() const noexcept { return s_->core.ready(); }
  bool successful() const noexcept { return ready() && !s_->error; }
  std::exception_ptr exception() const noexcept {
    return ready() ? s_->error : std::exception_ptr();
  }

 protected:
  void check_or_throw() const {
    if (s_->error) std::rethrow_exception(s_->error);
  }
  template <class Rep, class Period>
  void wait_or_timeout(std::chrono::duration<Rep, Period> d) const {
    if (!wait_for(d)) throw timeout_error("canal::async_result::get_for: timed out");
  }
  std::shared_ptr<result_state<T>> s_ = std::make_shared<result_state<T>>();
};
}  // namespace detail

// async_result<T> (gevent's AsyncResult): a one-shot value or exception that any number of
// greenlets and threads wait for. A handle: copies refer to the same result (capture it by
// value). set() twice, or set() after set_exception(), throws canal::error.
template <class T = void>
class async_result : public detail::async_result_base<T> {
 public:
  using value_type = T;
  // set() stores v and releases every waiter.
  void set(T v) const {
    this->s_->core.begin_set("canal::async_result::set");
    try {
      this->s_->value.emplace(std::move(v));
    } catch (...) {
      this->s_->core.abort_set();
      throw;
    }
    this->s_->core.publish();
  }
  // get() waits, then returns the value (valid while a handle lives) or rethrows the exception.
  const T& get() const {
    this->wait();
    this->check_or_throw();
    return *this->s_->value;
  }
  // get_for() is get() that throws canal::timeout_error after d.
  template <class Rep, class Period>
  const T& get_for(std::chrono::duration<Rep, Period> d) const {
    this->wait_or_timeout(d);
    this->check_or_throw();
    return *this->s_->value;
  }
};

template <>
class async_result<void> : public detail::async_result_base<void> {
 public:
  using value_type = void;
  void set() const {
    s_->core.begin_set("canal::async_result::set");
    s_->core.publish();
  }
  void get() const {
    wait();
    check_or_throw();
  }
  template <class Rep, class Period>
  void get_for(std::chrono::duration<Rep, Period> d) const {
    wait_or_timeout(d);
    check_or_throw();
  }
};

// -------------------------------------------------------------------------------- semaphore
namespace detail {
// sem_core: a counting semaphore; max >= 0 makes it bounded (a release above max throws),
// max < 0 leaves it unbounded.
class sem_core {
 public:
  sem_core(std::ptrdiff_t initial, std::ptrdiff_t max, const char* name);
  sem_core(const sem_core&) = delete;
  sem_core& operator=(const sem_core&) = delete;
  ~sem_core();
  bool acquire_until(std::int64_t deadline);  // try_now: never waits
  void release(std::ptrdiff_t n);
  std::ptrdiff_t available() const noexcept;

 private:
  mutable spinlock lk_{detail::lock_rank::sync};
  std::ptrdiff_t count_;
  const std::ptrdiff_t max_;
  const char* name_;
  wait_queue q_;
};
}  // namespace detail

// semaphore: a counting semaphore (std::counting_semaphore's interface; gevent's Semaphore).
// Waiters get permits in FIFO order; a permit released while greenlets wait goes straight to the
// oldest one. release(n) with n < 0, or past PTRDIFF_MAX permits, throws canal::error.
class semaphore {
 public:
  explicit semaphore(std::ptrdiff_t initial) : c_(initial, -1, "canal::semaphore") {}
  void acquire() { c_.acquire_until(detail::block_forever); }
  bool try_acquire() { return c_.acquire_until(detail::try_now); }
  template <class Rep, class Period>
  bool try_acquire_for(std::chrono::duration<Rep, Period> d) {
    return c_.acquire_until(detail::deadline_after(d));
  }
  template <class Clock, class Dur>
  bool try_acquire_until(std::chrono::time_point<Clock, Dur> tp) {
    return c_.acquire_until(detail::to_steady_ns(tp));
  }
  void release(std::ptrdiff_t n = 1) { c_.release(n); }
  // available(): permits free now.
  std::ptrdiff_t available() const noexcept { return c_.available(); }

 private:
  detail::sem_core c_;
};

// bounded_semaphore (gevent's BoundedSemaphore): a semaphore that may never hold more than its
// initial count: a release() that would exceed it throws canal::error and changes nothing.
class bounded_semaphore {
 public:
  explicit bounded_semaphore(std::ptrdiff_t initial)
      : c_(initial, initial, "canal::bounded_semaphore") {}
  void acquire() { c_.acquire_until(detail::block_forever); }
  bool try_acquire() { return c_.acquire_until(detail::try_now); }
  template <class Rep, class Period>
  bool try_acquire_for(std::chrono::duration<Rep, Period> d) {
    return c_.acquire_until(detail::deadline_after(d));
  }
  template <class Clock, class Dur>
  bool try_acquire_until(std::chrono::time_point<Clock, Dur> tp) {
    return c_.acquire_until(detail::to_steady_ns(tp));
  }
  void release(std::ptrdiff_t n = 1) { c_.release(n); }
  std::ptrdiff_t available() const noexcept { return c_.available(); }

 private:
  detail::sem_core c_;
};

// ------------------------------------------------------------------------------------- once
// once_flag + call_once(flag, f, args...): f runs exactly once successfully. Concurrent callers
// wait (parked) while the first runs. If f throws, the exception propagates to its caller and
// the flag stays unset: the next caller (a waiting one, or a later one) runs f again
// (std::call_once's rule; Go's Once instead counts a panicking call as done). A call from
// inside f on the same flag throws canal::error instead of waiting forever.
class once_flag {
 public:
  constexpr once_flag() noexcept = default;
  once_flag(const once_flag&) = delete;
  once_flag& operator=(const once_flag&) = delete;
  ~once_flag();

  bool is_done() const noexcept { return state_.load(std::memory_order_acquire) == k_done; }

 private:
  template <class F, class... Args>
  friend void call_once(once_flag& flag, F&& f, Args&&... args);
  static constexpr std::uint8_t k_idle = 0, k_running = 1, k_done = 2;
  bool enter();                     // true: the caller runs f; false: done
  void finish(bool ok) noexcept;    // the runner is done (ok) or threw (not ok)
  std::atomic<std::uint8_t> state_{k_idle};
  detail::spinlock lk_{detail::lock_rank::sync};
  const void* runner_ = nullptr;  // the greenlet or thread running f (under lk_)
  detail::wait_queue q_;
};

template <class F, class... Args>
void call_once(once_flag& flag, F&& f, Args&&... args) {
  if (flag.is_done()) return;
  if (!flag.enter()) return;
  try {
    std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
  } catch (...) {
    flag.finish(false);
    throw;
  }
  flag.finish(true);
}

// ----------------------------------------------------------------------------- shared_mutex
// shared_mutex: a reader/writer lock (std::shared_timed_mutex's interface; Go's RWMutex
// behaviour): many readers or one writer. Writers are not starved: once a writer waits, new
// readers queue behind it; when a writer unlocks, the readers that queued meanwhile go first,
// then the next writer. unlock()/unlock_shared() without the matching lock throw canal::error.
// Like mutex, it is not tied to the party that locked it.
class shared_mutex {
 public:
  shared_mutex() noexcept = default;
  shared_mutex(const shared_mutex&) = delete;
  shared_mutex& operator=(const shared_mutex&) = delete;
  ~shared_mutex();

  void lock() { lock_impl(detail::block_forever); }
  bool try_lock() { return lock_impl(detail::try_now); }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    return lock_impl(detail::deadline_after(d));
  }
  template <class Clock, class Dur>
  bool try_lock_until(std::chrono::time_point<Clock, Dur> tp) {
    return lock_impl(detail::to_steady_ns(tp));
  }
  void unlock();

  void lock_shared() { lock_shared_impl(detail::block_forever); }
  bool try_lock_shared() { return lock_shared_impl(detail::try_now); }
  template <class Rep, class Period>
  bool try_lock_shared_for(std::chrono::duration<Rep, Period> d) {
    return lock_shared_impl(detail::deadline_after(d));
  }
  template <class Clock, class Dur>
  bool try_lock_shared_until(std::chrono::time_point<Clock, Dur> tp) {
    return lock_shared_impl(detail::to_steady_ns(tp));
  }
  void unlock_shared();

 private:
  bool lock_impl(std::int64_t deadline);
  bool lock_shared_impl(std::int64_t deadline);
  detail::spinlock lk_{detail::lock_rank::sync};
  bool writer_ = false;       // under lk_
  std::uint32_t readers_ = 0;  // under lk_
  detail::wait_queue wq_;      // waiting writers
  detail::wait_queue rq_;      // waiting readers
};

}  // namespace canal
