// worker.hpp: one worker OS thread: its run queues, timers, stack cache, hub, and the switch
// logic that moves between greenlets and its scheduler loop.
//
// Lock order: canal/detail/lock_rank.hpp (checked in DCHECK builds). A greenlet may hold
// channel or join locks across its switch-out; they are released by the next context on the
// same thread in run_pending(), never by another thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "canal/detail/greenlet.hpp"
#include "canal/detail/spinlock.hpp"
#include "runtime/hub.hpp"
#include "runtime/run_queue.hpp"
#include "runtime/stack.hpp"
#include "runtime/timer_heap.hpp"

namespace canal::detail {

struct scheduler;

// What the context we land in must do for the one we left (see on_landing()).
enum class action_kind : std::uint8_t {
  none,   // nothing (the scheduler loop resumed a greenlet)
  park,   // release locks, then publish "parked" (or requeue if a wake-up came early)
  yield,  // put the greenlet back at the tail of the run queue
  exit,   // the greenlet finished: recycle its stack, drop the runtime's reference
  dispatch,  // the greenlet handed its worker to a new one: onto the dispatch stack
};

struct switch_action {
  action_kind kind = action_kind::none;
  exec_context* save = nullptr;  // where to store the context we just left
  greenlet* from = nullptr;
  spinlock* const* locks = nullptr;
  std::size_t nlocks = 0;
};

struct worker {
  worker(scheduler* s, std::size_t index, std::size_t nworkers);

  // ---- owner thread only
  scheduler* sched;
  std::size_t index;
  exec_context sched_ec;        // the scheduler loop's context (this thread's own stack)
  greenlet* current = nullptr;  // the greenlet running on this worker (nullptr: the loop)
  switch_action pending;        // post-switch action, set right before a switch
  greenlet* doomed = nullptr;   // killed before they started, found mid-switch: finished later
  std::uint32_t runnext_streak = 0;
  std::uint32_t dstack_wait = 0;  // local picks that passed over a non-empty dispatch stack
  std::uint32_t tick = 0;
  std::uint64_t rng;
  stack_cache stacks;
  hub hub_;
  struct eh_globals* eh = nullptr;  // this thread's C++ exception globals

  // ---- shared
  // Woken by a greenlet on this worker: runs next (Go's runnext). The owner stores it; the
  // owner, or a thief when this worker is stalled, takes it with a CAS (runtime/DESIGN.md,
  // "Stalled workers").
  std::atomic<greenlet*> runnext{nullptr};
  // The runnext handshake, asymmetric so the owner pays no read-modify-write per hand-off: the
  // owner marks runnext_busy around each update and settles by CAS only if a thief announced
  // itself; a thief announces itself, runs heavy_fence(), and takes runnext only if the owner
  // is not inside an update (steal_runnext()).
  std::atomic<bool> runnext_busy{false};
  std::atomic<bool> runnext_thief{false};
  // Woken by timers this worker fired, in firing order: they run before the ring (a backlog of
  // spawns must not delay them). Owner pushes/pops; thieves take half when this worker stalls.
  local_ring woken;
  // Owner only: fired wake-ups that did not fit in `woken` (a burst of more than 256 timers),
  // in firing order, behind it. They refill `woken` as it drains, so every timer wake-up still
  // runs before the ring's backlog (a spill onto the ring's tail put them behind it: p99 timer
  // overshoot 3 -> 150 ms at 100,000 sleepers).
  greenlet* woken_spill_head = nullptr;
  greenlet* woken_spill_tail = nullptr;
  greenlet* pop_woken() noexcept;
  local_ring ring;      // owner pushes/pops, thieves steal
  dispatch_stack dstack;  // suspended launch::dispatch spawners: owner LIFO, thieves oldest
  timer_heap timers;    // owner adds and fires, anyone cancels
  spinlock reg_lock{lock_rank::registry};  // guards the registry list below
  greenlet* reg_head = nullptr;
  bool in_idle_list = false;  // guarded by scheduler::idle_lock
  // Bumped by the owner at every switch to a greenlet; a thief that sees it unchanged for
  // stall_ns while this worker's queues hold work takes that work (see steal()).
  // Greenlets spawned by this worker's greenlets minus greenlets finished on this worker
  // (scheduler::live explains the sum). Written by the owner only, read by whoever sums.
  alignas(64) std::atomic<std::int64_t> live_delta{0};
  void count_live(std::int64_t d) noexcept {
    live_delta.store(live_delta.load(std::memory_order_relaxed) + d, std::memory_order_release);
  }
  alignas(64) std::atomic<std::uint32_t> switches{0};
  std::uint32_t switch_count = 0;  // owner's copy
  // Written by the sysmon thread: (1 << 32 | switches) when it saw this worker hold work
  // without switching for a whole tick. A thief that still reads that switch count may take
  // the worker's runnext, woken greenlets and due timers at once.
  std::atomic<std::uint64_t> stall_hint{0};
  std::atomic<bool> sleeping{false};  // in idle_sleep(): not stalled, its hub fires its timers
  // Yielded greenlets waiting in this ring = yields_in - yields_out - yields_taken: the owner
  // writes the first two, whoever later runs one it stole adds to the third.
  std::atomic<std::uint32_t> yields_in{0};
  std::atomic<std::uint32_t> yields_out{0};
  std::atomic<std::uint32_t> yields_taken{0};
  // holds_work(): greenlets queued here (in any queue) or a timer due by `now`: what a stalled
  // worker makes wait.
  bool holds_work(std::int64_t now) const noexcept {
    return runnext.load(std::memory_order_relaxed) != nullptr || woken.size() != 0 ||
           ring.size() != 0 || dstack.size() != 0 || timers.earliest() <= now;
  }
  bool holds_yielded() const noexcept {
    const std::uint32_t in = yields_in.load(std::memory_order_relaxed);
    const std::uint32_t out = yields_out.load(std::memory_order_relaxed) +
                              yields_taken.load(std::memory_order_relaxed);
    return static_cast<std::int32_t>(in - out) > 0;
  }
  struct peer_seen {
    std::uint32_t switches = 0;
    std::int64_t since = 0;  // when this thief first saw that value (0: never looked)
  };
  std::unique_ptr<peer_seen[]> seen;  // per peer, this worker as a thief
  std::thread thread;

  void main_loop();

  // switch_out() suspends the current greenlet with the given post-switch action and runs the
  // next runnable one (or the scheduler loop). Returns when the greenlet is resumed.
  void switch_out(action_kind k, spinlock* const* locks, std::size_t nlocks) noexcept;
  // exit_current() leaves the finished current greenlet for good.
  [[noreturn]] void exit_current(greenlet* g) noexcept;
  // dispatch_to() runs the new greenlet g now; the current one continues after it suspends.
  void dispatch_to(greenlet* g) noexcept;

  bool push_tail(greenlet* g) noexcept;  // true: into the ring (false: the overflow)
  void yielded(greenlet* g) noexcept;
  void unmark_yield(greenlet* g) noexcept;
  void push_next(greenlet* g) noexcept;
  void push_woken(greenlet* g) noexcept;
  void run_pending() noexcept;
  // doomed_before_start(): g was killed (or the runtime began shutting down) before it ran.
  bool doomed_before_start(const greenlet* g) const noexcept;

 private:
  greenlet* pick_local(bool may_finish) noexcept;
  void finish_doomed() noexcept;
  greenlet* take_global() noexcept;
  greenlet* steal() noexcept;
  greenlet* find_work() noexcept;
  greenlet* filter(greenlet* g) noexcept;  // finishes killed-before-start greenlets
  void prepare(greenlet* g);
  void resume(greenlet* g) noexcept;
  void retire(greenlet* g) noexcept;
  void idle_sleep() noexcept;
  bool work_visible() const noexcept;
  bool peers_hold_work() const noexcept;
  bool stalled(const worker* v) noexcept;
  greenlet* take_from_stalled(worker* v) noexcept;
  void note_switch() noexcept { switches.store(++switch_count, std::memory_order_relaxed); }
  greenlet* take_runnext() noexcept;      // owner
  greenlet* steal_runnext(worker* v) noexcept;  // a thief, from stalled worker v
  void wake_for(std::size_t queued) noexcept;
  void hand_on_watch() noexcept;
};

// current_worker() is this thread's worker, nullptr on a foreign thread. Not inlined, so a
// greenlet that migrated reads the new thread's value after a switch.
worker* current_worker() noexcept;
greenlet* running_greenlet_for_signal() noexcept;

// ready() makes a parked greenlet runnable. next: run it right after the current one on this
// worker (channel hand-offs); otherwise at the tail (timers, broadcasts).
void ready(greenlet* g, bool next) noexcept;
// ready_timer() queues a greenlet woken by the current worker's timer heap.
void ready_timer(greenlet* g) noexcept;

// set_life(): every change of a greenlet's life-cycle state goes through here and checks the
// state it leaves (marl's changeFiberState): created -> started -> done, nothing else.
inline void set_life(greenlet* g, life from, life to) noexcept {
  CANAL_DCHECK(g->life_ == from, "greenlet life-cycle: unexpected state before a transition");
  CANAL_DCHECK((from == life::created && to == life::started) ||
                   (from == life::started && to == life::done) ||
                   (from == life::created && to == life::done),
               "greenlet life-cycle: only created->started->done (or created->done unrun)");
  (void)from;
  g->life_ = to;
}

// drop_outcome() destroys the result and exception of a finished greenlet that no handle can
// observe (on its own stack); report_unobserved() prints an exception nobody looked at.
void drop_outcome(greenlet* g) noexcept;
void report_unobserved(greenlet* g) noexcept;

// finish() records that g has finished (done flag, joiners woken); shared by normal ends and
// greenlets killed before they started.
void finish(greenlet* g) noexcept;

}  // namespace canal::detail
