// scheduler.hpp: one running runtime: its workers, shared queues, counts and shutdown.
//
// At most one scheduler runs per process (g_sched). run() creates it on the caller's stack,
// makes the calling thread worker 0, starts the other workers, and tears everything down after
// the main greenlet ended and every other greenlet was cancelled and finished.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "canal/detail/spinlock.hpp"
#include "runtime/run_queue.hpp"
#include "runtime/stack.hpp"
#include "runtime/worker.hpp"

namespace canal::detail {

struct scheduler {
  scheduler(std::size_t nworkers, std::size_t stack_size);
  ~scheduler();

  std::size_t nworkers;
  std::vector<std::unique_ptr<worker>> workers;
  stack_pool stacks;
  global_fifo overflow;  // FIFO overflow of the workers' rings
  inbox foreign;         // made runnable by foreign threads

  std::atomic<std::int64_t> live{0};  // greenlets spawned and not yet finished
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
    if (nidle.load(std::memory_order_relaxed) != 0) wake_one();
  }
  void begin_shutdown() noexcept;
  void greenlet_finished() noexcept;
  void stop() noexcept;

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

}  // namespace canal::detail
