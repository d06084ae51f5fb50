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
//
// greenlet::next_ means something only while the greenlet is on one of the intrusive lists:
// pop_into() hands greenlets to a ring with next_ still pointing at their old successor, so a
// pushed greenlet's next_ may be stale (push() re-initialises it). The lists' shapes are checked
// under their locks in DCHECK builds (check_locked()).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "canal/detail/check.hpp"
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
    CANAL_DCHECK(t - h <= capacity, "local_ring: never more than capacity greenlets");
    CANAL_DCHECK(g != nullptr, "local_ring: pushes a greenlet");
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

  // steal_into() moves half of this ring (a victim's) into dst (a ring the thief owns; it may
  // already hold some greenlets: at most its free space moves). Returns how many moved.
  std::uint32_t steal_into(local_ring& dst) noexcept {
    const std::uint32_t dt = dst.tail_.load(std::memory_order_relaxed);
    CANAL_DCHECK(&dst != this, "local_ring::steal_into: a ring cannot steal from itself");
    const std::uint32_t room = capacity - (dt - dst.head_.load(std::memory_order_acquire));
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      const std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n -= n / 2;
      if (n > capacity / 2) continue;  // read head and tail at different times; retry
      if (n > room) n = room;
      if (n == 0) return 0;
      for (std::uint32_t i = 0; i < n; ++i)
        dst.buf_[(dt + i) % capacity].store(buf_[(h + i) % capacity].load(std::memory_order_relaxed),
                                            std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        CANAL_DCHECK(n <= capacity / 2, "local_ring::steal_into: takes at most half a ring");
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
    check_locked();
    CANAL_DCHECK(g != nullptr && g != tail_, "global_fifo: a greenlet is queued at most once");
    g->next_ = nullptr;
    if (tail_) tail_->next_ = g; else head_ = g;
    tail_ = g;
    size_.fetch_add(1, std::memory_order_release);
  }
  // pop_into() takes up to max items: the first is returned, the rest pushed into ring.
  greenlet* pop_into(local_ring& ring, std::uint32_t max) noexcept {
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<spinlock> lk(lock_);
    check_locked();
    greenlet* first = head_;
    if (!first) return nullptr;
    head_ = first->next_;
    std::size_t taken = 1;
    while (head_ && taken < max && ring.push(head_)) {
      head_ = head_->next_;
      ++taken;
    }
    if (!head_) tail_ = nullptr;
    CANAL_DCHECK(taken <= size_.load(std::memory_order_relaxed),
                 "global_fifo: size_ counts the list");
    size_.fetch_sub(taken, std::memory_order_release);
    return first;
  }
  std::size_t size() const noexcept { return size_.load(std::memory_order_acquire); }
  greenlet* pop_one() noexcept {
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<spinlock> lk(lock_);
    check_locked();
    greenlet* g = head_;
    if (!g) return nullptr;
    head_ = g->next_;
    if (!head_) tail_ = nullptr;
    size_.fetch_sub(1, std::memory_order_release);
    return g;
  }

 private:
  // The list's shape (lock_ held; DCHECK builds). size_ changes only under lock_.
  void check_locked() const noexcept {
    CANAL_DCHECK((head_ == nullptr) == (tail_ == nullptr), "global_fifo: head_ and tail_ agree");
    CANAL_DCHECK((head_ == nullptr) == (size_.load(std::memory_order_relaxed) == 0),
                 "global_fifo: size_ counts the list");
    CANAL_DCHECK(tail_ == nullptr || tail_->next_ == nullptr, "global_fifo: the tail ends it");
  }

  spinlock lock_{lock_rank::run_fifo};
  greenlet* head_ = nullptr;
  greenlet* tail_ = nullptr;
  std::atomic<std::size_t> size_{0};
};

class dispatch_stack {
 public:
  void push(greenlet* g) noexcept {
    std::lock_guard<spinlock> lk(lock_);
    check_locked();
    CANAL_DCHECK(g != nullptr && g != top_, "dispatch_stack: a greenlet is stacked at most once");
    g->prev_ = nullptr;
    g->next_ = top_;
    if (top_) top_->prev_ = g; else bottom_ = g;
    top_ = g;
    size_.fetch_add(1, std::memory_order_release);
  }
  greenlet* pop_top() noexcept {
    if (size_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<spinlock> lk(lock_);
    check_locked();
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
    check_locked();
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
  // The list's shape (lock_ held; DCHECK builds). size_ changes only under lock_.
  void check_locked() const noexcept {
    CANAL_DCHECK((top_ == nullptr) == (bottom_ == nullptr), "dispatch_stack: top_/bottom_ agree");
    CANAL_DCHECK((top_ == nullptr) == (size_.load(std::memory_order_relaxed) == 0),
                 "dispatch_stack: size_ counts the list");
    CANAL_DCHECK(top_ == nullptr || top_->prev_ == nullptr, "dispatch_stack: nothing above top_");
    CANAL_DCHECK(bottom_ == nullptr || bottom_->next_ == nullptr,
                 "dispatch_stack: nothing below bottom_");
  }

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
