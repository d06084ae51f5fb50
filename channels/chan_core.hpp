// chan_core.hpp: the type-erased channel (Go's hchan) shared by chan<T> and select.
//
// Invariants (under lock_; check_locked() checks them in DCHECK builds after every locked
// operation of chan_core.cc and select.cc):
//   - count_ <= cap_; the buffer holds count_ live values starting at head_ (head_ < cap_).
//   - count_ > 0 implies recvq_ is empty; count_ < cap_ implies sendq_ is empty. A waiter is
//     queued only when it could not proceed, and every operation that changes count_ first
//     pops the opposite queue until it claims an entry or the queue is empty: a sender that
//     buffers has emptied recvq_, a receiver that frees a slot has emptied sendq_.
//   - recvq_ and sendq_ hold entries of parked parties; an entry may be stale (its select was
//     already won elsewhere, its wait timed out): try_claim() fails on it and it is dropped
//     from the queue. Never both queues with claimable entries of different parties (they
//     would have been matched): only a select waiting to send and to receive on the same
//     channel has claimable entries in both.
//   - after closed_ is set both queues are empty and stay empty.
//
// Lock order: chan_core::lock_ is the lowest rank, taken before every runtime lock (the park
// path takes runtime locks while it is held); several only in select, in increasing address
// order. The list: canal/detail/lock_rank.hpp. wake() is called only after unlocking.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "canal/detail/chan_api.hpp"
#include "canal/detail/check.hpp"
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

  // check_locked(): the invariants above (DCHECK builds; nothing otherwise). lock_ held.
  void check_locked() const noexcept {
    CANAL_DCHECK(count_ <= cap_, "chan_core: count_ <= cap_");
    CANAL_DCHECK(cap_ == 0 ? head_ == 0 : head_ < cap_, "chan_core: head_ indexes the buffer");
    CANAL_DCHECK(count_ == 0 || wq_empty(recvq_),
                 "chan_core: a channel with buffered values has no waiting receivers");
    CANAL_DCHECK(count_ == cap_ || wq_empty(sendq_),
                 "chan_core: a buffered channel with free slots has no waiting senders");
    CANAL_DCHECK(!closed_ || (wq_empty(recvq_) && wq_empty(sendq_)),
                 "chan_core: a closed channel has no waiters");
    CANAL_DCHECK(claimable_on_one_side(),
                 "chan_core: claimable senders and receivers of different parties are never "
                 "both parked (only one select may wait on both sides)");
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

 private:
  static bool claimable(const wait_entry* e) noexcept {
    return e->p->word.load(std::memory_order_relaxed) == pk_word(e->epoch, parker::tok_open);
  }
  // For check_locked(): false when both queues hold claimable entries and those entries belong
  // to more than one parker. Looks at the first 64 entries of each queue, and only when both
  // are non-empty (rare: stale entries or a select on both sides). Claimability only ever goes
  // from yes to no (a parker never reopens an old epoch), so what it sees held at once.
  bool claimable_on_one_side() const noexcept {
    if (wq_empty(recvq_) || wq_empty(sendq_)) return true;
    const parker* only = nullptr;
    bool mixed = false, in_recv = false, in_send = false;
    auto scan = [&](const wait_queue& q, bool& seen) {
      std::size_t k = 0;
      for (const wait_entry* e = q.head; e && k < 64; e = e->next, ++k) {
        if (!claimable(e)) continue;
        seen = true;
        if (!only) only = e->p; else if (e->p != only) mixed = true;
      }
    };
    scan(recvq_, in_recv);
    scan(sendq_, in_send);
    return !(in_recv && in_send && mixed);
  }
};

// park_nil() blocks the caller forever (a nil channel) or until the deadline; cancellable.
chan_status park_nil(std::int64_t deadline);

}  // namespace canal::detail
