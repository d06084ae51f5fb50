// stack.cc: guarded stack slabs, the pool, per-worker caches, and the stack-overflow report.
#include "runtime/stack.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "canal/detail/greenlet.hpp"
#include "runtime/worker.hpp"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13 uapi value; older kernels answer EINVAL
#endif

namespace canal::detail {

namespace {

enum guard_mode { guard_auto = 0, guard_madvise = 1, guard_mprotect = 2, guard_none = 3 };

int guard_mode_from_env() {
  const char* e = std::getenv("CANAL_STACK_GUARD");
  if (!e || !*e) return guard_auto;
  if (!std::strcmp(e, "madvise")) return guard_madvise;
  if (!std::strcmp(e, "mprotect")) return guard_mprotect;
  if (!std::strcmp(e, "none")) return guard_none;
  return guard_auto;
}

std::atomic<int> g_madvise_works{-1};  // -1 unknown, 0 no, 1 yes

bool install_guard(void* page, std::size_t page_size, int mode) {
  if (mode == guard_none) return false;
  if (mode != guard_mprotect && g_madvise_works.load(std::memory_order_relaxed) != 0) {
    if (madvise(page, page_size, MADV_GUARD_INSTALL) == 0) {
      g_madvise_works.store(1, std::memory_order_relaxed);
      return true;
    }
    if (mode == guard_madvise) {
      std::fprintf(stderr, "canal: madvise(MADV_GUARD_INSTALL) failed: %s\n", std::strerror(errno));
      throw std::bad_alloc();
    }
    g_madvise_works.store(0, std::memory_order_relaxed);
  }
  if (mprotect(page, page_size, PROT_NONE) != 0) {
    std::fprintf(stderr,
                 "canal: cannot guard a greenlet stack (mprotect: %s); too many stacks for "
                 "vm.max_map_count? set CANAL_STACK_GUARD=none to run unguarded\n",
                 std::strerror(errno));
    throw std::bad_alloc();
  }
  return true;
}

}  // namespace

stack_pool::stack_pool(std::size_t usable_bytes) {
  page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  requested_ = usable_bytes;
  const std::size_t want = usable_bytes + sizeof(stack_block) + 64;
  slot_ = (want + page_ - 1) / page_ * page_ + page_;  // + guard page
  guard_mode_ = guard_mode_from_env();
}

stack_pool::~stack_pool() {
#if CANAL_DCHECK_IS_ON
  CANAL_DCHECK(nfree_ == nmapped_,
               "stack_pool: every stack is back in the pool when the runtime ends");
#endif
  for (auto& [p, n] : slabs_) munmap(p, n);
}

void stack_pool::map_slab() {
  // 64 stacks or 16 MiB per slab, whichever is fewer stacks (at least 1).
  std::size_t per = (16u << 20) / slot_;
  if (per > 64) per = 64;
  if (per == 0) per = 1;
  const std::size_t bytes = per * slot_;
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) {
    std::fprintf(stderr, "canal: cannot map greenlet stacks (%zu bytes): %s\n", bytes,
                 std::strerror(errno));
    throw std::bad_alloc();
  }
  slabs_.emplace_back(base, bytes);
  for (std::size_t i = per; i-- > 0;) {
    char* slot = static_cast<char*>(base) + i * slot_;
    bool guarded = install_guard(slot, page_, guard_mode_);
    char* top = slot + slot_;
    auto* b = reinterpret_cast<stack_block*>((reinterpret_cast<std::uintptr_t>(top) -
                                              sizeof(stack_block)) & ~std::uintptr_t{63});
    b->lo = slot + page_;
    b->usable = static_cast<std::size_t>(reinterpret_cast<char*>(b) - (slot + page_));
    b->guard = guarded ? slot : nullptr;
    b->requested = requested_;
    b->next = free_;
    free_ = b;
  }
#if CANAL_DCHECK_IS_ON
  nfree_ += per;
  nmapped_ += per;
#endif
}

stack_block* stack_pool::get() {
  std::lock_guard<ranked_mutex> lk(mu_);
  if (!free_) map_slab();
  stack_block* b = free_;
  free_ = b->next;
#if CANAL_DCHECK_IS_ON
  CANAL_DCHECK(nfree_ > 0 && nfree_ <= nmapped_, "stack_pool: nfree_ counts the free list");
  --nfree_;
  CANAL_DCHECK((free_ == nullptr) == (nfree_ == 0), "stack_pool: nfree_ counts the free list");
#endif
  CANAL_DCHECK(b->requested == requested_ && b->usable + page_ <= slot_,
               "stack_pool: a free stack is one of this pool's slots");
  return b;
}

void stack_pool::put_many(stack_block* head, stack_block* tail) noexcept {
#if CANAL_DCHECK_IS_ON
  std::size_t n = 1;
  for (stack_block* s = head; s != tail; s = s->next) {
    CANAL_DCHECK(s != nullptr, "stack_pool::put_many: tail is reachable from head");
    ++n;
  }
#endif
  std::lock_guard<ranked_mutex> lk(mu_);
  tail->next = free_;
  free_ = head;
#if CANAL_DCHECK_IS_ON
  nfree_ += n;
  CANAL_DCHECK(nfree_ <= nmapped_, "stack_pool: no more stacks come back than were mapped");
#endif
}

void stack_cache::flush_half(stack_pool& pool) noexcept {
  CANAL_DCHECK(n_ == max_cached + 1, "stack_cache: flushed when it holds one more than it keeps");
  std::size_t keep = max_cached / 2;
  stack_block* s = head_;
  for (std::size_t i = 1; i < keep; ++i) s = s->next;
  stack_block* rest = s->next;
  s->next = nullptr;
  stack_block* tail = rest;
  while (tail->next) tail = tail->next;
  pool.put_many(rest, tail);
  n_ = keep;
}

void stack_cache::flush_all(stack_pool& pool) noexcept {
  CANAL_DCHECK((head_ == nullptr) == (n_ == 0), "stack_cache: n_ counts the cached stacks");
  if (!head_) return;
  stack_block* tail = head_;
#if CANAL_DCHECK_IS_ON
  std::size_t n = 1;
  for (stack_block* s = head_; s->next; s = s->next) ++n;
  CANAL_DCHECK(n == n_, "stack_cache: n_ counts the cached stacks");
#endif
  while (tail->next) tail = tail->next;
  pool.put_many(head_, tail);
  head_ = nullptr;
  n_ = 0;
}

// ---------------------------------------------------------------- stack overflow report

namespace {

struct sigaction g_old_segv;
std::atomic<bool> g_handler_installed{false};
thread_local void* t_altstack = nullptr;

void put(char*& p, char* end, const char* s) {
  while (*s && p < end) *p++ = *s++;
}
void put_num(char*& p, char* end, unsigned long long v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && n < 24);
  while (n && p < end) *p++ = tmp[--n];
}

void on_segv(int sig, siginfo_t* info, void* uctx) {
  greenlet* g = running_greenlet_for_signal();
  if (g && g->stack_) {
    auto* b = static_cast<stack_block*>(g->stack_);
    auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    auto lo = reinterpret_cast<std::uintptr_t>(b->guard ? b->guard : b->lo);
    auto hi = reinterpret_cast<std::uintptr_t>(b->lo);
    // The guard page, plus a margin below it for frames that jumped over the page.
    if (b->guard && addr >= lo - 64 * 1024 && addr < hi) {
      char buf[1024];
      char* p = buf;
      char* end = buf + sizeof(buf) - 1;
      put(p, end, "canal: stack overflow in greenlet '");
      put(p, end, g->name_.empty() ? "(unnamed)" : g->name_.c_str());
      put(p, end, "' (id ");
      put_num(p, end, g->id_);
      put(p, end, ", spawned at ");
      put(p, end, g->where_.file_name());
      put(p, end, ":");
      put_num(p, end, g->where_.line());
      put(p, end, " in ");
      put(p, end, g->where_.function_name());
      put(p, end, "): stack size ");
      put_num(p, end, b->requested);
      put(p, end, " bytes exhausted; raise canal::options::stack_size or CANAL_STACK_SIZE\n");
      *p = 0;
      ssize_t ignored = write(2, buf, static_cast<std::size_t>(p - buf));
      (void)ignored;
      signal(SIGSEGV, SIG_DFL);
      abort();
    }
  }
  // Not ours: hand over to whatever was installed before (or the default action).
  if (g_old_segv.sa_flags & SA_SIGINFO) {
    if (g_old_segv.sa_sigaction) return g_old_segv.sa_sigaction(sig, info, uctx);
  } else if (g_old_segv.sa_handler != SIG_DFL && g_old_segv.sa_handler != SIG_IGN) {
    return g_old_segv.sa_handler(sig);
  }
  signal(SIGSEGV, SIG_DFL);  // returning re-executes the access and takes the default action
}

}  // namespace

void install_overflow_handler() {
  bool expected = false;
  if (!g_handler_installed.compare_exchange_strong(expected, true)) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = &on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_old_segv);
}

void thread_overflow_altstack(bool on) {
  if (on) {
    if (t_altstack) return;
    const std::size_t size = 64 * 1024;
    t_altstack = std::malloc(size);
    if (!t_altstack) return;
    stack_t ss{};
    ss.ss_sp = t_altstack;
    ss.ss_size = size;
    ss.ss_flags = 0;
    sigaltstack(&ss, nullptr);
  } else if (t_altstack) {
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    std::free(t_altstack);
    t_altstack = nullptr;
  }
}

}  // namespace canal::detail
