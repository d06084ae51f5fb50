// park.cc: begin_wait/block/end_wait/wake for greenlets and OS threads (see park.hpp).
//
// OS threads park on a futex in a thread_local parker; greenlets park through their worker
// (worker::switch_out with action park) and arm their deadline in that worker's timer_heap.
#include "runtime/park.hpp"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <exception>

#include "canal/errors.hpp"
#include "runtime/greenlet.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/worker.hpp"

namespace canal::detail {

void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t val, const timespec* rel) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_PRIVATE, val, rel,
          nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr,
          nullptr, 0);
}

namespace {

thread_local parker t_thread_parker;

void unlock_all(spinlock* const* locks, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) locks[i]->unlock();
}

std::uint32_t close_wait(wait_ticket t) noexcept {
  const auto tok = static_cast<std::uint32_t>(t.p->word.load(std::memory_order_acquire));
  t.p->word.store(pk_word(t.epoch, parker::tok_idle), std::memory_order_relaxed);
  return tok;
}

std::uint32_t block_thread(wait_ticket t, spinlock* const* locks, std::size_t nlocks,
                           std::int64_t deadline) {
  parker* p = t.p;
  unlock_all(locks, nlocks);
  for (;;) {
    if (p->futex.load(std::memory_order_acquire)) break;
    if (deadline == block_forever) {
      futex_wait(&p->futex, 0, nullptr);
      continue;
    }
    const std::int64_t now = now_ns();
    if (now >= deadline) {
      if (try_claim(p, t.epoch, parker::tok_timeout)) return close_wait(t);
      deadline = block_forever;  // claimed by a waker: it sets the futex momentarily
      continue;
    }
    // At most a day per futex wait (the loop re-checks): far deadlines stay far from any limit.
    constexpr std::int64_t max_rel = 86'400'000'000'000;
    const std::int64_t rel = deadline - now < max_rel ? deadline - now : max_rel;
    timespec ts{static_cast<time_t>(rel / 1000000000), static_cast<long>(rel % 1000000000)};
    futex_wait(&p->futex, 0, &ts);
  }
  return close_wait(t);
}

}  // namespace

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

wait_ticket begin_wait() noexcept {
  worker* w = current_worker();
  greenlet* g = w ? w->current : nullptr;
  parker* p;
  if (g) {
    // Greenlets enter the registry (what shutdown cancels) when they first wait: one that never
    // waits finishes by itself, one that never started is filtered at shutdown.
    if (!g->reg_owner_) [[unlikely]] w->sched->register_greenlet(g, w);
    p = &g->parker_;
    g->nocancel_.store(w->eh->uncaught > 0 || g->discarding_, std::memory_order_relaxed);
  } else {
    p = &t_thread_parker;
    p->futex.store(0, std::memory_order_relaxed);
  }
  const auto epoch = static_cast<std::uint32_t>(p->word.load(std::memory_order_relaxed) >> 32) + 1;
  p->word.store(pk_word(epoch, parker::tok_open), std::memory_order_release);
  light_fence();  // pairs with heavy_fence() in kill(): see DESIGN.md "cancellation"
  return {p, epoch};
}

void wait_parked(greenlet* g, std::uint32_t epoch) noexcept {
  for (unsigned spins = 0; g->parked_epoch_.load(std::memory_order_acquire) != epoch; ++spins) {
    if (spins < 128) CANAL_CPU_RELAX(); else spin_yield();
  }
}

void wake(parker* p, bool next) noexcept {
  if (p->g) {
    ready(p->g, next);
  } else {
    p->futex.store(1, std::memory_order_release);
    futex_wake(&p->futex, 1);
  }
}

namespace {

// The timed part of block(), out of line so the common untimed park stays short.
__attribute__((noinline)) std::uint32_t block_timed(wait_ticket t, greenlet* g, worker* w,
                                                     spinlock* const* locks, std::size_t nlocks,
                                                     std::int64_t deadline, const char* reason) {
  if (deadline <= now_ns() && try_claim(t.p, t.epoch, parker::tok_timeout)) {
    unlock_all(locks, nlocks);
    return close_wait(t);
  }
  timer_node tn;
  tn.deadline = deadline;
  tn.p = t.p;
  tn.epoch = t.epoch;
  w->timers.add(&tn);
  g->wait_reason_ = reason;
  w->switch_out(action_kind::park, locks, nlocks);
  g->wait_reason_ = nullptr;
  const std::uint32_t tok = close_wait(t);
  if (tok != parker::tok_timeout) tn.owner->cancel(&tn);
  return tok;
}

}  // namespace

std::uint32_t block(wait_ticket t, spinlock* const* locks, std::size_t nlocks,
                    std::int64_t deadline, const char* reason) {
  greenlet* g = t.p->g;
  if (!g) return block_thread(t, locks, nlocks, deadline);

  // A kill() that came before we got here: deliver it now instead of parking.
  if (g->cancel_.load(std::memory_order_relaxed)) [[unlikely]] {
    if (!g->nocancel_.load(std::memory_order_relaxed) &&
        try_claim(t.p, t.epoch, parker::tok_cancel)) {
      unlock_all(locks, nlocks);
      return close_wait(t);
    }
  }
  worker* w = current_worker();
  if (deadline != block_forever) return block_timed(t, g, w, locks, nlocks, deadline, reason);
  g->wait_reason_ = reason;
  w->switch_out(action_kind::park, locks, nlocks);
  g->wait_reason_ = nullptr;
  return close_wait(t);
}

std::uint32_t end_wait(wait_ticket t) noexcept {
  std::uint64_t expect = pk_word(t.epoch, parker::tok_open);
  if (t.p->word.compare_exchange_strong(expect, pk_word(t.epoch, parker::tok_idle),
                                        std::memory_order_acq_rel, std::memory_order_acquire))
    return parker::tok_open;
  // Somebody claimed this wait (kill()) and is waking us: absorb that wake-up here, or it would
  // end the next wait early.
  if (t.p->g) {
    current_worker()->switch_out(action_kind::park, nullptr, 0);
  } else {
    while (!t.p->futex.load(std::memory_order_acquire)) futex_wait(&t.p->futex, 0, nullptr);
  }
  return close_wait(t);
}

namespace {
// 1 when membarrier(PRIVATE_EXPEDITED) is registered: the light side needs only a compiler
// barrier. Otherwise both sides use a full fence.
std::atomic<int> g_membarrier{-1};
}  // namespace

void fences_init() noexcept {
  if (g_membarrier.load(std::memory_order_acquire) != -1) return;
  long r = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
  g_membarrier.store(r == 0 ? 1 : 0, std::memory_order_release);
}

void light_fence() noexcept {
  if (g_membarrier.load(std::memory_order_relaxed) == 1)
    std::atomic_signal_fence(std::memory_order_seq_cst);
  else
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

void heavy_fence() noexcept {
  if (g_membarrier.load(std::memory_order_relaxed) == 1 &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
    return;
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void throw_cancelled() {
  if (greenlet* g = current()) {
    scheduler* s = g_sched.load(std::memory_order_acquire);
    if (!(s && s->shutting_down.load(std::memory_order_acquire)))
      g->cancel_.store(false, std::memory_order_relaxed);
  }
  throw cancelled{};
}

}  // namespace canal::detail
