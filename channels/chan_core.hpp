// chan_core.hpp: the type-erased channel (Go's hchan) shared by chan<T> and select.
//
// Invariants (under lock_):
//   - count_ <= cap_; the buffer holds count_ live values starting at head_.
//   - count_ > 0 implies recvq_ has no claimable entry; count_ < cap_ implies sendq_ has no
//     claimable entry (a waiter is queued only when it could not proceed, and every operation
//     that changes count_ first serves the opposite queue).
//   - recvq_ and sendq_ hold entries of parked parties; an entry may be stale (its select was
//     already won elsewhere): try_claim() fails on it and it is dropped from the queue.
//   - after closed_ is set both queues are empty and stay empty.
//
// Lock order: chan_core locks are taken in increasing address order when several are needed
// (select); a chan_core lock is above every runtime lock (runtime/lock_order.hpp). wake() is
// called only after unlocking.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "canal/detail/chan_api.hpp"
#include "canal/detail/spinlock.hpp"
#include "runtime/park.hpp"

namespace canal::detail {

class chan_core {
 public:
  chan_core(std::size_t cap, const elem_ops* ops, unsigned char* buf) noexcept
      : ops_(ops), cap_(cap), buf_(buf) {}

  spinlock lock_{lock_rank::channel};
  std::atomic<std::uint32_t> refs_{1};
  const elem_ops* ops_;
  const std::size_t cap_;
  std::size_t count_ = 0;  // guarded by lock_
  std::size_t head_ = 0;   // guarded by lock_
  bool closed_ = false;    // guarded by lock_
  wait_queue recvq_;       // guarded by lock_
  wait_queue sendq_;       // guarded by lock_
  unsigned char* const buf_;

  void* slot(std::size_t i) const noexcept {
    std::size_t k = head_ + i;
    if (k >= cap_) k -= cap_;
    return buf_ + k * ops_->size;
  }

  // Element moves: trivially copyable values are copied inline (no indirect call; the common
  // 8-byte case is one load and one store), others through elem_ops.
  void move_in(void* dst, void* src) const noexcept {
    if (ops_->trivial) {
      if (ops_->size == sizeof(std::uint64_t)) {
        std::memcpy(dst, src, sizeof(std::uint64_t));
      } else {
        std::memcpy(dst, src, ops_->size);
      }
    } else {
      ops_->move_construct(dst, src);
    }
  }
  void destroy(void* p) const noexcept {
    if (!ops_->trivial) ops_->destroy(p);
  }

  // Outcome of trying an operation with the lock held.
  enum class attempt : std::uint8_t { done, closed, not_ready };

  // try_send_locked(): deliver *v to a parked receiver or the buffer. On done, *to_wake is the
  // receiver to wake after unlocking (or nullptr).
  attempt try_send_locked(void* v, parker** to_wake) noexcept {
    if (closed_) return attempt::closed;
    while (wait_entry* e = wq_pop(recvq_)) {
      if (try_claim(e)) {
        move_in(e->value, v);
        e->ok = true;
        *to_wake = e->p;
        return attempt::done;
      }
    }
    if (count_ < cap_) {
      move_in(slot(count_), v);
      ++count_;
      *to_wake = nullptr;
      return attempt::done;
    }
    return attempt::not_ready;
  }

  // try_recv_locked(): take a value into raw storage out from a parked sender or the buffer.
  // done: a value was constructed; closed: closed and drained (nothing constructed).
  attempt try_recv_locked(void* out, parker** to_wake) noexcept {
    while (wait_entry* e = wq_pop(sendq_)) {
      if (!try_claim(e)) continue;
      if (cap_ == 0) {
        move_in(out, e->value);
      } else {
        // Full buffer with a parked sender: take the head, append the sender's value.
        void* h = slot(0);
        move_in(out, h);
        destroy(h);
        head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
        move_in(slot(count_ - 1), e->value);
      }
      e->ok = true;
      *to_wake = e->p;
      return attempt::done;
    }
    if (count_ > 0) {
      void* h = slot(0);
      move_in(out, h);
      destroy(h);
      head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
      --count_;
      *to_wake = nullptr;
      return attempt::done;
    }
    if (closed_) return attempt::closed;
    return attempt::not_ready;
  }
};

// park_nil() blocks the caller forever (a nil channel) or until the deadline; cancellable.
chan_status park_nil(std::int64_t deadline);

}  // namespace canal::detail
