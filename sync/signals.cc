// signals.cc: wait_group, event, async_result's core and call_once (sync/DESIGN.md).
//
// All four are "wait until a state is reached" objects: waiters queue under the object's
// spinlock while the state is not reached; the party that reaches it claims every queued entry
// (tok_signal) under the same lock and wakes them after unlocking.
#include <string>

#include "canal/errors.hpp"
#include "canal/sync.hpp"
#include "sync/wait.hpp"

namespace canal {

namespace {
using detail::parker;
using detail::wait_entry;

// Returns true when the wait was granted, false on timeout; throws cancelled.
bool finish_wait(std::uint32_t tok) {
  if (tok >= parker::tok_signal) return true;
  if (tok == parker::tok_cancel) detail::throw_cancelled();
  return false;
}
}  // namespace

// ------------------------------------------------------------------------------- wait_group

wait_group::~wait_group() {
  detail::check_no_waiters(q_, "canal::wait_group destroyed while parties wait on it");
}

void wait_group::add(std::int64_t n) {
  detail::wake_list wl;
  lk_.lock();
  std::int64_t v;
  if (__builtin_add_overflow(count_, n, &v)) {
    lk_.unlock();
    throw error("canal::wait_group::add: counter overflow");
  }
  if (v < 0) {
    lk_.unlock();
    throw error("canal::wait_group: negative counter (done() called more times than add() counted; "
                "sync: negative WaitGroup counter)");
  }
  count_ = v;
  if (v == 0) detail::claim_all(q_, wl, parker::tok_signal);
  lk_.unlock();
  wl.wake_all();
}

std::int64_t wait_group::count() const noexcept {
  std::lock_guard<detail::spinlock> g(lk_);
  return count_;
}

bool wait_group::wait_impl(std::int64_t deadline) {
  lk_.lock();
  if (count_ == 0) {
    lk_.unlock();
    return true;
  }
  if (deadline == detail::try_now) {
    lk_.unlock();
    return false;
  }
  wait_entry e;
  return finish_wait(detail::park_in(q_, lk_, e, deadline, "wait_group wait"));
}

// ------------------------------------------------------------------------------------ event

event::~event() { detail::check_no_waiters(q_, "canal::event destroyed while parties wait on it"); }

void event::set() {
  detail::wake_list wl;
  lk_.lock();
  set_.store(true, std::memory_order_release);
  detail::claim_all(q_, wl, parker::tok_signal);
  lk_.unlock();
  wl.wake_all();
}

void event::clear() noexcept {
  lk_.lock();
  set_.store(false, std::memory_order_relaxed);
  lk_.unlock();
}

bool event::wait_impl(std::int64_t deadline) {
  if (set_.load(std::memory_order_acquire)) return true;
  lk_.lock();
  if (set_.load(std::memory_order_relaxed)) {
    lk_.unlock();
    return true;
  }
  if (deadline == detail::try_now) {
    lk_.unlock();
    return false;
  }
  wait_entry e;
  return finish_wait(detail::park_in(q_, lk_, e, deadline, "event wait"));
}

// ------------------------------------------------------------------------------ result_core

namespace detail {

result_core::~result_core() {
  check_no_waiters(q_, "canal::async_result destroyed while parties wait on it");
}

void result_core::begin_set(const char* who) {
  std::uint8_t s = k_empty;
  if (!state_.compare_exchange_strong(s, k_setting, std::memory_order_acquire,
                                      std::memory_order_relaxed))
    throw error(std::string(who) + ": the result is already set");
}

void result_core::abort_set() noexcept { state_.store(k_empty, std::memory_order_release); }

void result_core::publish() noexcept {
  wake_list wl;
  lk_.lock();
  state_.store(k_ready, std::memory_order_release);
  claim_all(q_, wl, parker::tok_signal);
  lk_.unlock();
  wl.wake_all();
}

bool result_core::wait_until(std::int64_t deadline) {
  if (ready()) return true;
  lk_.lock();
  if (state_.load(std::memory_order_acquire) == k_ready) {
    lk_.unlock();
    return true;
  }
  if (deadline == try_now) {
    lk_.unlock();
    return false;
  }
  wait_entry e;
  return finish_wait(park_in(q_, lk_, e, deadline, "async_result wait"));
}

}  // namespace detail

// ------------------------------------------------------------------------------------- once

namespace {
thread_local char t_thread_identity;
// The calling greenlet, or the calling OS thread.
const void* self_identity() noexcept {
  if (detail::greenlet* g = detail::current()) return g;
  return &t_thread_identity;
}
}  // namespace

once_flag::~once_flag() {
  detail::check_no_waiters(q_, "canal::once_flag destroyed while parties wait on it");
}

bool once_flag::enter() {
  const void* self = self_identity();
  for (;;) {
    lk_.lock();
    const std::uint8_t s = state_.load(std::memory_order_relaxed);
    if (s == k_done) {
      lk_.unlock();
      return false;
    }
    if (s == k_idle) {
      state_.store(k_running, std::memory_order_relaxed);
      runner_ = self;
      lk_.unlock();
      return true;
    }
    if (runner_ == self) {
      lk_.unlock();
      throw error("canal::call_once: called again on the same once_flag from the function it is "
                  "running (it would wait for itself forever)");
    }
    wait_entry e;
    // Woken when the runner finished: done (return) or failed (compete to run it again).
    finish_wait(detail::park_in(q_, lk_, e, detail::block_forever, "call_once"));
  }
}

void once_flag::finish(bool ok) noexcept {
  detail::wake_list wl;
  lk_.lock();
  state_.store(ok ? k_done : k_idle, std::memory_order_release);
  runner_ = nullptr;
  detail::claim_all(q_, wl, parker::tok_signal);
  lk_.unlock();
  wl.wake_all();
}

}  // namespace canal
