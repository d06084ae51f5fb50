// scheduler.hpp: one running runtime: its workers, shared queues, counts and shutdown.
//
// At most one scheduler runs per process (g_sched). run() creates it on the caller's stack,
// makes the calling thread worker 0, starts the other workers, and tears everything down after
// the main greenlet ended and every other greenlet was cancelled and finished.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "canal/detail/spinlock.hpp"
#include "runtime/park.hpp"
#include "runtime/run_queue.hpp"
#include "runtime/stack.hpp"
#include "runtime/worker.hpp"

namespace canal::detail {

struct scheduler {
  scheduler(std::size_t nworkers, std::size_t stack_size);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  std::size_t nworkers;
  std::vector<std::unique_ptr<worker>> workers;
  stack_pool stacks;
  global_fifo overflow;  // FIFO overflow of the workers' rings
  inbox foreign;         // made runnable by foreign threads

  // Greenlets admitted and not yet finished = live + the sum of every worker's live_delta.
  // Greenlets spawned by greenlets and every finish count on their worker's own line
  // (live_delta, no cross-core read-modify-write per spawn); main and spawns from OS threads
  // count here. Admission (enter()) and stop agree through shutting_down: an admission counts
  // in first and then looks at shutting_down; after shutting_down every finisher, and every
  // worker about to sleep, sums the counts (maybe_stop()) and the one that sees zero calls
  // stop(). So a greenlet is either refused or counted before stop() can be decided.
  std::atomic<std::int64_t> live{0};
  std::int64_t total_live() const noexcept;
  void maybe_stop() noexcept;
  std::atomic<bool> shutting_down{false};  // main ended: cancel everything that parks
  std::atomic<bool> stopping{false};       // nothing is left: workers exit their loops
  greenlet* main = nullptr;
  std::atomic<std::uint64_t> next_id{1};

  // Idle workers sleeping in their hubs. nidle/nspinning are read without the lock by
  // wake_one()'s fast path (Dekker pairing with idle_sleep(): both sides fence seq_cst).
  spinlock idle_lock{lock_rank::idle};
  std::vector<worker*> idle;
  std::atomic<int> nidle{0};
  std::atomic<int> nspinning{0};
  std::atomic<int> nwatching{0};  // idle workers in a timed sleep, watching peers for a stall

  // wake_one() wakes a sleeping worker to look for work, unless one is already looking.
  void wake_one() noexcept;
  void maybe_wake() noexcept {
    light_fence();  // pairs with heavy_fence() in worker::idle_sleep()
    if (nidle.load(std::memory_order_relaxed) != 0) wake_one();
  }
  void begin_shutdown() noexcept;
  void greenlet_finished(worker* w) noexcept;  // w: the worker it finished on
  void stop() noexcept;
  // enter(): count a new greenlet in; false (and not counted) once main has returned.
  bool enter() noexcept {
    live.fetch_add(1, std::memory_order_seq_cst);
    if (!shutting_down.load(std::memory_order_seq_cst)) return true;
    live.fetch_sub(1, std::memory_order_seq_cst);
    maybe_stop();  // undo: this may have hidden the last finish
    return false;
  }

  // ---- sysmon: a thread that watches the workers while any of them is awake (Go's sysmon).
  // Every tick it looks for a worker that holds queued work or due timers but has not switched
  // since the last tick (it is stuck in one greenlet), marks it stalled (worker::stall_hint)
  // and wakes an idle worker, which then takes that work (runtime/DESIGN.md, "Stalled
  // workers"). It sleeps without a tick while every worker sleeps.
  void sysmon_main() noexcept;
  void sysmon_wake() noexcept;  // a worker left idle_sleep() while all of them slept
  std::thread sysmon;
  std::atomic<std::uint32_t> sysmon_word{0};  // futex: bumped by sysmon_wake() and stop()
  std::atomic<bool> sysmon_parked{false};     // sleeping without a tick
  // admit() gives a new greenlet its identity (id, parker owner) before it first runs.
  void admit(greenlet* g) noexcept {
    g->parker_.g = g;
    g->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  }
  void register_greenlet(greenlet* g, worker* w) noexcept;
  void unregister_greenlet(greenlet* g) noexcept;
};

extern std::atomic<scheduler*> g_sched;
extern std::atomic<bool> g_report_unobserved;

// foreign_entry: held by an OS thread that is not one of the runtime's workers while it uses
// the scheduler (spawn, waking a greenlet, kill). run() unpublishes g_sched after its workers
// stopped and then waits until no foreign_entry is open before destroying the scheduler, so a
// thread preempted between queueing a greenlet and ringing a doorbell never touches a dead
// scheduler. Never held across a blocking wait. (Dekker: entries count in, then read g_sched;
// run() clears g_sched, then reads the count; both seq_cst.)
extern std::atomic<std::int64_t> g_foreign_entries;
struct foreign_entry {
  foreign_entry() noexcept {
    g_foreign_entries.fetch_add(1, std::memory_order_seq_cst);
    sched = g_sched.load(std::memory_order_seq_cst);
  }
  ~foreign_entry() { g_foreign_entries.fetch_sub(1, std::memory_order_release); }
  foreign_entry(const foreign_entry&) = delete;
  foreign_entry& operator=(const foreign_entry&) = delete;
  scheduler* sched;
};

}  // namespace canal::detail
