// select.cc: Go's select over type-erased channels, in three passes (Go's selectgo):
//
//   pass 1  lock every distinct channel (in address order), then visit the cases in a random
//           order and complete the first one that is ready now.
//   pass 2  nothing ready and no default: link one wait_entry per case into its channel's
//           queue, all sharing the caller's parker with token tok_signal + case index, and
//           block (the locks are released after the caller is suspended).
//   pass 3  woken: the claimant already completed one case (it popped that entry); lock the
//           channels again and unlink every other entry.
//
// The claim CAS on the parker is what makes a select wake exactly once although it is queued
// on many channels (Go's selectDone): a waker on another channel that pops one of our stale
// entries fails the CAS and moves on.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <new>
#include <type_traits>
#include <vector>

#include "canal/detail/check.hpp"
#include "canal/errors.hpp"
#include "channels/chan_core.hpp"

namespace canal::detail {

namespace {

thread_local std::uint64_t t_rng = 0;

std::uint32_t fast_rand() noexcept {
  std::uint64_t x = t_rng;
  if (x == 0) {
    x = reinterpret_cast<std::uintptr_t>(&t_rng) ^
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    x |= 1;
  }
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  t_rng = x;
  return static_cast<std::uint32_t>((x * 0x2545F4914F6CDD1Dull) >> 32);
}

// Small-size storage on the stack, larger on the heap (case lists built at run time).
template <class T, std::size_t N>
struct scratch {
  explicit scratch(std::size_t n) : data_(n <= N ? inline_ : (heap_.resize(n), heap_.data())) {}
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  T* data() noexcept { return data_; }

 private:
  T inline_[N];
  std::vector<T> heap_;
  T* data_;
};

// The wait entries: any heap storage is allocated up front (before the first lock: nothing
// may throw while locks are held), but the inline entries are only constructed when the select
// actually parks (pass 2): a select that completes in pass 1 pays nothing for them.
template <std::size_t N>
struct entry_scratch {
  static_assert(std::is_trivially_destructible_v<wait_entry>);
  explicit entry_scratch(std::size_t n) : n_(n) {
    if (n > N) heap_.resize(n);
  }
  void construct() noexcept {
    if (n_ <= N) {
      data_ = reinterpret_cast<wait_entry*>(raw_);
      for (std::size_t i = 0; i < n_; ++i) ::new (static_cast<void*>(data_ + i)) wait_entry();
    } else {
      data_ = heap_.data();
    }
  }
  wait_entry& operator[](std::size_t i) noexcept { return data_[i]; }
  wait_entry* data() noexcept { return data_; }

 private:
  std::size_t n_;
  alignas(wait_entry) unsigned char raw_[N * sizeof(wait_entry)];
  std::vector<wait_entry> heap_;
  wait_entry* data_ = nullptr;
};

// For the pass invariants below (evaluated in DCHECK builds only).
[[maybe_unused]] bool strictly_increasing(spinlock* const* locks, std::size_t n) noexcept {
  for (std::size_t i = 1; i < n; ++i)
    if (!(locks[i - 1] < locks[i])) return false;
  return true;
}
[[maybe_unused]] bool entries_linked(const select_case* cases, const wait_entry* entries,
                                     std::size_t n, bool linked) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (cases[i].c && entries[i].linked != linked) return false;
  return true;
}

// check_locked() on every channel of the select (their locks held).
void check_channels([[maybe_unused]] chan_core* const* chans,
                    [[maybe_unused]] std::size_t n) noexcept {
#if CANAL_DCHECK_IS_ON
  for (std::size_t i = 0; i < n; ++i) chans[i]->check_locked();
#endif
}

struct lock_set {
  spinlock** locks;
  std::size_t n;
  void lock() noexcept {
    for (std::size_t i = 0; i < n; ++i) locks[i]->lock();
  }
  void unlock() noexcept {
    for (std::size_t i = n; i-- > 0;) locks[i]->unlock();
  }
};

}  // namespace

std::size_t select_impl(select_case* cases, std::size_t n, bool has_default,
                        std::int64_t deadline, bool* recv_ok) {
  *recv_ok = false;

  // Distinct non-nil channels in address order: the lock order.
  scratch<chan_core*, 16> chans(n ? n : 1);
  std::size_t nchan = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (cases[i].c) chans[nchan++] = cases[i].c;
  std::sort(chans.data(), chans.data() + nchan);
  nchan = static_cast<std::size_t>(std::unique(chans.data(), chans.data() + nchan) - chans.data());

  if (nchan == 0) {  // only nil channels (or none): default, timeout, or forever
    if (has_default) return n;
    // Nothing can ever fire: wait for the deadline (forever without one). park_nil() returns
    // only when the deadline passed (timeout; would_block for try_now) or throws cancelled, so
    // its status is always "the deadline passed".
    park_nil(deadline);
    return n + 1;
  }

  scratch<spinlock*, 16> locks(nchan);
  for (std::size_t i = 0; i < nchan; ++i) locks[i] = &chans[i]->lock_;
  CANAL_DCHECK(strictly_increasing(locks.data(), nchan),
               "select: channel locks are taken in increasing address order, each once");
  lock_set ls{locks.data(), nchan};

  // Random poll order (Fisher-Yates).
  scratch<std::uint32_t, 16> order(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t j = fast_rand() % (i + 1);
    order[i] = order[j];
    order[j] = static_cast<std::uint32_t>(i);
  }

  // Every allocation happens before the first lock: nothing may throw while locks are held.
  entry_scratch<8> entries(n);

  // ---- pass 1
  ls.lock();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = order[k];
    select_case& sc = cases[i];
    if (!sc.c) continue;
    parker* to_wake = nullptr;
    chan_core::attempt a = sc.is_send ? sc.c->try_send_locked(sc.buf, &to_wake)
                                      : sc.c->try_recv_locked(sc.buf, &to_wake);
    if (a == chan_core::attempt::not_ready) continue;
    sc.c->check_locked();
    ls.unlock();
    if (sc.is_send && a == chan_core::attempt::closed)
      throw channel_closed("canal::select: send on closed channel");
    if (to_wake) wake(to_wake, true);
    *recv_ok = (a == chan_core::attempt::done);
    return i;
  }
  check_channels(chans.data(), nchan);
  if (has_default) {
    ls.unlock();
    return n;
  }

  // ---- pass 2
  entries.construct();
  wait_ticket t = begin_wait();
  // Enqueue in poll order, so cases on the same channel are served in random order too.
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = order[k];
    select_case& sc = cases[i];
    if (!sc.c) continue;
    wait_entry& e = entries[i];
    e.p = t.p;
    e.epoch = t.epoch;
    e.token = parker::tok_signal + static_cast<std::uint32_t>(i);
    e.value = sc.buf;
    wq_push(sc.is_send ? sc.c->sendq_ : sc.c->recvq_, &e);
  }
  CANAL_DCHECK(entries_linked(cases, entries.data(), n, true),
               "select pass 2: one linked entry per non-nil case");
  check_channels(chans.data(), nchan);
  const std::uint32_t tok = block(t, locks.data(), nchan, deadline, "select");
  CANAL_DCHECK(tok == parker::tok_cancel || (tok == parker::tok_timeout && deadline != block_forever) ||
                   (tok >= parker::tok_signal && tok - parker::tok_signal < n &&
                    cases[tok - parker::tok_signal].c != nullptr),
               "select: woken by a cancel, its deadline, or the claimant of one of its cases");
  CANAL_DCHECK(tok < parker::tok_signal || !entries[tok - parker::tok_signal].linked,
               "select: the claimant unlinked the entry of the case it completed");

  // ---- pass 3
  ls.lock();
  for (std::size_t i = 0; i < n; ++i) {
    select_case& sc = cases[i];
    if (sc.c) wq_remove(sc.is_send ? sc.c->sendq_ : sc.c->recvq_, &entries[i]);
  }
  CANAL_DCHECK(entries_linked(cases, entries.data(), n, false),
               "select pass 3: every entry is unlinked before select returns");
  check_channels(chans.data(), nchan);
  ls.unlock();

  if (tok == parker::tok_cancel) throw_cancelled();
  if (tok == parker::tok_timeout) return n + 1;
  const std::size_t k = tok - parker::tok_signal;
  if (cases[k].is_send) {
    if (!entries[k].ok) throw channel_closed("canal::select: channel closed while the send waited");
  } else {
    *recv_ok = entries[k].ok;
  }
  return k;
}

}  // namespace canal::detail
