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
#include <cstdint>
#include <cstring>
#include <limits>
#include <exception>
#include <string>
#include <thread>


#include "canal/errors.hpp"
#include "canal/run.hpp"
#include "runtime/park.hpp"
#include "runtime/race_hooks.hpp"

namespace canal::detail {

std::atomic<scheduler*> g_sched{nullptr};
std::atomic<bool> g_report_unobserved{true};
std::atomic<std::int64_t> g_foreign_entries{0};
std::atomic<race_hook> g_race_hook{nullptr};

namespace {

// sysmon ticks: short while a worker holds queued work or armed timers (a stall there delays
// somebody), long while the awake workers only run what they run.
constexpr std::int64_t sysmon_busy_tick_ns = 1'000'000;
constexpr std::int64_t sysmon_calm_tick_ns = 10'000'000;

}  // namespace

scheduler::scheduler(std::size_t n, std::size_t stack_size) : nworkers(n), stacks(stack_size) {
  workers.reserve(n);
  for (std::size_t i = 0; i < n; ++i) workers.push_back(std::make_unique<worker>(this, i, n));
  idle.reserve(n);
}

scheduler::~scheduler() = default;

void scheduler::wake_one() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (nidle.load(std::memory_order_seq_cst) == 0) return;
  if (nspinning.load(std::memory_order_seq_cst) != 0) return;
  worker* w = nullptr;
  bool was_all_idle = false;
  {
    std::lock_guard<spinlock> lk(idle_lock);
    if (idle.empty()) return;
    w = idle.back();
    idle.pop_back();
    w->in_idle_list = false;
    was_all_idle = nidle.fetch_sub(1, std::memory_order_seq_cst) == static_cast<int>(nworkers);
  }
  w->hub_.wake();
  if (was_all_idle) sysmon_wake();
}

void scheduler::stop() noexcept {
  stopping.store(true, std::memory_order_seq_cst);
  for (std::size_t i = 0; i < nworkers; ++i) workers[i]->hub_.wake();
  sysmon_wake();
}

std::int64_t scheduler::total_live() const noexcept {
  std::int64_t n = live.load(std::memory_order_seq_cst);
  for (const auto& w : workers) n += w->live_delta.load(std::memory_order_seq_cst);
  return n;
}

void scheduler::maybe_stop() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!stopping.load(std::memory_order_seq_cst) && total_live() == 0) stop();
}

void scheduler::greenlet_finished(worker* w) noexcept {
  w->count_live(-1);
  // Before shutdown nobody needs the total. After it, the finisher sums; a finisher that read
  // shutting_down stale is covered by worker::idle_sleep(), which sums after a full barrier
  // before any worker sleeps during shutdown.
  if (shutting_down.load(std::memory_order_seq_cst)) [[unlikely]] maybe_stop();
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

// ---------------------------------------------------------------- sysmon

void scheduler::sysmon_wake() noexcept {
  sysmon_word.fetch_add(1, std::memory_order_seq_cst);
  if (sysmon_parked.load(std::memory_order_seq_cst)) futex_wake(&sysmon_word, INT32_MAX);
}

void scheduler::sysmon_main() noexcept {
  const std::size_t n = nworkers;
  std::unique_ptr<std::uint32_t[]> last(new (std::nothrow) std::uint32_t[n]());
  if (!last) return;  // no memory for a watcher: stalls are then only seen by spinning workers
  std::int64_t tick = sysmon_calm_tick_ns;
  while (!stopping.load(std::memory_order_acquire)) {
    const std::uint32_t word = sysmon_word.load(std::memory_order_seq_cst);
    if (nidle.load(std::memory_order_seq_cst) >= static_cast<int>(n)) {
      // Everybody sleeps in a hub (their own timers wake them): no tick until one wakes up.
      sysmon_parked.store(true, std::memory_order_seq_cst);
      if (nidle.load(std::memory_order_seq_cst) >= static_cast<int>(n) &&
          !stopping.load(std::memory_order_seq_cst))
        futex_wait(&sysmon_word, word, nullptr);
      sysmon_parked.store(false, std::memory_order_relaxed);
      for (std::size_t i = 0; i < n; ++i)
        last[i] = workers[i]->switches.load(std::memory_order_relaxed) - 1;  // fresh look
      continue;
    }
    const timespec ts{0, static_cast<long>(tick)};
    futex_wait(&sysmon_word, word, &ts);
    if (stopping.load(std::memory_order_acquire)) break;
    const std::int64_t now = now_ns();
    bool any_work = false;
    for (std::size_t i = 0; i < n; ++i) {
      worker* v = workers[i].get();
      const std::uint32_t sw = v->switches.load(std::memory_order_relaxed);
      const bool holds = v->holds_work(now);
      any_work = any_work || holds;
      if (holds && sw == last[i] && !v->sleeping.load(std::memory_order_acquire)) {
        // Stuck in one greenlet for a whole tick while others wait behind it.
        v->stall_hint.store((std::uint64_t{1} << 32) | sw, std::memory_order_relaxed);
        wake_one();
      }
      last[i] = sw;
    }
    tick = any_work ? sysmon_busy_tick_ns : sysmon_calm_tick_ns;
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
  // until its context is saved before queueing it. ready() guards a foreign caller.
  wait_parked(g, epoch);
  ready(g, false);
}

namespace {
[[noreturn]] void refuse_after_main() {
  throw error(
      "canal::go: main has returned and the runtime is shutting down; new greenlets are "
      "refused (as a Go program ends when main does)");
}
}  // namespace

void spawn(greenlet* g) {
  if (worker* w = current_worker(); w && w->current) {
    // A greenlet of the running runtime: it is counted itself, so live cannot reach zero here.
    scheduler* s = w->sched;
    if (s->shutting_down.load(std::memory_order_acquire)) [[unlikely]] {
      if (std::uncaught_exceptions() == 0) refuse_after_main();
      // Spawned by a destructor while a cancellation unwinds: throwing would terminate. It is
      // admitted killed-before-start (it never runs; its callable is destroyed).
      g->cancel_.store(true, std::memory_order_relaxed);
    }
    w->count_live(1);
    s->admit(g);
    w->push_tail(g);
    return;
  }
  foreign_entry fe;
  scheduler* s = fe.sched;
  if (!s)
    throw error(
        "canal::go: no runtime is running (spawn greenlets inside canal::run(), or from a "
        "thread while run() is active)");
  if (!s->enter()) refuse_after_main();
  race_window(race_point::foreign_spawn_admitted);
  s->admit(g);
  s->foreign.push(g);
  s->wake_one();
}

void spawn_dispatch(greenlet* g) {
  worker* w = current_worker();
  if (!w || !w->current || w->sched->shutting_down.load(std::memory_order_acquire)) {
    spawn(g);
    return;
  }
  scheduler* s = w->sched;
  w->count_live(1);
  s->admit(g);
  w->dispatch_to(g);
}

namespace {

// env_number(): a CANAL_* variable as a whole number in [lo, hi]; 0 when unset or empty.
std::size_t env_number(const char* name, std::size_t lo, std::size_t hi) {
  const char* e = std::getenv(name);
  if (!e || !*e) return 0;
  auto bad = [&]() -> error {
    return error(std::string("canal::run: environment variable ") + name +
                 " must be a whole number from " + std::to_string(lo) + " to " +
                 std::to_string(hi) + ", got '" + e + "'");
  };
  std::size_t v = 0;
  for (const char* c = e; *c; ++c) {
    if (*c < '0' || *c > '9') throw bad();
    const std::size_t d = static_cast<std::size_t>(*c - '0');
    if (v > (std::numeric_limits<std::size_t>::max() - d) / 10) throw bad();
    v = v * 10 + d;
  }
  if (v < lo || v > hi) throw bad();
  return v;
}

constexpr std::size_t max_workers = 4096;
constexpr std::size_t min_stack = 16 * 1024;
constexpr std::size_t max_stack = std::size_t{1} << 32;
constexpr std::size_t default_stack = 256 * 1024;

}  // namespace

void run_main(greenlet* g, const options& opts) {
  if (current())
    throw error("canal::run: called from inside a greenlet (use canal::go to start more)");
  std::size_t n = opts.workers;
  if (n > max_workers)
    throw error("canal::run: options.workers must be at most " + std::to_string(max_workers) +
                ", got " + std::to_string(n));
  if (n == 0) n = env_number("CANAL_WORKERS", 1, max_workers);
  if (n == 0) n = std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  if (n > max_workers) n = max_workers;
  std::size_t stack = opts.stack_size;
  if (stack != 0 && (stack < min_stack || stack > max_stack))
    throw error("canal::run: options.stack_size must be from 16 KiB to 4 GiB, got " +
                std::to_string(stack));
  if (stack == 0) stack = env_number("CANAL_STACK_SIZE", min_stack, max_stack);
  if (stack == 0) stack = default_stack;
  if (g_sched.load(std::memory_order_acquire))
    throw error("canal::run: a runtime is already running in this process");

  // Everything that may fail happens before the scheduler is published: a failed run() leaves
  // no global behind, and the next run() starts afresh.
  scheduler s(n, stack);
  for (auto& w : s.workers) w->hub_.open();  // closed again by ~hub if a later one throws
  install_overflow_handler();
  fences_init();
  if (g->name_.empty()) g->name_.assign("main");
  g_report_unobserved.store(opts.report_unobserved_exceptions);
  s.live.store(1, std::memory_order_relaxed);  // main; foreign spawns count on top of it
  s.main = g;
  scheduler* expected = nullptr;
  if (!g_sched.compare_exchange_strong(expected, &s, std::memory_order_seq_cst))
    throw error("canal::run: a runtime is already running in this process");

  add_ref(g);  // the running greenlet's reference
  s.admit(g);
  s.workers[0]->ring.push(g);

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
  if (s.nworkers > 1) {
    try {
      s.sysmon = std::thread([&s] { s.sysmon_main(); });
    } catch (...) {
      // No watcher: a stalled worker's queued work is then only taken by spinning workers.
    }
  }
  s.workers[0]->main_loop();
  for (std::size_t i = 1; i < started; ++i) s.workers[i]->thread.join();
  if (s.sysmon.joinable()) {
    s.sysmon_wake();
    s.sysmon.join();
  }
  // Unpublish, then wait for foreign threads still inside an entry point (foreign_entry).
  g_sched.store(nullptr, std::memory_order_seq_cst);
  while (g_foreign_entries.load(std::memory_order_seq_cst) != 0) spin_yield();
  for (auto& w : s.workers) w->hub_.close();
}

}  // namespace canal::detail
