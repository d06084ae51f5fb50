// chan_core.cc: send, receive and close on the type-erased channel (see chan_core.hpp).
//
// Each operation takes the channel lock once. Fast paths: a parked partner is served directly
// (value copied straight into its frame, then it is woken to run next on this worker), else the
// buffer; only then does the caller park, with a wait_entry on its own stack. No allocation.
#include "channels/chan_core.hpp"

#include <cstdlib>
#include <limits>
#include <new>

#include "canal/errors.hpp"

namespace canal::detail {

chan_core* chan_make(std::size_t capacity, const elem_ops* ops) {
  if (capacity > (std::size_t{1} << 40) / (ops->size ? ops->size : 1))
    throw error("canal::chan: capacity too large");
  std::size_t align = ops->align < alignof(chan_core) ? alignof(chan_core) : ops->align;
  std::size_t header = (sizeof(chan_core) + align - 1) / align * align;
  std::size_t bytes = header + capacity * ops->size;
  void* mem = ::operator new(bytes, std::align_val_t(align));
  auto* buf = static_cast<unsigned char*>(mem) + header;
  return ::new (mem) chan_core(capacity, ops, capacity ? buf : nullptr);
}

void chan_add_ref(chan_core* c) noexcept { c->refs_.fetch_add(1, std::memory_order_relaxed); }

void chan_release(chan_core* c) noexcept {
  if (c->refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  for (std::size_t i = 0; i < c->count_; ++i) c->ops_->destroy(c->slot(i));
  std::size_t align = c->ops_->align < alignof(chan_core) ? alignof(chan_core) : c->ops_->align;
  c->~chan_core();
  ::operator delete(static_cast<void*>(c), std::align_val_t(align));
}

chan_status park_nil(std::int64_t deadline) {
  if (deadline == try_now) return chan_status::would_block;
  wait_ticket t = begin_wait();
  const std::uint32_t tok = block(t, nullptr, 0, deadline, "nil channel");
  if (tok == parker::tok_cancel) throw_cancelled();
  return chan_status::timeout;
}

chan_status chan_send(chan_core* c, void* v, std::int64_t deadline) {
  if (!c) return park_nil(deadline);
  parker* to_wake = nullptr;
  c->lock_.lock();
  const chan_core::attempt a = c->try_send_locked(v, &to_wake);
  c->check_locked();
  switch (a) {
    case chan_core::attempt::done:
      c->lock_.unlock();
      if (to_wake) wake(to_wake, true);
      return chan_status::ok;
    case chan_core::attempt::closed:
      c->lock_.unlock();
      if (deadline == block_forever) throw channel_closed("canal::chan::send: send on closed channel");
      return chan_status::closed;
    case chan_core::attempt::not_ready:
      break;
  }
  if (deadline == try_now) {
    c->lock_.unlock();
    return chan_status::would_block;
  }
  wait_ticket t = begin_wait();
  wait_entry e;
  e.p = t.p;
  e.epoch = t.epoch;
  e.value = v;
  wq_push(c->sendq_, &e);
  c->check_locked();
  spinlock* l = &c->lock_;
  const std::uint32_t tok = block(t, &l, 1, deadline, "chan send");
  if (tok >= parker::tok_signal) {
    CANAL_DCHECK(!e.linked, "chan_core: the claimant unlinked the entry it completed");
    if (e.ok) return chan_status::ok;
    if (deadline == block_forever)
      throw channel_closed("canal::chan::send: channel closed while the sender waited");
    return chan_status::closed;
  }
  CANAL_DCHECK(tok == parker::tok_timeout || tok == parker::tok_cancel,
               "chan_core: a wait on one channel ends by a signal, a timeout or a cancel");
  c->lock_.lock();
  wq_remove(c->sendq_, &e);
  CANAL_DCHECK(!e.linked, "chan_core: a waiter's entry is unlinked before its operation returns");
  c->check_locked();
  c->lock_.unlock();
  if (tok == parker::tok_cancel) throw_cancelled();
  return chan_status::timeout;
}

chan_status chan_recv(chan_core* c, void* out, std::int64_t deadline) {
  if (!c) return park_nil(deadline);
  parker* to_wake = nullptr;
  c->lock_.lock();
  const chan_core::attempt a = c->try_recv_locked(out, &to_wake);
  c->check_locked();
  switch (a) {
    case chan_core::attempt::done:
      c->lock_.unlock();
      if (to_wake) wake(to_wake, true);
      return chan_status::ok;
    case chan_core::attempt::closed:
      c->lock_.unlock();
      return chan_status::closed;
    case chan_core::attempt::not_ready:
      break;
  }
  if (deadline == try_now) {
    c->lock_.unlock();
    return chan_status::would_block;
  }
  wait_ticket t = begin_wait();
  wait_entry e;
  e.p = t.p;
  e.epoch = t.epoch;
  e.value = out;
  wq_push(c->recvq_, &e);
  c->check_locked();
  spinlock* l = &c->lock_;
  const std::uint32_t tok = block(t, &l, 1, deadline, "chan receive");
  if (tok >= parker::tok_signal) {
    CANAL_DCHECK(!e.linked, "chan_core: the claimant unlinked the entry it completed");
    return e.ok ? chan_status::ok : chan_status::closed;
  }
  CANAL_DCHECK(tok == parker::tok_timeout || tok == parker::tok_cancel,
               "chan_core: a wait on one channel ends by a signal, a timeout or a cancel");
  c->lock_.lock();
  wq_remove(c->recvq_, &e);
  CANAL_DCHECK(!e.linked, "chan_core: a waiter's entry is unlinked before its operation returns");
  c->check_locked();
  c->lock_.unlock();
  if (tok == parker::tok_cancel) throw_cancelled();
  return chan_status::timeout;
}

void chan_close(chan_core* c) {
  if (!c) throw channel_closed("canal::chan::close: close of nil channel");
  wait_entry* claimed = nullptr;
  c->lock_.lock();
  if (c->closed_) {
    c->lock_.unlock();
    throw channel_closed("canal::chan::close: close of closed channel");
  }
  c->closed_ = true;
  for (wait_queue* q : {&c->recvq_, &c->sendq_}) {
    while (wait_entry* e = wq_pop(*q)) {
      if (try_claim(e)) {
        e->ok = false;
        e->next = claimed;
        claimed = e;
      }
    }
  }
  c->check_locked();
  c->lock_.unlock();
  // Wake in queue order (the list is reversed; reverse it back).
  wait_entry* ordered = nullptr;
  while (claimed) {
    wait_entry* nx = claimed->next;
    claimed->next = ordered;
    ordered = claimed;
    claimed = nx;
  }
  while (ordered) {
    wait_entry* nx = ordered->next;
    wake(ordered->p, false);
    ordered = nx;
  }
}

std::size_t chan_size(const chan_core* c) noexcept {
  if (!c) return 0;
  auto* m = const_cast<chan_core*>(c);
  std::lock_guard<spinlock> lk(m->lock_);
  m->check_locked();
  return m->count_;
}

std::size_t chan_capacity(const chan_core* c) noexcept { return c ? c->cap_ : 0; }

}  // namespace canal::detail
