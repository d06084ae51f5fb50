// timer_heap.hpp: a worker's deadlines (sleeps, timed channel ops, select timeouts).
//
// Each worker owns one min-heap of timer_node records that live on the stacks of the waiting
// greenlets. The heap is intrusive (a pairing heap: each node links to its first child, next
// sibling and previous sibling-or-parent), so adding a deadline never allocates: block() arms
// its timer while the caller's channel spinlocks are held, and nothing that may allocate or
// throw runs under a spinlock. Insert is O(1); removing the minimum or an arbitrary node is
// O(log n) amortized.
//
// Only the owner adds; any worker may cancel (a greenlet woken by a channel elsewhere cancels
// its timer from the worker it resumed on), so the heap has a lock. The owner fires due timers
// from its scheduler loop and programs its hub (runtime/hub.hpp) to wake at earliest() when it
// goes to sleep. An idle worker may also fire a *stalled* worker's due timers (fire_due with
// by_owner = false): runtime/DESIGN.md, "Stalled workers".
//
// Firing claims the waiter's parker with tok_timeout *under the heap lock*: a waiter that was
// claimed by someone else and resumed takes the same lock in cancel(), so it cannot return
// (and free the node) while fire_due() still looks at it.
#pragma once

#include <atomic>
#include <cstdint>

#include "canal/detail/greenlet.hpp"
#include "canal/detail/spinlock.hpp"

namespace canal::detail {

class timer_heap;

struct timer_node {
  std::int64_t deadline = 0;
  parker* p = nullptr;
  std::uint32_t epoch = 0;
  bool linked = false;  // in the heap (guarded by the owner's lock)
  timer_heap* owner = nullptr;
  // Pairing-heap links (guarded by the owner's lock).
  timer_node* child = nullptr;
  timer_node* sibling = nullptr;
  timer_node* prev = nullptr;  // the parent if this is a first child, else the left sibling
};

class timer_heap {
 public:
  void add(timer_node* n) noexcept;
  void cancel(timer_node* n) noexcept;
  std::int64_t earliest() const noexcept { return earliest_.load(std::memory_order_acquire); }
  bool empty() const noexcept { return earliest() == INT64_MAX; }
  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

  // fire_due() claims every waiter whose deadline is <= now and queues it on the calling
  // worker (after unlocking). by_owner = false: the caller is another worker taking over a
  // stalled owner's timers; it waits for each claimed greenlet to be switched out before
  // queueing it (the rule for claimants that hold none of the parker's locks). Returns how many
  // were woken.
  std::size_t fire_due(std::int64_t now, bool by_owner = true) noexcept;

 private:
  static timer_node* meld(timer_node* a, timer_node* b) noexcept;
  static timer_node* merge_pairs(timer_node* first) noexcept;
  timer_node* pop_min() noexcept;
  void remove(timer_node* n) noexcept;
  void publish() noexcept {
    earliest_.store(root_ ? root_->deadline : INT64_MAX, std::memory_order_release);
  }
  spinlock lock_{lock_rank::timer_heap};
  timer_node* root_ = nullptr;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::int64_t> earliest_{INT64_MAX};
};

}  // namespace canal::detail
