// run_queue.hpp: where runnable greenlets wait.
//
//   local_ring   per worker, 256 slots, single producer (the owner) / multiple consumers (the
//                owner pops FIFO at head, thieves take half at head): Go's runq.
//   global_fifo  runtime-wide overflow, spinlock + intrusive list through greenlet::next_.
//                When a worker's ring is full, or while the overflow is non-empty, new work goes
//                here, so one worker alone still runs everything in exact FIFO order (gevent's
//                order): the ring only ever holds work older than the overflow's.
//   inbox        runtime-wide locked FIFO: greenlets made runnable by foreign OS threads
//                (go() or a channel wake-up from a thread).
//   dispatch_stack  per worker, spinlock + intrusive doubly linked list: greenlets that handed
//                their worker to a child spawned with launch::dispatch. The owner pushes and
//                pops the top (innermost spawner first, so nested fan-outs run depth first);
//                thieves take the bottom (the oldest continuation, Cilk's work-first order).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "canal/detail/greenlet.hpp"
#include "canal/detail/spinlock.hpp"

namespace canal::detail {

class local_ring {
 public:
  static constexpr std::uint32_t capacity = 256;

  // push() by the owner only; false when full.
  bool push(greenlet* g) noexcept {
    const std::uint32_t h = head_.load(std::memory_order_acquire);
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h >= capacity) return false;
    buf_[t % capacity].store(g, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // pop() by the owner only (races with thieves through the CAS on head).
  greenlet* pop() noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    for (;;) {
      const std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      greenlet* g = buf_[h % capacity].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
        return g;
    }
  }

  std::uint32_t size() const noexcept {
    const std::uint32_t h = head_.load(std::memory_order_acquire);
    const std::uint32_t t = tail_.load(std::memory_order_acquire);
    return t - h;
  }

  // steal_into() moves half of this ring (a victim's) into dst (the thief's own ring, which
  // must be empty). Returns how many moved.
  std::uint32_t steal_into(local_ring& dst) noexcept {
    const std::uint32_t dt = dst.tail_.load(std::memory_order_relaxed);
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      const std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n -= n / 2;
      if (n == 0) return 0;
      if (n > capacity / 2) continue;  // read head and tail at different times; retry
      for (std::uint32_t i = 0; i < n; ++i)
        dst.buf_[(dt + i) % capacity].store(buf_[(h + i) % capacity].load(std::memory_order_relaxed),
                                            std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        dst.tail_.store(dt + n, std::memory_order_release);
        return n;
      }
    }
  }

 private:
  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<greenlet*> buf_[capacity];
};

class global_fifo {
 public:
  void push(greenlet* g) noexcept {
    std::lock_guard<spinlock> lk(lock_);
    g->next_ = nullptr;
    if (tail_) tail_->next_ = g; else head_ = g;
    tail_ = g;
    size_.fetch_add(1, std::memory_order_release);
  }
  // pop_into() takes up to max items: the first is returned, the rest pushed into ring.
  greenlet* pop_into(local_ring& ring, std::uint32_t max) noexcept {
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<spinlock> lk(lock_);
    greenlet* first = head_;
    if (!first) return nullptr;
    head_ = first->next_;
    std::size_t taken = 1;
    while (head_ && taken < max && ring.push(head_)) {
      head_ = head_->next_;
      ++taken;
    }
    if (!head_) tail_ = nullptr;
    size_.fetch_sub(taken, std::memory_order_release);
    return first;
  }
  std::size_t size() const noexcept { return size_.load(std::memory_order_acquire); }
  greenlet* pop_one() noexcept {
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<spinlock> lk(lock_);
    greenlet* g = head_;
    if (!g) return nullptr;
    head_ = g->next_;
    if (!head_) tail_ = nullptr;
    size_.fetch_sub(1, std::memory_order_release);
    return g;
  }

 private:
  spinlock lock_{lock_rank::run_fifo};
  greenlet* head_ = nullptr;
  greenlet* tail_ = nullptr;
  std::atomic<std::size_t> size_{0};
};

class dispatch_stack {
 public:
  void push(greenlet* g) noexcept {
    std::lock_guard<spinlock> lk(lock_);
    g->prev_ = nullptr;
    g->next_ = top_;
    if (top_) top_->prev_ = g; else bottom_ = g;
    top_ = g;
    size_.fetch_add(1, std::memory_order_release);
  }
  greenlet* pop_top() noexcept {
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<spinlock> lk(lock_);
    greenlet* g = top_;
    if (!g) return nullptr;
    top_ = g->next_;
    if (top_) top_->prev_ = nullptr; else bottom_ = nullptr;
    g->next_ = nullptr;
    size_.fetch_sub(1, std::memory_order_release);
    return g;
  }
  greenlet* steal_bottom() noexcept {
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<spinlock> lk(lock_);
    greenlet* g = bottom_;
    if (!g) return nullptr;
    bottom_ = g->prev_;
    if (bottom_) bottom_->next_ = nullptr; else top_ = nullptr;
    g->prev_ = nullptr;
    size_.fetch_sub(1, std::memory_order_release);
    return g;
  }
  std::size_t size() const noexcept { return size_.load(std::memory_order_acquire); }

 private:
  spinlock lock_{lock_rank::dispatch_stack};
  greenlet* top_ = nullptr;
  greenlet* bottom_ = nullptr;
  std::atomic<std::size_t> size_{0};
};

// inbox: greenlets made runnable by foreign OS threads. A locked FIFO like the overflow: this
// path already pays a futex or epoll wake-up, and Boost.Lockfree's queue (used here first) makes
// ThreadSanitizer report its free list's deliberate racy reads.
using inbox = global_fifo;

}  // namespace canal::detail
