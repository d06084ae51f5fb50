// park.hpp: the one wait primitive every blocking point in canal is built on.
//
// A blocked party is a greenlet (which parks: its worker runs something else) or an OS thread
// (which sleeps on a futex). Both are represented by a parker (canal/detail/greenlet.hpp). A
// wait goes:
//
//     wait_ticket t = begin_wait();        // parker word := epoch|open
//     ...lock the objects, link wait_entry records {parker, epoch, token} into their queues...
//     uint32_t tok = block(t, locks, n, deadline, "chan receive");   // unlocks after suspending
//
// A waker that pops an entry calls try_claim(entry): one CAS open -> token. Exactly one party
// wins (the waker of one select case, the timer, or kill()); the winner completes the
// transfer while it still holds the object's lock, unlocks, then calls wake(). Losers leave the
// entry alone. After block() returns, the waiter removes whatever entries are still linked.
//
// Invariants:
//   - a parker is claimed at most once per epoch; only the claimant calls wake().
//   - a greenlet's wait_entry records live on its stack and are unlinked before block()'s caller
//     returns (entries popped by a losing waker are already unlinked).
//   - locks passed to block() are released only after the greenlet's context is saved
//     (runtime/DESIGN.md, "park and ready").
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>

#include "canal/detail/chan_api.hpp"
#include "canal/detail/greenlet.hpp"

namespace canal::detail {

// wait_entry: one registration of a waiting party in one queue (Go's sudog).
struct wait_entry {
  wait_entry* prev = nullptr;
  wait_entry* next = nullptr;
  bool linked = false;
  bool ok = false;            // set by the claimant: value transferred (false: channel closed)
  parker* p = nullptr;
  std::uint32_t epoch = 0;
  std::uint32_t token = parker::tok_signal;  // what the claimant writes into the parker
  void* value = nullptr;      // send: the source value; recv: raw storage for the value
};

inline bool wq_empty(const wait_queue& q) noexcept { return q.head == nullptr; }

inline void wq_push(wait_queue& q, wait_entry* e) noexcept {
  e->next = nullptr;
  e->prev = q.tail;
  if (q.tail) q.tail->next = e; else q.head = e;
  q.tail = e;
  e->linked = true;
}

inline void wq_remove(wait_queue& q, wait_entry* e) noexcept {
  if (!e->linked) return;
  if (e->prev) e->prev->next = e->next; else q.head = e->next;
  if (e->next) e->next->prev = e->prev; else q.tail = e->prev;
  e->prev = e->next = nullptr;
  e->linked = false;
}

inline wait_entry* wq_pop(wait_queue& q) noexcept {
  wait_entry* e = q.head;
  if (e) wq_remove(q, e);
  return e;
}

inline std::uint64_t pk_word(std::uint32_t epoch, std::uint32_t tok) noexcept {
  return (static_cast<std::uint64_t>(epoch) << 32) | tok;
}

// try_claim() makes the caller the one party that completes this wait.
inline bool try_claim(parker* p, std::uint32_t epoch, std::uint32_t token) noexcept {
  std::uint64_t expect = pk_word(epoch, parker::tok_open);
  return p->word.compare_exchange_strong(expect, pk_word(epoch, token), std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
}
inline bool try_claim(wait_entry* e) noexcept { return try_claim(e->p, e->epoch, e->token); }

// wait_parked() is for a claimant that holds none of the locks the parker releases after its
// switch (kill(), a worker firing another worker's timers): it waits until g's context is
// saved for this epoch (run_pending() publishes parked_epoch_), so g may be queued at once.
void wait_parked(greenlet* g, std::uint32_t epoch) noexcept;

// The futex calls (private futexes): OS threads park on them, and so does the sysmon thread.
// rel: a relative timeout or nullptr. futex_wake wakes up to n waiters.
void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t val, const timespec* rel) noexcept;
void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept;

// wake() resumes a claimed party. Call it after releasing the lock the claim was made under.
void wake(parker* p, bool next = true) noexcept;

struct wait_ticket {
  parker* p;
  std::uint32_t epoch;
};

// begin_wait() opens a new wait for the calling party (greenlet or thread).
wait_ticket begin_wait() noexcept;

// block() suspends the caller until its wait is claimed and returns the claiming token:
// tok_timeout, tok_cancel, or tok_signal + k. The `nlocks` spinlocks are held on entry and
// released once the caller is safely suspended. deadline: block_forever or steady ns.
// `reason` says what it waits on (task dumps).
std::uint32_t block(wait_ticket t, spinlock* const* locks, std::size_t nlocks,
                    std::int64_t deadline, const char* reason);

// end_wait() closes a wait that did not block (the operation completed without parking). If
// somebody claimed it meanwhile (kill()), absorbs that wake-up first. Returns the final token
// (tok_open when nobody claimed it).
std::uint32_t end_wait(wait_ticket t) noexcept;

// Asymmetric fences (membarrier): light_fence() on every wait, heavy_fence() in kill(). Together
// they order "open the wait; check cancel_" against "set cancel_; look at the wait" so one side
// always sees the other, without a full fence on the hot path.
void fences_init() noexcept;
void light_fence() noexcept;
void heavy_fence() noexcept;

// throw_cancelled() delivers a cancellation to the current greenlet (consumes kill()).
[[noreturn]] void throw_cancelled();

}  // namespace canal::detail
