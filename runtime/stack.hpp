// stack.hpp: greenlet stacks: guarded, allocated in slabs, pooled and reused at once.
//
// Layout of one stack slot (addresses grow upwards):
//
//     slot base                                                        slot base + slot size
//     | guard page | usable stack ............ grows down <- | stack_block header |
//
// The guard page is installed with madvise(MADV_GUARD_INSTALL) (Linux >= 6.13), which guards
// without splitting the mapping, so 100,000+ stacks fit under vm.max_map_count; on older
// kernels canal falls back to mprotect (one extra mapping per stack, ~32k stacks at most).
// CANAL_STACK_GUARD=madvise|mprotect|none forces a scheme. Pages are committed only when
// touched: a parked greenlet costs the pages it used.
#pragma once

#include <cstddef>
#include <vector>

#include "canal/detail/check.hpp"
#include "runtime/lock_order.hpp"

namespace canal::detail {

struct greenlet;

struct stack_block {
  stack_block* next;
  void* lo;            // lowest usable address (just above the guard page)
  std::size_t usable;  // bytes from lo up to this header
  void* guard;         // the guard page (nullptr when unguarded)
  std::size_t requested;  // the configured stack size (what error messages report)
};

// stack_pool: the runtime-wide pool of free stacks; workers keep a small cache in front of it.
class stack_pool {
 public:
  explicit stack_pool(std::size_t usable_bytes);
  ~stack_pool();
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;

  // get() returns a free stack, mapping a new slab when none is free. Throws std::bad_alloc
  // (with a message on stderr) when the kernel refuses memory.
  stack_block* get();
  // put_many() returns a batch of stacks (linked through next).
  void put_many(stack_block* head, stack_block* tail) noexcept;

 private:
  void map_slab();
  ranked_mutex mu_{lock_rank::stack_pool};
  stack_block* free_ = nullptr;
#if CANAL_DCHECK_IS_ON
  // Under mu_: stacks on free_, and stacks ever mapped. Every stack is back when the pool dies.
  std::size_t nfree_ = 0;
  std::size_t nmapped_ = 0;
#endif
  std::vector<std::pair<void*, std::size_t>> slabs_;
  std::size_t requested_;  // the configured stack size, copied into every stack_block
  std::size_t slot_;       // guard page + stack + header, a whole number of pages
  std::size_t page_;
  int guard_mode_;
};

// stack_cache: a worker's private stack free list in front of the pool (no locking).
class stack_cache {
 public:
  static constexpr std::size_t max_cached = 64;
  stack_block* get(stack_pool& pool) {
    CANAL_DCHECK((head_ == nullptr) == (n_ == 0), "stack_cache: n_ counts the cached stacks");
    if (stack_block* s = head_) {
      head_ = s->next;
      --n_;
      return s;
    }
    return pool.get();
  }
  void put(stack_pool& pool, stack_block* s) noexcept {
    CANAL_DCHECK(s != nullptr && s != head_, "stack_cache: a stack is returned once");
    CANAL_DCHECK(n_ <= max_cached, "stack_cache: at most max_cached stacks between calls");
    s->next = head_;
    head_ = s;
    if (++n_ > max_cached) flush_half(pool);
  }
  void flush_all(stack_pool& pool) noexcept;

 private:
  void flush_half(stack_pool& pool) noexcept;
  stack_block* head_ = nullptr;
  std::size_t n_ = 0;
};

// Stack-overflow reporting: a SIGSEGV handler on an alternate signal stack recognises a fault in
// the running greenlet's guard page and names the greenlet, its spawn site and its stack size.
void install_overflow_handler();       // once per process
void thread_overflow_altstack(bool on);  // per worker thread

}  // namespace canal::detail
