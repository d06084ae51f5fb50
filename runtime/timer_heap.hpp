// timer_heap.hpp: a worker's deadlines (sleeps, timed channel ops, select timeouts).
//
// Each worker owns one binary min-heap of timer_node records that live on the stacks of the
// waiting greenlets. Only the owner adds; any worker may cancel (a greenlet woken by a channel
// elsewhere cancels its timer from the worker it resumed on), so the heap has a lock. The
// owner fires due timers from its scheduler loop and programs its hub (runtime/hub.hpp) to wake
// at earliest() when it goes to sleep.
//
// Firing claims the waiter's parker with tok_timeout *under the heap lock*: a waiter that was
// claimed by someone else and resumed takes the same lock in cancel(), so it cannot return
// (and free the node) while fire_due() still looks at it.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "canal/detail/greenlet.hpp"
#include "runtime/park.hpp"

namespace canal::detail {

class timer_heap;

struct timer_node {
  std::int64_t deadline = 0;
  parker* p = nullptr;
  std::uint32_t epoch = 0;
  std::int32_t index = -1;  // position in the heap, -1 when not in it (guarded by the lock)
  timer_heap* owner = nullptr;
};

class timer_heap {
 public:
  void add(timer_node* n);
  void cancel(timer_node* n) noexcept;
  std::int64_t earliest() const noexcept { return earliest_.load(std::memory_order_acquire); }
  bool empty() const noexcept { return earliest() == INT64_MAX; }

  // fire_due() claims every waiter whose deadline is <= now and wakes it (after unlocking).
  // Returns how many were woken.
  std::size_t fire_due(std::int64_t now);

 private:
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void remove_at(std::size_t i) noexcept;
  void publish() noexcept {
    earliest_.store(h_.empty() ? INT64_MAX : h_[0]->deadline, std::memory_order_release);
  }
  spinlock lock_{lock_rank::timer_heap};
  std::vector<timer_node*> h_;
  std::atomic<std::int64_t> earliest_{INT64_MAX};
};

}  // namespace canal::detail
