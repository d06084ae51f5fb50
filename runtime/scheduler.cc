// scheduler.cc: run(), spawning, kill, idle-worker wake-ups, the registry and shutdown.
//
// Shutdown (runtime/DESIGN.md "shutdown"): when the main greenlet returns, shutting_down is set
// and every registered greenlet is killed; from then on every park throws cancelled at once
// (unless the greenlet is unwinding). Greenlets that never started are finished without
// running. When the live count reaches zero, stop() sets stopping and wakes every worker; each
// worker leaves its loop when it finds nothing to run; run() joins them.
#include "runtime/scheduler.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "canal/errors.hpp"
#include "canal/run.hpp"
#include "runtime/park.hpp"

namespace canal::detail {

std::atomic<scheduler*> g_sched{nullptr};
std::atomic<bool> g_report_unobserved{true};

scheduler::scheduler(std::size_t n, std::size_t stack_size) : nworkers(n), stacks(stack_size) {
  workers.reserve(n);
  for (std::size_t i = 0; i < n; ++i) workers.push_back(std::make_unique<worker>(this, i));
  idle.reserve(n);
}

scheduler::~scheduler() = default;

void scheduler::wake_one() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (nidle.load(std::memory_order_seq_cst) == 0) return;
  if (nspinning.load(std::memory_order_seq_cst) != 0) return;
  worker* w = nullptr;
  {
    std::lock_guard<spinlock> lk(idle_lock);
    if (idle.empty()) return;
    w = idle.back();
    idle.pop_back();
    w->in_idle_list = false;
    nidle.fetch_sub(1, std::memory_order_seq_cst);
  }
  w->hub_.wake();
}

void scheduler::stop() noexcept {
  stopping.store(true, std::memory_order_seq_cst);
  for (std::size_t i = 0; i < nworkers; ++i) workers[i]->hub_.wake();
}

void scheduler::greenlet_finished() noexcept {
  if (live.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
      shutting_down.load(std::memory_order_acquire))
    stop();
}

void scheduler::register_greenlet(greenlet* g, worker* w) noexcept {
  {
    std::lock_guard<spinlock> lk(w->reg_lock);
    g->reg_owner_ = w;
    g->reg_prev_ = nullptr;
    g->reg_next_ = w->reg_head;
    if (w->reg_head) w->reg_head->reg_prev_ = g;
    w->reg_head = g;
  }
  // begin_shutdown() sets shutting_down before it walks the registries under their locks: a
  // greenlet that registered too late to be walked sees the flag here.
  if (shutting_down.load(std::memory_order_seq_cst) && g != main)
    g->cancel_.store(true, std::memory_order_relaxed);
}

void scheduler::unregister_greenlet(greenlet* g) noexcept {
  worker* w = g->reg_owner_;
  if (!w) return;
  std::lock_guard<spinlock> lk(w->reg_lock);
  if (g->reg_prev_) g->reg_prev_->reg_next_ = g->reg_next_; else w->reg_head = g->reg_next_;
  if (g->reg_next_) g->reg_next_->reg_prev_ = g->reg_prev_;
  g->reg_prev_ = g->reg_next_ = nullptr;
  g->reg_owner_ = nullptr;
}

void scheduler::begin_shutdown() noexcept {
  shutting_down.store(true, std::memory_order_seq_cst);
  for (auto& w : workers) {
    std::lock_guard<spinlock> lk(w->reg_lock);
    for (greenlet* g = w->reg_head; g; g = g->reg_next_)
      if (g != main) kill(g);
  }
}

// ---------------------------------------------------------------- public entry points

void kill(greenlet* g) noexcept {
  if (g->done_flag_.load(std::memory_order_acquire)) return;
  g->cancel_.store(true, std::memory_order_seq_cst);
  heavy_fence();  // pairs with light_fence() in begin_wait()
  const std::uint64_t w = g->parker_.word.load(std::memory_order_acquire);
  if (static_cast<std::uint32_t>(w) != parker::tok_open) return;  // it will see cancel_
  if (g->nocancel_.load(std::memory_order_acquire)) return;
  const auto epoch = static_cast<std::uint32_t>(w >> 32);
  if (!try_claim(&g->parker_, epoch, parker::tok_cancel)) return;
  // We own its wake-up, but it may still be on its way into the park (another thread): wait
  // until its context is saved before queueing it.
  for (unsigned spins = 0; g->parked_epoch_.load(std::memory_order_acquire) != epoch; ++spins) {
    if (spins < 128) CANAL_CPU_RELAX(); else spin_yield();
  }
  ready(g, false);
}

void spawn(greenlet* g) {
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (!s)
    throw error(
        "canal::go: no runtime is running (spawn greenlets inside canal::run(), or from a "
        "thread while run() is active)");
  s->live.fetch_add(1, std::memory_order_seq_cst);
  if (s->stopping.load(std::memory_order_seq_cst)) {
    s->live.fetch_sub(1, std::memory_order_seq_cst);
    throw error("canal::go: the runtime is shutting down");
  }
  s->admit(g);
  if (s->shutting_down.load(std::memory_order_acquire)) g->cancel_.store(true);
  worker* w = current_worker();
  if (w && w->sched == s) {
    w->push_tail(g);
  } else {
    s->foreign.push(g);
    s->wake_one();
  }
}

void spawn_dispatch(greenlet* g) {
  worker* w = current_worker();
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (!w || w->sched != s || !w->current || s->shutting_down.load(std::memory_order_acquire)) {
    spawn(g);
    return;
  }
  s->live.fetch_add(1, std::memory_order_seq_cst);
  s->admit(g);
  w->dispatch_to(g);
}

namespace {

std::size_t env_size(const char* name) {
  const char* e = std::getenv(name);
  if (!e || !*e) return 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(e, &end, 10);
  if (!end || *end != 0)
    throw error(std::string("canal::run: environment variable ") + name +
                " must be a whole number, got '" + e + "'");
  return static_cast<std::size_t>(v);
}

}  // namespace

void run_main(greenlet* g, const options& opts) {
  if (current())
    throw error("canal::run: called from inside a greenlet (use canal::go to start more)");
  std::size_t n = opts.workers;
  if (n == 0) n = env_size("CANAL_WORKERS");
  if (n == 0) n = std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  if (n > 4096) throw error("canal::run: options.workers must be at most 4096");
  std::size_t stack = opts.stack_size;
  if (stack == 0) stack = env_size("CANAL_STACK_SIZE");
  if (stack == 0) stack = 256 * 1024;
  if (stack < 16 * 1024) throw error("canal::run: options.stack_size must be at least 16 KiB");
  if (stack > (std::size_t{1} << 32)) throw error("canal::run: options.stack_size is too large");

  scheduler s(n, stack);
  scheduler* expected = nullptr;
  if (!g_sched.compare_exchange_strong(expected, &s))
    throw error("canal::run: a runtime is already running in this process");
  g_report_unobserved.store(opts.report_unobserved_exceptions);
  install_overflow_handler();
  fences_init();

  add_ref(g);  // the running greenlet's reference
  s.admit(g);
  if (g->name_.empty()) g->name_.assign("main");
  s.main = g;
  s.live.store(1);
  s.workers[0]->ring.push(g);

  for (auto& w : s.workers) w->hub_.open();  // before any thread can wake() them

  std::size_t started = 1;
  try {
    for (; started < n; ++started) {
      worker* w = s.workers[started].get();
      w->thread = std::thread([w] { w->main_loop(); });
    }
  } catch (...) {
    // Could not start every thread: run with the ones we have.
    s.nworkers = started;
  }
  s.workers[0]->main_loop();
  for (std::size_t i = 1; i < started; ++i) s.workers[i]->thread.join();
  g_sched.store(nullptr, std::memory_order_release);
  for (auto& w : s.workers) w->hub_.close();
}

}  // namespace canal::detail
