// lock_order.hpp: the lock ranks of canal, lowest (taken first) to highest. A thread holding a
// lock of rank r may only take locks of rank > r. There is no lock-order checker yet; this list
// is the reference for reviews (runtime/DESIGN.md, "locks").
//
//   1. chan_core::lock_          (several at once only in select: increasing address order)
//      greenlet::join_lock_      (never together with a channel lock)
//   2. worker::reg_lock          (registry of live greenlets; kill() runs under it at shutdown)
//   3. timer_heap lock           (a worker's deadlines)
//   4. global_fifo lock          (run-queue overflow)
//      dispatch_stack lock       (a worker's suspended launch::dispatch spawners; a leaf: popped
//                                 in pick_local() while a parking greenlet's rank-1 locks are
//                                 still held, nothing is taken under it)
//   5. scheduler::idle_lock      (sleeping workers)
//   6. stack_pool::mu_           (slab allocation; a std::mutex, never held across a switch)
//   7. block_depot lock          (control-block arena; a leaf, taken by block_alloc/block_free)
//
// Locks of ranks 1 may be held across a greenlet switch (park): they are then released by the
// next context on the same thread in worker::run_pending(). No other lock is ever held across a
// switch, and wake()/ready() are never called with a rank-1 lock held except through
// scheduler::begin_shutdown (rank 2, which takes ranks 3-5 inside).
#pragma once
