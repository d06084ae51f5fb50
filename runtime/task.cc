// task.cc: what canal::task<R> and canal::this_task call: join, references, the unobserved-
// exception report, yield and sleep.
#include <sched.h>

#include <cstdio>
#include <exception>
#include <thread>

#include "canal/errors.hpp"
#include "canal/task.hpp"
#include "canal/version.hpp"
#include "runtime/park.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/worker.hpp"

namespace canal {

const char* version() noexcept { return "0.1.0"; }

namespace detail {

void spin_yield() noexcept { sched_yield(); }

greenlet::~greenlet() {
  if (!error_ || observed_ || !g_report_unobserved.load(std::memory_order_relaxed)) return;
  const char* what = "unknown exception";
  std::string buf;
  try {
    std::rethrow_exception(error_);
  } catch (const cancelled&) {
    return;  // being killed is not an error
  } catch (const std::exception& e) {
    buf = e.what();
    what = buf.c_str();
  } catch (...) {
  }
  std::fprintf(stderr,
               "canal: unhandled exception in greenlet '%s' (id %llu, spawned at %s:%u in %s): "
               "%s\n",
               name_.empty() ? "(unnamed)" : name_.c_str(), static_cast<unsigned long long>(id_),
               where_.file_name(), static_cast<unsigned>(where_.line()), where_.function_name(),
               what);
}

void add_ref(greenlet* g) noexcept { g->refs_.fetch_add(1, std::memory_order_relaxed); }

void release(greenlet* g) noexcept {
  if (g->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete g;
}

bool is_done(const greenlet* g) noexcept { return g->done_flag_.load(std::memory_order_acquire); }

void mark_observed(greenlet* g) noexcept {
  std::lock_guard<spinlock> lk(g->join_lock_);
  g->observed_ = true;
}

bool join_until(greenlet* g, std::int64_t deadline) {
  if (!g) throw error("canal::task: empty handle (default-constructed or moved-from)");
  if (is_done(g)) return true;
  if (g == current()) throw error("canal::task::join: a greenlet cannot join itself");
  wait_ticket t = begin_wait();
  wait_entry e;
  e.p = t.p;
  e.epoch = t.epoch;
  g->join_lock_.lock();
  if (g->done_) {
    g->join_lock_.unlock();
    if (end_wait(t) == parker::tok_cancel) throw_cancelled();
    return true;
  }
  wq_push(g->joiners_, &e);
  spinlock* l = &g->join_lock_;
  const std::uint32_t tok = block(t, &l, 1, deadline, "join");
  if (tok >= parker::tok_signal) return true;
  g->join_lock_.lock();
  wq_remove(g->joiners_, &e);
  g->join_lock_.unlock();
  if (tok == parker::tok_cancel) throw_cancelled();
  return is_done(g);
}

void join(greenlet* g) { join_until(g, block_forever); }

}  // namespace detail

namespace this_task {

void yield() {
  detail::worker* w = detail::current_worker();
  detail::greenlet* g = w ? w->current : nullptr;
  if (!g) {
    std::this_thread::yield();
    return;
  }
  if (!g->reg_owner_) [[unlikely]] w->sched->register_greenlet(g, w);
  w->switch_out(detail::action_kind::yield, nullptr, 0);
  if (g->cancel_.load(std::memory_order_acquire) && std::uncaught_exceptions() == 0)
    detail::throw_cancelled();
}

void sleep_until_ns(std::int64_t deadline) {
  detail::greenlet* g = detail::current();
  if (!g) {
    const std::int64_t rel = deadline - detail::now_ns();
    if (rel > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(rel));
    return;
  }
  if (deadline <= detail::now_ns()) {
    yield();
    return;
  }
  detail::wait_ticket t = detail::begin_wait();
  if (detail::block(t, nullptr, 0, deadline, "sleep") == detail::parker::tok_cancel)
    detail::throw_cancelled();
}

void sleep_ns(std::int64_t ns) {
  if (ns <= 0) {
    yield();
    return;
  }
  const std::int64_t now = detail::now_ns();
  sleep_until_ns(ns > INT64_MAX - now ? INT64_MAX - 1 : now + ns);
}

std::uint64_t id() noexcept {
  detail::greenlet* g = detail::current();
  return g ? g->id_ : 0;
}

std::string name() {
  detail::greenlet* g = detail::current();
  return g ? g->name_.str() : std::string();
}

void set_name(std::string n) {
  if (detail::greenlet* g = detail::current()) g->name_.assign(n);
}

bool in_greenlet() noexcept { return detail::current() != nullptr; }

}  // namespace this_task
}  // namespace canal

namespace canal::detail {

namespace {

// A thread's cache of free control blocks, one singly linked list per 64-byte size class.
struct block_cache {
  static constexpr std::size_t classes = 16;     // 64 .. 1024 bytes
  static constexpr std::size_t max_per_class = 4096;
  struct node {
    node* next;
  };
  node* head[classes] = {};
  std::size_t count[classes] = {};
  ~block_cache() {
    for (std::size_t c = 0; c < classes; ++c) {
      while (node* n = head[c]) {
        head[c] = n->next;
        ::operator delete(static_cast<void*>(n));
      }
    }
  }
};
thread_local block_cache t_blocks;

// Class c serves sizes up to (c + 1) * 64 - 8 and asks malloc for exactly that: glibc adds an
// 8-byte chunk header, so a class-c block occupies (c + 1) * 64 bytes of heap. (Asking for
// (c + 1) * 64 would cost 16 bytes more per block: 272 for a 248-byte closure, which a
// hundred thousand parked greenlets pay in full.)
constexpr std::size_t block_header = 8;
inline std::size_t size_class(std::size_t size) noexcept {
  return (size + block_header + 63) / 64 - 1;
}
inline std::size_t class_bytes(std::size_t c) noexcept { return (c + 1) * 64 - block_header; }

}  // namespace

void* block_alloc(std::size_t size) {
  const std::size_t c = size_class(size);
  if (c >= block_cache::classes) return ::operator new(size);
  block_cache& bc = t_blocks;
  if (block_cache::node* n = bc.head[c]) {
    bc.head[c] = n->next;
    --bc.count[c];
    return n;
  }
  return ::operator new(class_bytes(c));
}

void block_free(void* p, std::size_t size) noexcept {
  const std::size_t c = size_class(size);
  if (c >= block_cache::classes) {
    ::operator delete(p);
    return;
  }
  block_cache& bc = t_blocks;
  if (bc.count[c] >= block_cache::max_per_class) {
    ::operator delete(p);
    return;
  }
  auto* n = static_cast<block_cache::node*>(p);
  n->next = bc.head[c];
  bc.head[c] = n;
  ++bc.count[c];
}

}  // namespace canal::detail
