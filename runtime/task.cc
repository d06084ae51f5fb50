// task.cc: what canal::task<R> and canal::this_task call: join, references, the unobserved-
// exception report, yield and sleep.
#include <sched.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
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

greenlet::~greenlet() { report_unobserved(this); }

// drop_outcome(): called on the greenlet's own stack when it finished and no task<R> handle is
// left (nobody can observe the outcome): the report is printed and the result and exception
// are destroyed here, where their destructors may block, not later in whatever context drops
// the last reference.
void drop_outcome(greenlet* g) noexcept {
  report_unobserved(g);
  g->observed_ = true;
  g->error_ = nullptr;
  g->drop_result();
}

void report_unobserved(greenlet* g) noexcept {
  if (!g->error_ || g->observed_ || !g_report_unobserved.load(std::memory_order_relaxed)) return;
  const std::exception_ptr error_ = g->error_;
  const auto& name_ = g->name_;
  const auto& id_ = g->id_;
  const auto& where_ = g->where_;
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
  if (g->cancel_.load(std::memory_order_acquire) && std::uncaught_exceptions() == 0 &&
      !g->discarding_)
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

// Control-block memory (block_alloc/block_free). Blocks of up to 1 KiB are served in 8-byte
// classes from 256 KiB chunks mapped with MAP_POPULATE: a burst of spawns touches a fresh page
// every 16 blocks, and one populating call is cheaper than 64 first-touch faults (~2 µs each
// on this VM). Each thread keeps a free list per class; an empty list refills 64 blocks from
// the process-wide list of that class, else carves them from the current chunk; a list that
// grows past 4096 blocks is handed whole to the process-wide list. Chunks are never unmapped:
// the memory of a spawn burst stays for the next one (as Go's heap does until its scavenger
// runs). Under a sanitizer every block is a plain operator new, so ASan sees each one.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CANAL_BLOCK_ARENA 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CANAL_BLOCK_ARENA 0
#endif
#endif
#ifndef CANAL_BLOCK_ARENA
#define CANAL_BLOCK_ARENA 1
#endif

// 8-byte classes: a 248-byte closure takes 248 bytes, not 256. Alignment: a type's size is a
// multiple of its alignment, so a block whose size is an odd multiple of 8 only needs 8-byte
// alignment; sizes that are multiples of 16 are carved 16-aligned (operator new's promise).
// Over-aligned closures never come here.
constexpr std::size_t block_grain = 8;
constexpr std::size_t block_classes = 1024 / block_grain;  // 8 .. 1024 bytes
inline std::size_t size_class(std::size_t size) noexcept {
  return (size + block_grain - 1) / block_grain - 1;
}
inline std::size_t class_bytes(std::size_t c) noexcept { return (c + 1) * block_grain; }

struct block_node {
  block_node* next;
};

struct block_list {
  block_node* head = nullptr;
  block_node* tail = nullptr;
  std::size_t count = 0;
};

// The process-wide lists and the chunk being carved.
struct block_depot {
  static constexpr std::size_t chunk_bytes = 256 * 1024;
  static constexpr std::size_t refill = 64;
  spinlock lock{lock_rank::block_depot};
  block_list lists[block_classes];
  char* cur = nullptr;
  char* end = nullptr;

  // take() moves up to `refill` blocks of class c into dst (empty). Throws std::bad_alloc.
  void take(std::size_t c, block_list& dst) {
    std::lock_guard<spinlock> lk(lock);
    block_list& src = lists[c];
    if (src.head) {
      block_node* first = src.head;
      block_node* last = first;
      std::size_t n = 1;
      while (n < refill && last->next) {
        last = last->next;
        ++n;
      }
      src.head = last->next;
      if (!src.head) src.tail = nullptr;
      src.count -= n;
      last->next = nullptr;
      dst.head = first;
      dst.tail = last;
      dst.count = n;
      return;
    }
    const std::size_t bytes = class_bytes(c);
    if (bytes % 16 == 0 && cur) {
      const auto a = reinterpret_cast<std::uintptr_t>(cur);
      cur += ((a + 15) & ~std::uintptr_t{15}) - a;
      if (cur > end) cur = end;
    }
    for (std::size_t n = 0; n < refill; ++n) {
      if (static_cast<std::size_t>(end - cur) < bytes) {
        if (n != 0) break;
        void* p = ::mmap(nullptr, chunk_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        cur = static_cast<char*>(p);  // page-aligned
        end = cur + chunk_bytes;
      }
      auto* b = reinterpret_cast<block_node*>(cur);
      cur += bytes;
      b->next = nullptr;
      if (dst.tail) dst.tail->next = b; else dst.head = b;
      dst.tail = b;
      ++dst.count;
    }
  }
  // give() takes a whole list of class c.
  void give(std::size_t c, block_list& src) noexcept {
    if (!src.head) return;
    std::lock_guard<spinlock> lk(lock);
    block_list& dst = lists[c];
    src.tail->next = dst.head;
    if (!dst.head) dst.tail = src.tail;
    dst.head = src.head;
    dst.count += src.count;
    src = block_list{};
  }
};

block_depot& depot() {
  static block_depot* d = new block_depot;  // never destroyed: threads may free blocks at exit
  return *d;
}

// A thread's free lists; handed to the depot when the thread ends.
struct block_cache {
  static constexpr std::size_t max_per_class = 4096;
  block_list lists[block_classes];
  ~block_cache() {
    for (std::size_t c = 0; c < block_classes; ++c) depot().give(c, lists[c]);
  }
};
thread_local block_cache t_blocks;

}  // namespace

void* block_alloc(std::size_t size) {
  const std::size_t c = size_class(size);
  if (!CANAL_BLOCK_ARENA || c >= block_classes) return ::operator new(size);
  block_list& l = t_blocks.lists[c];
  if (!l.head) depot().take(c, l);
  block_node* n = l.head;
  l.head = n->next;
  if (!l.head) l.tail = nullptr;
  --l.count;
  return n;
}

void block_free(void* p, std::size_t size) noexcept {
  const std::size_t c = size_class(size);
  if (!CANAL_BLOCK_ARENA || c >= block_classes) {
    ::operator delete(p);
    return;
  }
  block_list& l = t_blocks.lists[c];
  auto* n = static_cast<block_node*>(p);
  n->next = l.head;
  if (!l.head) l.tail = n;
  l.head = n;
  if (++l.count > block_cache::max_per_class) depot().give(c, l);
}

}  // namespace canal::detail
