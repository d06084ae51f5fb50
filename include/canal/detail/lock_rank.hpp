// canal/detail/lock_rank.hpp: THE lock order of canal. Every lock in the library is declared
// with one of these ranks (canal::detail::spinlock, runtime/lock_order.hpp's ranked_mutex), and
// in builds with CANAL_DCHECKS=1 every acquisition is checked against the locks the calling OS
// thread already holds (runtime/check.cc). Other notes (runtime/DESIGN.md, runtime/worker.hpp,
// channels/chan_core.hpp, channels/DESIGN.md) point here instead of repeating the list.
//
// Rule: a thread holding a lock of rank r may take a lock of rank s only if r < s, except
//   - channel locks: several may be held at once (only select does it), taken in increasing
//     address order: same rank, increasing address is allowed, decreasing is an error;
//   - channel and join locks are never held together, in either order;
//   - taking a lock the thread already holds is an error (spinlocks are not recursive).
// try_lock() that succeeds records the lock without checking the order (it cannot deadlock);
// one that fails records nothing. A lock may be released in any order (not only LIFO).
//
// Locks held across a greenlet switch: a greenlet parks *holding* the locks of the objects it is
// queued on (channel, join) and the next context on the same OS thread releases them
// (worker::run_pending()). So the record of held locks is per OS thread, not per greenlet, and
// a lock is always released by the thread that took it (the checker aborts otherwise).
//
// The order below is what the code does (who takes what while holding what), lowest first:
#pragma once

#include <cstdint>

namespace canal::detail {

enum class lock_rank : std::uint8_t {
  // chan_core::lock_. Outermost: a send/receive/select holds it while it opens its wait
  // (begin_wait() registers the greenlet: registry), arms its deadline (timer_heap), and parks:
  // worker::switch_out() picks the next greenlet (run_fifo, dispatch_stack), gives it a stack
  // (stack_pool) or, failing that, requeues it and wakes a worker (run_fifo, idle). Only select
  // holds several, in increasing address order. wake() runs after unlocking.
  channel = 1,
  // greenlet::join_lock_ (join(), finish(), mark_observed()). Parks holding it like a channel
  // lock (timer_heap, run_fifo, dispatch_stack, stack_pool, idle under it); join_until() opens
  // its wait before locking, so no registry under it. Never held together with a channel lock
  // (enforced): finishing a killed greenlet takes its join lock, so the park path defers that
  // (worker::pick_local(false) sets such greenlets aside on `doomed`).
  join = 2,
  // condition_variable::lk_ (sync/). Held while the waiter queues itself, opens its wait
  // (registry) and releases the user's canal::mutex (its sync lock, and a wake-up: run_fifo,
  // idle), then parks holding it like a channel lock. Never together with channel/join locks.
  sync_cond = 3,
  // The state lock of every other sync/ primitive (mutex, wait_group, event, async_result,
  // semaphores, once, shared_mutex, group/pool child sets). Parks holding it like a channel
  // lock (registry, timer_heap, run_fifo, dispatch_stack, idle, stack_pool under it); taken
  // under sync_cond by condition_variable::wait(). Never together with channel/join locks.
  sync = 4,
  // worker::reg_lock (registry of live greenlets). Taken under channel locks (begin_wait());
  // scheduler::begin_shutdown() calls kill() -> ready() under it (run_fifo, idle).
  registry = 5,
  // timer_heap::lock_ (a worker's deadlines). Taken under channel and join locks (block() with
  // a deadline); a leaf: fire_due() claims waiters under it and wakes them after unlocking.
  timer_heap = 6,
  // global_fifo::lock_: the runtime-wide overflow and the foreign inbox. A leaf, taken under
  // channel/join locks (pick_local() in the park path) and under the registry (kill()).
  run_fifo = 7,
  // dispatch_stack::lock_ (a worker's suspended launch::dispatch spawners). A leaf, popped in
  // pick_local() while a parking greenlet's channel/join locks are still held.
  dispatch_stack = 8,
  // scheduler::idle_lock (sleeping workers). A leaf: wake_one() rings the hub after unlocking.
  // Under channel locks only on the park path's requeue (push_tail -> maybe_wake) and under
  // the registry through kill() -> ready().
  idle = 9,
  // stack_pool::mu_ (a std::mutex: slab allocation maps memory under it). Taken under
  // channel/join locks when the park path gives the next greenlet its first stack. A leaf.
  stack_pool = 10,
  // block_depot::lock (control-block arena). Innermost leaf: block_alloc/block_free may run
  // wherever a task handle is created or dropped, possibly under any lock above.
  block_depot = 11,
};

inline constexpr int lock_rank_count = 11;

// The lock each rank stands for, for check messages.
constexpr const char* lock_rank_name(lock_rank r) noexcept {
  switch (r) {
    case lock_rank::channel: return "chan_core::lock_";
    case lock_rank::join: return "greenlet::join_lock_";
    case lock_rank::sync_cond: return "condition_variable::lk_";
    case lock_rank::sync: return "sync primitive lk_ (mutex, wait_group, event, ...)";
    case lock_rank::registry: return "worker::reg_lock";
    case lock_rank::timer_heap: return "timer_heap::lock_";
    case lock_rank::run_fifo: return "global_fifo::lock_ (overflow or inbox)";
    case lock_rank::dispatch_stack: return "dispatch_stack::lock_";
    case lock_rank::idle: return "scheduler::idle_lock";
    case lock_rank::stack_pool: return "stack_pool::mu_";
    case lock_rank::block_depot: return "block_depot::lock";
  }
  return "(unknown lock rank)";
}

// What the checker says about taking `want` (at address want_at) while holding `held` (at
// held_at). Pure, so the rules are unit-tested at compile time (tests/checks).
enum class lock_order_verdict : std::uint8_t {
  ok,
  recursive,        // the same lock again
  lower_rank,       // want's rank is below held's
  same_rank,        // two locks of a rank that allows only one at a time
  decreasing_address,  // two channel locks, not in increasing address order
  never_together,   // a channel lock and a join lock
};

constexpr lock_order_verdict lock_order_check(lock_rank held, std::uintptr_t held_at,
                                              lock_rank want, std::uintptr_t want_at) noexcept {
  if (held_at == want_at) return lock_order_verdict::recursive;
  if ((held == lock_rank::channel && want == lock_rank::join) ||
      (held == lock_rank::join && want == lock_rank::channel))
    return lock_order_verdict::never_together;
  if (want < held) return lock_order_verdict::lower_rank;
  if (want == held) {
    if (want != lock_rank::channel) return lock_order_verdict::same_rank;
    if (want_at < held_at) return lock_order_verdict::decreasing_address;
  }
  return lock_order_verdict::ok;
}

constexpr const char* lock_order_verdict_text(lock_order_verdict v) noexcept {
  switch (v) {
    case lock_order_verdict::ok: return "ok";
    case lock_order_verdict::recursive: return "the thread already holds this lock";
    case lock_order_verdict::lower_rank: return "taking a lock of lower rank than one held";
    case lock_order_verdict::same_rank: return "two locks of a rank that allows one at a time";
    case lock_order_verdict::decreasing_address:
      return "channel locks taken in decreasing address order";
    case lock_order_verdict::never_together:
      return "a channel lock and a join lock held together";
  }
  return "?";
}

// The checker (runtime/check.cc). Defined only in a library built with CANAL_DCHECKS=1, and
// called only from code built that way (spinlock, ranked_mutex).
//   lock_order_acquire(): before taking `lock`: checks it against every lock this thread
//     holds (aborts with both locks named) and records it.
//   lock_order_record(): a try_lock() that succeeded: records it without the order check.
//   lock_order_release(): before releasing: removes it from the record wherever it is; aborts
//     if this thread does not hold it (released by another thread, or twice).
//   lock_order_depth(): how many locks this thread holds.
void lock_order_acquire(lock_rank r, const void* lock) noexcept;
void lock_order_record(lock_rank r, const void* lock) noexcept;
void lock_order_release(lock_rank r, const void* lock) noexcept;
unsigned lock_order_depth() noexcept;

}  // namespace canal::detail
