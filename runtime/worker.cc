// worker.cc: the worker loop, the switch path between greenlets, and park/ready.
//
// Invariants:
//   - a greenlet runs on at most one worker at a time; its exec_context is valid exactly while
//     it is switched out (saved by on_landing() before anything can make it runnable).
//   - pending is written right before a switch and consumed by on_landing() on the same thread.
//   - only the owner stores into runnext and pushes into woken and the ring; others take from
//     them only when this worker is stalled (runnext by CAS; woken and ring are SPMC rings).
//   - only the owner touches the stack cache and runs the hub's loop; run() opens and closes
//     the hub on its own thread, and any thread may ring its doorbell (hub::wake()).
//   - ready() is only called for a greenlet that is switched out: every claimant either holds a
//     lock the parker releases after its switch, is the parker's own worker (timers), or waits
//     for parked_epoch_ (kill(), timers fired by another worker: wait_parked()).
#include "runtime/worker.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "canal/errors.hpp"

#include "runtime/greenlet.hpp"
#include "runtime/park.hpp"
#include "runtime/race_hooks.hpp"
#include "runtime/scheduler.hpp"

namespace canal::detail {

namespace {
thread_local worker* t_worker = nullptr;
constexpr std::uint32_t runnext_limit = 61;  // consecutive runnext picks before the ring's turn
constexpr std::uint32_t loop_every = 64;     // direct switches before a pass through the loop
constexpr int spin_rounds = 48;              // idle search rounds before sleeping (~30 µs)
// Affinity: a thief takes a peer's queued work only when there is a backlog (steal_backlog or
// more greenlets queued) or the peer has not switched for stall_ns (it is stuck in one
// greenlet). A peer that keeps switching serves its few queued greenlets itself within
// microseconds, and greenlets that talk over channels stay on one worker with warm caches
// instead of crossing cores on every message (select_fanin at 2 workers: ~450 -> ~245 ns per
// item, interleaved A/B).
// Greenlets that yielded (CPU work that stays runnable) are always fair game.
constexpr std::uint32_t steal_backlog = 4;
constexpr std::int64_t stall_ns = 50'000;
// An idle worker whose peers hold a few queued greenlets sleeps at most this long before it
// looks for a stall again. (The sysmon thread, scheduler.cc, watches for stalls too, at a
// coarser tick, and also for work no thief takes from a busy worker: runnext, woken, timers.)
constexpr std::int64_t watch_ns = 500'000;
}  // namespace

__attribute__((noinline)) worker* current_worker() noexcept {
  asm volatile("" ::: "memory");
  return t_worker;
}

greenlet* running_greenlet_for_signal() noexcept {
  worker* w = t_worker;
  return w ? w->current : nullptr;
}

greenlet* current() noexcept {
  worker* w = current_worker();
  return w ? w->current : nullptr;
}

worker::worker(scheduler* s, std::size_t i, std::size_t nworkers)
    : sched(s),
      index(i),
      rng(0x9E3779B97F4A7C15ull * (i + 1)),
      seen(std::make_unique<peer_seen[]>(nworkers)) {}

// ---------------------------------------------------------------- landing and actions

eh_globals* worker_eh(worker* w) noexcept { return w->eh; }

void on_landing(void* from_ctx, worker* w) noexcept {
  if (w->pending.save) w->pending.save->ctx = from_ctx;
  w->run_pending();
}

void worker::run_pending() noexcept {
  const switch_action a = pending;
  pending = switch_action{};
  switch (a.kind) {
    case action_kind::none:
      break;
    case action_kind::park: {
      // Publish "switched out" before releasing the locks: once they are released the greenlet
      // may be woken, resumed elsewhere and start its next wait.
      a.from->parked_epoch_.store(
          static_cast<std::uint32_t>(a.from->parker_.word.load(std::memory_order_relaxed) >> 32),
          std::memory_order_release);
      for (std::size_t i = 0; i < a.nlocks; ++i) a.locks[i]->unlock();
#if CANAL_DCHECK_IS_ON
      // The park's locks were the only ones carried across the switch.
      CANAL_DCHECK(lock_order_depth() == 0, "a lock other than the park's was held across a switch");
#endif
      break;
    }
    case action_kind::yield:
      yielded(a.from);
      break;
    case action_kind::dispatch:
      // The spawner waits on this worker's dispatch stack; an idle worker may take it.
      dstack.push(a.from);
      wake_for(dstack.size());
      break;
    case action_kind::exit:
      retire(a.from);
      break;
  }
  if (doomed) [[unlikely]] finish_doomed();
}

// ---------------------------------------------------------------- queues

bool worker::push_tail(greenlet* g) noexcept {
  CANAL_DCHECK(g != current, "push_tail: the running greenlet cannot be queued");
  CANAL_DCHECK(g->life_ != life::done, "push_tail: a finished greenlet cannot be queued");
  if (sched->overflow.size() != 0 || !ring.push(g)) {
    sched->overflow.push(g);
    sched->maybe_wake();
    return false;
  }
  wake_for(ring.size());
  return true;
}

// yielded(): g gave up its worker but stays runnable: CPU work. Mark it before it is visible in
// the ring (thieves read the counters), so an idle worker may take it at once.
void worker::yielded(greenlet* g) noexcept {
  if (index < 255 && sched->overflow.size() == 0) {
    g->yield_home_ = static_cast<std::uint8_t>(index + 1);
    yields_in.store(yields_in.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (ring.push(g)) {
      sched->maybe_wake();
      return;
    }
    yields_in.store(yields_in.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    g->yield_home_ = 0;
  }
  push_tail(g);
}

// unmark_yield(): a yielded greenlet leaves the ring it was yielded into (run by its owner, or
// by a thief that took it).
void worker::unmark_yield(greenlet* g) noexcept {
  const std::size_t home = g->yield_home_ - 1u;
  g->yield_home_ = 0;
  if (home == index)
    yields_out.store(yields_out.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  else if (home < sched->workers.size())
    sched->workers[home]->yields_taken.fetch_add(1, std::memory_order_relaxed);
}

// wake_for(): this worker queued work and now holds `queued` greenlets in that queue. Wake an
// idle worker if they would be stolen at once (a backlog), or if no idle worker is watching
// for a stall yet; a watcher needs no doorbell (it looks again within watch_ns).
void worker::wake_for(std::size_t queued) noexcept {
  light_fence();  // pairs with heavy_fence() in idle_sleep(): see "Stealing and idle workers"
  if (sched->nidle.load(std::memory_order_relaxed) == 0) return;
  if (queued >= steal_backlog || sched->nwatching.load(std::memory_order_relaxed) == 0)
    sched->wake_one();
}

// push_next() / take_runnext(): the owner's side of the runnext handshake (worker.hpp). Inside
// runnext_busy the owner reads and writes runnext plainly unless a thief announced itself; then
// it settles with a CAS, since that thief may CAS a non-null runnext to null.
void worker::push_next(greenlet* g) noexcept {
  CANAL_DCHECK(g != current, "push_next: the running greenlet cannot be queued");
  CANAL_DCHECK(g->life_ != life::done, "push_next: a finished greenlet cannot be queued");
  greenlet* old;
  runnext_busy.store(true, std::memory_order_relaxed);
  light_fence();  // pairs with heavy_fence() in steal_runnext()
  if (!runnext_thief.load(std::memory_order_acquire)) [[likely]] {
    old = runnext.load(std::memory_order_relaxed);
    runnext.store(g, std::memory_order_release);
  } else {
    old = runnext.load(std::memory_order_relaxed);
    if (!old || !runnext.compare_exchange_strong(old, g, std::memory_order_acq_rel,
                                                 std::memory_order_relaxed)) {
      old = nullptr;  // empty, or the thief took it: g goes in alone
      runnext.store(g, std::memory_order_release);
    }
  }
  runnext_busy.store(false, std::memory_order_release);
  if (old) push_tail(old);
}

greenlet* worker::take_runnext() noexcept {
  greenlet* g = runnext.load(std::memory_order_relaxed);
  if (!g) return nullptr;
  runnext_busy.store(true, std::memory_order_relaxed);
  light_fence();  // pairs with heavy_fence() in steal_runnext()
  if (!runnext_thief.load(std::memory_order_acquire)) [[likely]] {
    // Re-read inside the section: a thief that finished before it began may have taken g.
    g = runnext.load(std::memory_order_acquire);
    runnext.store(nullptr, std::memory_order_relaxed);
  } else if (!runnext.compare_exchange_strong(g, nullptr, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
    g = nullptr;  // the thief took it
  }
  runnext_busy.store(false, std::memory_order_release);
  return g;
}

// steal_runnext(): a thief's side. After heavy_fence() the owner either is visibly inside an
// update (back off: it is not stalled after all) or will see runnext_thief and use the CAS.
greenlet* worker::steal_runnext(worker* v) noexcept {
  if (!v->runnext.load(std::memory_order_relaxed)) return nullptr;
  if (v->runnext_thief.exchange(true, std::memory_order_acquire)) return nullptr;  // one thief
  heavy_fence();
  greenlet* g = nullptr;
  if (!v->runnext_busy.load(std::memory_order_acquire)) {
    g = v->runnext.load(std::memory_order_acquire);
    if (g && !v->runnext.compare_exchange_strong(g, nullptr, std::memory_order_acq_rel,
                                                 std::memory_order_relaxed))
      g = nullptr;
  }
  v->runnext_thief.store(false, std::memory_order_release);
  return g;
}

bool worker::doomed_before_start(const greenlet* g) const noexcept {
  return g->life_ == life::created && (g->cancel_.load(std::memory_order_acquire) ||
                                       (sched->shutting_down.load(std::memory_order_relaxed) &&
                                        g != sched->main));
}

void worker::push_woken(greenlet* g) noexcept {
  if (!woken_spill_head && woken.push(g)) return;
  g->next_ = nullptr;  // keep firing order: once spilling, everything goes behind the spill
  if (woken_spill_tail) woken_spill_tail->next_ = g; else woken_spill_head = g;
  woken_spill_tail = g;
}

greenlet* worker::pop_woken() noexcept {
  if (greenlet* g = woken.pop()) return g;
  if (!woken_spill_head) return nullptr;
  // The ring is empty (thieves may have taken some): refill it from the spill, oldest first.
  greenlet* first = woken_spill_head;
  woken_spill_head = first->next_;
  while (woken_spill_head && woken.push(woken_spill_head)) woken_spill_head = woken_spill_head->next_;
  if (!woken_spill_head) woken_spill_tail = nullptr;
  return first;
}

greenlet* worker::filter(greenlet* g) noexcept {
  if (g && g->trivial_discard_ && doomed_before_start(g)) [[unlikely]] {
    // Killed before it ever ran, and destroying its callable runs no user code: it never
    // starts (no stack is assigned). Others run once, only to destroy their callable on their
    // own stack (greenlet_main), since those destructors may block.
    g->discard();
    g->error_ = std::make_exception_ptr(cancelled{});
    set_life(g, life::created, life::done);
    finish(g);
    sched->unregister_greenlet(g);
    sched->greenlet_finished(this);
    release(g);
    return nullptr;
  }
  return g;
}

void worker::finish_doomed() noexcept {
  while (greenlet* g = doomed) {
    doomed = g->next_;
    filter(g);
  }
}

// pick_local(may_finish = false) is used in the middle of a switch, when the parking greenlet
// may still hold locks that finishing a killed greenlet would need (its join lock, say): such
// greenlets are set aside on `doomed` and finished by run_pending() after the locks are gone.
greenlet* worker::pick_local(bool may_finish) noexcept {
  for (;;) {
    greenlet* g = nullptr;
    if (runnext_streak < runnext_limit && (g = take_runnext())) {
      ++runnext_streak;
    } else {
      runnext_streak = 0;
      // Suspended dispatch spawners run once the queues are empty, but a busy ring must not
      // starve them: every runnext_limit-th pick that passes them over takes one first.
      if (dstack.size() != 0 && ++dstack_wait >= runnext_limit) {
        dstack_wait = 0;
        g = dstack.pop_top();
      }
      if (!g) g = pop_woken();
      if (!g) g = ring.pop();
      if (!g) g = sched->overflow.pop_into(ring, local_ring::capacity / 2);
      if (!g && (g = dstack.pop_top())) dstack_wait = 0;
      if (!g) g = take_runnext();
      if (!g) return nullptr;
    }
    if (g->yield_home_) unmark_yield(g);
    if (g->trivial_discard_ && doomed_before_start(g)) [[unlikely]] {
      if (may_finish) {
        filter(g);
      } else {
        g->next_ = doomed;
        doomed = g;
      }
      continue;
    }
    return g;
  }
}

greenlet* worker::take_global() noexcept {
  for (;;) {
    greenlet* g = sched->overflow.pop_into(ring, local_ring::capacity / 2);
    if (!g) g = sched->foreign.pop_one();
    if (!g) return nullptr;
    if ((g = filter(g))) return g;
  }
}

greenlet* worker::steal() noexcept {
  const std::size_t n = sched->nworkers;
  if (n < 2) return nullptr;
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  const std::size_t start = rng % n;
  for (std::size_t k = 0; k < n; ++k) {
    worker* v = sched->workers[(start + k) % n].get();
    if (v == this) continue;
    const std::uint32_t queued = v->ring.size();
    const std::size_t stacked = v->dstack.size();
    if (queued < steal_backlog && stacked < steal_backlog && !v->holds_yielded()) {
      // No backlog: only a stalled worker's work is taken (its ring, and also what no thief
      // takes from a worker that keeps switching: runnext, woken greenlets, due timers).
      if (!v->holds_work(now_ns()) || v->sleeping.load(std::memory_order_acquire) || !stalled(v))
        continue;
      if (greenlet* g = take_from_stalled(v)) return g;
    }
    if (queued != 0 && v->ring.steal_into(ring)) {
      // What we stole is ours now; filter() may finish some (killed before they started) and
      // wake their joiners onto our ring too, so take whatever our ring holds.
      if (greenlet* g = pick_local(true)) return g;
    }
    // Then the victim's oldest suspended dispatch spawner (it has started: nothing to filter).
    if (greenlet* g = v->dstack.steal_bottom()) return g;
  }
  return nullptr;
}

// take_from_stalled(): v has not switched for a while and holds work: fire its due timers here
// (the woken greenlets join our woken queue), take its woken greenlets and its runnext (Go's
// findrunnable runs other Ps' timers and steals runnext from a P that runs too long). Its ring
// and dispatch stack are taken by the caller.
greenlet* worker::take_from_stalled(worker* v) noexcept {
  const std::int64_t now = now_ns();
  if (v->timers.earliest() <= now) v->timers.fire_due(now, /*by_owner=*/false);
  if (v->woken.size() != 0) v->woken.steal_into(woken);
  if (greenlet* g = steal_runnext(v)) push_tail(g);
  return pick_local(true);
}

bool worker::stalled(const worker* v) noexcept {
  peer_seen& s = seen[v->index];
  const std::uint32_t sw = v->switches.load(std::memory_order_relaxed);
  if (v->stall_hint.load(std::memory_order_relaxed) == ((std::uint64_t{1} << 32) | sw))
    return true;  // the sysmon thread saw it stuck for a whole tick
  const std::int64_t now = now_ns();
  if (s.since == 0 || sw != s.switches) {
    s.switches = sw;
    s.since = now;
    return false;
  }
  return now - s.since >= stall_ns;
}

bool worker::peers_hold_work() const noexcept {
  for (auto& v : sched->workers)
    if (v.get() != this && (v->ring.size() != 0 || v->dstack.size() != 0)) return true;
  return false;
}

bool worker::work_visible() const noexcept {
  if (sched->stopping.load(std::memory_order_acquire)) return true;
  if (runnext.load(std::memory_order_relaxed) || doomed || woken.size() != 0 || woken_spill_head ||
      ring.size() != 0 || dstack.size() != 0)
    return true;  // our own (finishing work may add)
  if (sched->overflow.size() || sched->foreign.size()) return true;
  for (auto& v : sched->workers)
    if (v.get() != this && (v->ring.size() >= steal_backlog ||
                            v->dstack.size() >= steal_backlog || v->holds_yielded()))
      return true;
  return false;
}

greenlet* worker::find_work() noexcept {
  bool searched = false;  // we spun or slept: hand the watch on if we leave with work (below)
  auto found = [&](greenlet* g) {
    if (searched) hand_on_watch();
    return g;
  };
  for (;;) {
    ++tick;
    if (!timers.empty()) {
      const std::int64_t now = now_ns();
      if (timers.earliest() <= now) timers.fire_due(now);
    }
    if (tick % runnext_limit == 0) {
      if (greenlet* g = take_global()) return found(g);
    }
    if (greenlet* g = pick_local(true)) return found(g);
    if (greenlet* g = take_global()) return found(g);
    if (sched->stopping.load(std::memory_order_acquire)) return nullptr;

    // Spin a little looking for work before sleeping: waking a sleeping thread costs
    // 10-40 µs on this kind of machine, a few rounds of polling far less.
    searched = true;
    if (sched->nworkers > 1) {
      sched->nspinning.fetch_add(1, std::memory_order_seq_cst);
      greenlet* g = nullptr;
      // While peers hold a few queued greenlets, spin long enough to see a stall (stall_ns)
      // rather than sleeping and finding it only when the watch times out.
      const std::int64_t watch_until = peers_hold_work() ? now_ns() + stall_ns + stall_ns / 4 : 0;
      for (int round = 0; (round < spin_rounds || (watch_until && now_ns() < watch_until)) && !g;
           ++round) {
        if ((g = pick_local(true)) || (g = take_global()) || (g = steal())) break;
        if (!timers.empty() && timers.earliest() <= now_ns()) break;
        if (sched->stopping.load(std::memory_order_acquire)) break;
        for (int i = 0; i < 32; ++i) CANAL_CPU_RELAX();
      }
      sched->nspinning.fetch_sub(1, std::memory_order_seq_cst);
      if (g) return found(g);
      if (!timers.empty() && timers.earliest() <= now_ns()) continue;
    }
    idle_sleep();
  }
}

// hand_on_watch(): an idle worker leaves with work. If queued work is left anywhere (our ring
// after a steal, or peers' queues) and no idle worker is watching for it, wake one: a worker
// that went to sleep while that work was in transit, or before it was queued, would otherwise
// sleep through it (Go's "the last spinning M to find work wakes another").
void worker::hand_on_watch() noexcept {
  if (sched->nidle.load(std::memory_order_seq_cst) == 0) return;
  if (sched->nwatching.load(std::memory_order_seq_cst) != 0) return;
  if (ring.size() != 0 || dstack.size() != 0 || peers_hold_work()) sched->wake_one();
}

void worker::idle_sleep() noexcept {
  {
    std::lock_guard<spinlock> lk(sched->idle_lock);
    sched->idle.push_back(this);
    in_idle_list = true;
    sched->nidle.fetch_add(1, std::memory_order_seq_cst);
  }
  // Dekker pairing with the pushers' light_fence() (wake_for/maybe_wake): they publish work,
  // then read nidle; we published nidle, and this fence makes them see it or us see the work.
  heavy_fence();
  // During shutdown the worker about to sleep sums the live counts after the full barrier: a
  // finisher that read shutting_down stale did not, and somebody must see the zero.
  if (sched->shutting_down.load(std::memory_order_seq_cst)) sched->maybe_stop();
  if (!work_visible()) {
    std::int64_t deadline = timers.earliest();
    // Peers hold a few queued greenlets that are not stealable yet: watch for a stall.
    const bool watch = peers_hold_work();
    if (watch) {
      sched->nwatching.fetch_add(1, std::memory_order_seq_cst);
      const std::int64_t limit = now_ns() + watch_ns;
      if (limit < deadline) deadline = limit;
    }
    sleeping.store(true, std::memory_order_release);
    hub_.sleep(deadline);
    sleeping.store(false, std::memory_order_release);
    if (watch) sched->nwatching.fetch_sub(1, std::memory_order_seq_cst);
  }
  bool was_all_idle = false;
  {
    std::lock_guard<spinlock> lk(sched->idle_lock);
    if (in_idle_list) {
      for (auto it = sched->idle.begin(); it != sched->idle.end(); ++it) {
        if (*it == this) {
          sched->idle.erase(it);
          break;
        }
      }
      in_idle_list = false;
      was_all_idle = sched->nidle.fetch_sub(1, std::memory_order_seq_cst) ==
                     static_cast<int>(sched->nworkers);
    }
  }
  // Every worker slept, so the sysmon thread sleeps without a tick: it watches again now.
  if (was_all_idle) sched->sysmon_wake();
}

// ---------------------------------------------------------------- switching

void worker::prepare(greenlet* g) {
  if (!g->ec_.ctx) {
    stack_block* b = stacks.get(sched->stacks);
    g->stack_ = b;
    context_make(&g->ec_, b->lo, b->usable);
  }
}

void worker::resume(greenlet* g) noexcept {
  CANAL_DCHECK(current == nullptr, "resume: only from the scheduler loop");
  CANAL_DCHECK(g->life_ != life::done, "resume: a finished greenlet");
  try {
    prepare(g);
  } catch (...) {
    std::fprintf(stderr, "canal: out of memory for a greenlet stack; aborting\n");
    std::abort();
  }
  current = g;
  note_switch();
  pending = switch_action{action_kind::none, &sched_ec, nullptr, nullptr, 0};
  context_switch(&sched_ec, &g->ec_, this);
}

void worker::switch_out(action_kind k, spinlock* const* locks, std::size_t nlocks) noexcept {
  greenlet* g = current;
  greenlet* next = (++tick % loop_every) != 0 ? pick_local(false) : nullptr;
  if (next) {
    try {
      prepare(next);
    } catch (...) {
      push_tail(next);  // no stack now: let the loop retry it
      next = nullptr;
    }
  }
  pending = switch_action{k, &g->ec_, g, locks, nlocks};
  exec_context* to;
  if (next) {
    current = next;
    note_switch();
    to = &next->ec_;
  } else {
    current = nullptr;
    to = &sched_ec;
  }
  context_switch(&g->ec_, to, this);
}

void worker::dispatch_to(greenlet* g) noexcept {
  greenlet* me = current;
  try {
    prepare(g);
  } catch (...) {
    push_tail(g);  // no stack now: run it later
    return;
  }
  pending = switch_action{action_kind::dispatch, &me->ec_, me, nullptr, 0};
  current = g;
  note_switch();
  context_switch(&me->ec_, &g->ec_, this);
}

void worker::exit_current(greenlet* g) noexcept {
  greenlet* next = pick_local(false);
  if (next) {
    try {
      prepare(next);
    } catch (...) {
      push_tail(next);
      next = nullptr;
    }
  }
  pending = switch_action{action_kind::exit, nullptr, g, nullptr, 0};
  exec_context* to;
  if (next) {
    current = next;
    note_switch();
    to = &next->ec_;
  } else {
    current = nullptr;
    to = &sched_ec;
  }
  context_exit(to, this);
}

void worker::retire(greenlet* g) noexcept {
  CANAL_DCHECK(g->life_ == life::done && g != current, "retire: a finished greenlet, switched away");
  auto* b = static_cast<stack_block*>(g->stack_);
  g->stack_ = nullptr;
  context_release(&g->ec_);
  if (b) stacks.put(sched->stacks, b);
  sched->unregister_greenlet(g);
  sched->greenlet_finished(this);
  release(g);
}

[[noreturn]] void greenlet_main() noexcept {
  worker* w = current_worker();
  greenlet* g = w->current;
  const bool doomed = w->doomed_before_start(g);
  set_life(g, life::created, life::started);
  if (doomed) [[unlikely]] {
    // Killed before it started: never runs the callable, but destroys it below, on its own
    // stack, where a capture's destructor may block (join, receive) like any greenlet code.
    g->error_ = std::make_exception_ptr(cancelled{});
  } else {
    g->invoke();
  }
  g->discarding_ = true;  // from here on: cleanup, whose waits are not cancellation points
  g->discard();
  if (scheduler* s = w->sched; g == s->main) s->begin_shutdown();
  finish(g);
  // No handle left (only the running greenlet's own reference): nobody can observe the
  // outcome, so destroy it now, on this stack, rather than in whatever context drops the last
  // reference after the switch (runtime/DESIGN.md, "Where user destructors run").
  if (g->refs_.load(std::memory_order_acquire) == 1) drop_outcome(g);
  // done only now: the cleanup above may still park (a destructor that joins or receives).
  set_life(g, life::started, life::done);
  w = current_worker();  // it may have migrated while it ran
  w->exit_current(g);
}

void worker::main_loop() {
  t_worker = this;
  eh = thread_eh_globals();
  context_init_thread(&sched_ec);
  thread_overflow_altstack(true);
  while (greenlet* g = find_work()) resume(g);
  stacks.flush_all(sched->stacks);
  thread_overflow_altstack(false);
  t_worker = nullptr;
}

// ---------------------------------------------------------------- ready / finish

void ready(greenlet* g, bool next) noexcept {
  CANAL_DCHECK(g->life_ == life::started, "ready(): only a started greenlet parks");
  // The claimant calls ready() only once g is switched out: it took a lock that g releases
  // after its switch (channels, join, select), or it is g's own worker (timers), or it waited
  // for parked_epoch_ (kill, timers fired by another worker). So g's context is saved and g can
  // be queued at once.
  if (worker* w = current_worker()) {  // a worker of the one running runtime
    if (next) w->push_next(g); else w->push_tail(g);
    return;
  }
  // A foreign OS thread: the runtime may finish the moment g is queued (g may be the main
  // greenlet), so hold the teardown off until we are done with the scheduler.
  foreign_entry fe;
  if (!fe.sched) [[unlikely]] {
    std::fprintf(stderr, "canal: internal error: a greenlet was woken with no runtime running\n");
    std::abort();
  }
  fe.sched->foreign.push(g);
  race_window(race_point::foreign_wake_queued);
  fe.sched->wake_one();
}

void ready_timer(greenlet* g) noexcept { current_worker()->push_woken(g); }

void finish(greenlet* g) noexcept {
  wait_entry* claimed = nullptr;
  {
    std::lock_guard<spinlock> lk(g->join_lock_);
    g->done_ = true;
    g->done_flag_.store(true, std::memory_order_release);
    while (wait_entry* e = wq_pop(g->joiners_)) {
      if (try_claim(e)) {
        e->ok = true;
        e->next = claimed;
        claimed = e;
      }
    }
  }
  while (claimed) {
    wait_entry* nx = claimed->next;
    wake(claimed->p, false);
    claimed = nx;
  }
}

}  // namespace canal::detail
