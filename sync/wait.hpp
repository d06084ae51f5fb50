// sync/wait.hpp: the pieces every primitive in sync/ shares, on top of runtime/park.hpp.
//
// A waiter queues a wait_entry (on its stack) under the primitive's spinlock and parks with
// park_in(); a waker pops entries under the same lock and claims them with try_claim(entry
// token); the one whose claim succeeds has been *given* what it waited for (the lock, a permit,
// the notification) while the lock was held; wakers collect claimed entries in a wake_list and
// wake them after unlocking. See sync/DESIGN.md.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "canal/detail/spinlock.hpp"
#include "runtime/park.hpp"

namespace canal::detail {

// wq_push_front() queues e at the head (a mutex waiter that was woken and lost the race goes
// back in front of younger waiters).
inline void wq_push_front(wait_queue& q, wait_entry* e) noexcept {
  e->prev = nullptr;
  e->next = q.head;
  if (q.head) q.head->prev = e; else q.tail = e;
  q.head = e;
  e->linked = true;
}

// wake_list: claimed entries (already popped), linked through wait_entry::next, woken in order
// after the primitive's lock is released.
struct wake_list {
  wait_entry* head = nullptr;
  wait_entry* tail = nullptr;

  void add(wait_entry* e) noexcept {
    e->next = nullptr;
    if (tail) tail->next = e; else head = e;
    tail = e;
  }
  bool empty() const noexcept { return head == nullptr; }
  // wake_all(): an entry lives on its waiter's stack: read it before waking its owner.
  void wake_all(bool next = false) noexcept {
    wait_entry* e = head;
    head = tail = nullptr;
    while (e) {
      wait_entry* nx = e->next;
      parker* p = e->p;
      wake(p, next);
      e = nx;
    }
  }
};

// claim_one(): pop entries until one is claimed with token tok (stale entries, whose wait was
// already claimed by a timer or kill(), are dropped). Returns the claimed entry or nullptr.
inline wait_entry* claim_one(wait_queue& q, std::uint32_t tok) noexcept {
  while (wait_entry* e = wq_pop(q)) {
    if (try_claim(e->p, e->epoch, tok)) return e;
  }
  return nullptr;
}

// claim_all(): claim every live entry of q into out; returns how many.
inline std::size_t claim_all(wait_queue& q, wake_list& out, std::uint32_t tok) noexcept {
  std::size_t n = 0;
  while (wait_entry* e = claim_one(q, tok)) {
    out.add(e);
    ++n;
  }
  return n;
}

// park_in(): queue e (at the tail, or the head with front) in q and park. lk is held on entry
// and released on return. Returns the token of whoever completed the wait: >= tok_signal means a
// waker claimed it (and popped e) under lk; tok_timeout / tok_cancel mean nobody gave us
// anything: e is unlinked here, under lk, and on_give_up(wake_list&) runs there too (a primitive
// whose state depends on who queues, e.g. shared_mutex, re-dispatches); its wake_list is woken
// after unlocking. The caller throws cancelled on tok_cancel (after any clean-up of its own).
template <class OnGiveUp>
std::uint32_t park_in(wait_queue& q, spinlock& lk, wait_entry& e, bool front,
                      std::int64_t deadline, const char* reason, OnGiveUp&& on_give_up) {
  const wait_ticket t = begin_wait();
  e.p = t.p;
  e.epoch = t.epoch;
  if (front) wq_push_front(q, &e); else wq_push(q, &e);
  spinlock* l = &lk;
  const std::uint32_t tok = block(t, &l, 1, deadline, reason);
  if (tok >= parker::tok_signal) return tok;
  wake_list wl;
  lk.lock();
  wq_remove(q, &e);
  on_give_up(wl);
  lk.unlock();
  wl.wake_all();
  return tok;
}

inline std::uint32_t park_in(wait_queue& q, spinlock& lk, wait_entry& e, std::int64_t deadline,
                             const char* reason) {
  return park_in(q, lk, e, false, deadline, reason, [](wake_list&) {});
}

// sync_fatal(): misuse that cannot be reported by an exception (a destructor): print and abort.
[[noreturn]] void sync_fatal(const char* what) noexcept;

// check_no_waiters(): a primitive destroyed while parties wait on it would leave them parked on
// freed memory.
inline void check_no_waiters(const wait_queue& q, const char* what) noexcept {
  if (!wq_empty(q)) sync_fatal(what);
}

}  // namespace canal::detail
