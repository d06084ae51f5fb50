// check.cc: failure reports for CANAL_ASSERT / CANAL_DCHECK, and the lock-order checker
// (canal/detail/check.hpp, canal/detail/lock_rank.hpp).
//
// Reports are formatted into a buffer on the stack with snprintf and written to fd 2 with one
// write(): no allocation, nothing buffered, usable on a greenlet's stack. After the report a
// raw backtrace follows (backtrace_symbols_fd writes to the fd directly; backtrace() itself may
// load the unwinder on its first use, which is why it comes after the report), then abort().
//
// The lock-order checker (DCHECK builds only) keeps, per OS thread, the locks the thread holds:
// rank and address, oldest first, in a fixed array (no allocation, trivially destructible, so
// it works during thread exit too). Per thread and not per greenlet because a parking greenlet's
// locks are released by the next context on the same thread (worker::run_pending()); a lock
// released by a thread that does not hold it is reported.
#include <execinfo.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "canal/detail/check.hpp"
#include "canal/detail/greenlet.hpp"
#include "canal/detail/lock_rank.hpp"
#include "runtime/worker.hpp"

namespace canal::detail {

// The link-time marker of this build's mode (check.hpp: "Mixing").
#if CANAL_DCHECK_IS_ON
extern const char dchecks_abi_on = 1;
#else
extern const char dchecks_abi_off = 0;
#endif

namespace {

// A fixed buffer that formatted pieces are appended to; output past its end is dropped.
struct report {
  char buf[4096];
  std::size_t len = 0;

  [[gnu::format(printf, 2, 3)]] void add(const char* fmt, ...) noexcept {
    if (len >= sizeof buf - 1) return;
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buf + len, sizeof buf - len, fmt, ap);
    va_end(ap);
    if (n > 0) len += static_cast<std::size_t>(n);
    if (len > sizeof buf - 1) len = sizeof buf - 1;
  }
  void flush() noexcept {
    std::size_t off = 0;
    while (off < len) {
      const ssize_t n = ::write(2, buf + off, len - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    len = 0;
  }
};

// The running greenlet, or where the failing code runs when it is not on one.
void add_context(report& r) noexcept {
  worker* w = current_worker();
  if (!w) {
    r.add("  on a thread that is not a canal worker (no greenlet)\n");
    return;
  }
  const greenlet* g = w->current;
  if (!g) {
    r.add("  on worker %zu's scheduler loop (no greenlet)\n", w->index);
    return;
  }
  r.add("  in greenlet '%s' (id %llu, spawned at %s:%u in %s) on worker %zu\n",
        g->name_.empty() ? "(unnamed)" : g->name_.c_str(), static_cast<unsigned long long>(g->id_),
        g->where_.file_name(), static_cast<unsigned>(g->where_.line()),
        g->where_.function_name(), w->index);
}

thread_local bool t_failing = false;

[[noreturn]] void emit_and_abort(report& r) noexcept {
  r.flush();
  void* frames[64];
  const int n = ::backtrace(frames, 64);
  if (n > 0) {
    r.add("  backtrace:\n");
    r.flush();
    ::backtrace_symbols_fd(frames, n, 2);
  }
  std::abort();
}

// A failure while reporting a failure: say so and stop.
void guard_reentry() noexcept {
  if (!t_failing) {
    t_failing = true;
    return;
  }
  static const char msg[] = "canal: check failed while reporting a failed check\n";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  (void)ignored;
  std::abort();
}

}  // namespace

void check_failed(const char* cond, const char* msg, const char* file, int line) noexcept {
  guard_reentry();
  report r;
  r.add("canal: check failed: %s\n  invariant: %s\n  at %s:%d\n", cond, msg ? msg : "", file,
        line);
  add_context(r);
  emit_and_abort(r);
}

#if CANAL_DCHECK_IS_ON

namespace {

struct held_lock {
  const void* at;
  lock_rank rank;
};

// More than any real nesting: a select over n channels holds n channel locks plus, on its park
// path, a few runtime locks. Past this the checker stops the program (see push()).
constexpr unsigned max_held = 256;

struct held_locks {
  held_lock e[max_held];
  unsigned n;
};

constinit thread_local held_locks t_held{};

std::uintptr_t addr(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }

void add_lock(report& r, lock_rank rank, const void* at) noexcept {
  r.add("%s (rank %d) at %p", lock_rank_name(rank), static_cast<int>(rank), at);
}

void add_held(report& r, const held_locks& h) noexcept {
  r.add("  locks this thread holds, oldest first:%s\n", h.n ? "" : " none");
  constexpr unsigned shown = 24;
  for (unsigned i = 0; i < h.n && i < shown; ++i) {
    r.add("    #%u ", i);
    add_lock(r, h.e[i].rank, h.e[i].at);
    r.add("\n");
  }
  if (h.n > shown) r.add("    ... and %u more\n", h.n - shown);
}

[[noreturn]] void order_failed(lock_order_verdict v, const held_lock& held, lock_rank rank,
                               const void* lock) noexcept {
  guard_reentry();
  report r;
  r.add("canal: lock order violation: %s\n  taking  ", lock_order_verdict_text(v));
  add_lock(r, rank, lock);
  r.add("\n  holding ");
  add_lock(r, held.rank, held.at);
  r.add("\n");
  add_held(r, t_held);
  add_context(r);
  r.add("  the lock order: include/canal/detail/lock_rank.hpp\n");
  emit_and_abort(r);
}

void push(lock_rank rank, const void* lock) noexcept {
  held_locks& h = t_held;
  if (h.n == max_held) {
    guard_reentry();
    report r;
    r.add("canal: lock order checker: this thread holds more than %u locks; taking ", max_held);
    add_lock(r, rank, lock);
    r.add("\n");
    add_context(r);
    emit_and_abort(r);
  }
  h.e[h.n++] = held_lock{lock, rank};
}

}  // namespace

void lock_order_acquire(lock_rank rank, const void* lock) noexcept {
  const held_locks& h = t_held;
  // Most recent first: the report names the innermost lock that conflicts.
  for (unsigned i = h.n; i-- > 0;) {
    const lock_order_verdict v = lock_order_check(h.e[i].rank, addr(h.e[i].at), rank, addr(lock));
    if (v != lock_order_verdict::ok) [[unlikely]]
      order_failed(v, h.e[i], rank, lock);
  }
  push(rank, lock);
}

void lock_order_record(lock_rank rank, const void* lock) noexcept { push(rank, lock); }

void lock_order_release(lock_rank rank, const void* lock) noexcept {
  held_locks& h = t_held;
  for (unsigned i = h.n; i-- > 0;) {
    if (h.e[i].at != lock) continue;
    if (h.e[i].rank != rank) [[unlikely]] {
      guard_reentry();
      report r;
      r.add("canal: lock order checker: releasing ");
      add_lock(r, rank, lock);
      r.add(", recorded as taken with rank %d (a lock destroyed while held?)\n",
            static_cast<int>(h.e[i].rank));
      add_held(r, h);
      add_context(r);
      emit_and_abort(r);
    }
    for (unsigned j = i + 1; j < h.n; ++j) h.e[j - 1] = h.e[j];
    --h.n;
    return;
  }
  guard_reentry();
  report r;
  r.add("canal: lock order checker: releasing ");
  add_lock(r, rank, lock);
  r.add(", which this thread does not hold (released twice, never taken, or taken by another "
        "thread: locks are released by the thread that took them)\n");
  add_held(r, h);
  add_context(r);
  emit_and_abort(r);
}

unsigned lock_order_depth() noexcept { return t_held.n; }

#endif  // CANAL_DCHECK_IS_ON

}  // namespace canal::detail
