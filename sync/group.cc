// group.cc: the child sets behind canal::group and canal::pool, and their non-template parts.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "canal/errors.hpp"
#include "canal/group.hpp"
#include "sync/wait.hpp"

namespace canal {

namespace detail {

child_set::~child_set() {
  for (greenlet* g : kids_) release(g);
}

void child_set::add(greenlet* g) {
  add_ref(g);
  std::vector<greenlet*> done;
  {
    std::lock_guard<spinlock> lk(lk_);
    if (kids_.size() >= prune_at_) {
      auto live_end = std::partition(kids_.begin(), kids_.end(),
                                     [](greenlet* k) { return !is_done(k); });
      done.assign(live_end, kids_.end());
      kids_.erase(live_end, kids_.end());
      prune_at_ = std::max<std::size_t>(64, 2 * kids_.size());
    }
    try {
      kids_.push_back(g);
    } catch (...) {
      release(g);
      for (greenlet* d : done) release(d);
      throw;
    }
  }
  for (greenlet* d : done) release(d);
}

void child_set::kill_all(greenlet* except) noexcept {
  std::vector<greenlet*> snap;
  {
    std::lock_guard<spinlock> lk(lk_);
    try {
      snap.reserve(kids_.size());
    } catch (...) {
      // No memory for a snapshot: kill under the lock (kill() does not block).
      for (greenlet* g : kids_)
        if (g != except) kill(g);
      return;
    }
    for (greenlet* g : kids_) {
      if (g == except || is_done(g)) continue;
      add_ref(g);
      snap.push_back(g);
    }
  }
  for (greenlet* g : snap) {
    kill(g);
    release(g);
  }
}

void child_set::join_all() {
  for (;;) {
    greenlet* g = nullptr;
    std::vector<greenlet*> done;
    {
      std::lock_guard<spinlock> lk(lk_);
      while (!kids_.empty()) {
        greenlet* k = kids_.back();
        if (is_done(k)) {
          kids_.pop_back();
          done.push_back(k);
          continue;
        }
        add_ref(k);
        g = k;
        break;
      }
    }
    for (greenlet* d : done) release(d);
    if (!g) return;
    struct releaser {
      greenlet* g;
      ~releaser() { release(g); }
    } r{g};
    join(g);
  }
}

void child_set::join_all_nocancel() noexcept {
  // A greenlet that parks while an exception propagates is not cancellable (runtime/DESIGN.md,
  // "Cancellation"): join from a destructor that runs during a (local, caught) throw.
  struct unwind_tag {};
  struct joiner {
    child_set* s;
    ~joiner() {
      try {
        s->join_all();
      } catch (...) {
      }
    }
  };
  try {
    joiner j{this};
    throw unwind_tag{};
  } catch (const unwind_tag&) {
  }
}

std::size_t child_set::live() const noexcept {
  std::lock_guard<spinlock> lk(lk_);
  std::size_t n = 0;
  for (greenlet* g : kids_) n += is_done(g) ? 0 : 1;
  return n;
}

}  // namespace detail

group::~group() {
  if (kids_.live() == 0) return;
  kids_.kill_all();
  kids_.join_all_nocancel();
}

void group::fail(std::exception_ptr e) noexcept {
  bool first = false;
  {
    std::lock_guard<detail::spinlock> lk(lk_);
    if (!first_) {
      first_ = std::move(e);
      first = true;
    }
  }
  if (!first) return;
  detail::greenlet* self = detail::current();
  if (self) detail::mark_observed(self);  // wait() reports it
  kids_.kill_all(self);
}

bool group::failed() const noexcept {
  std::lock_guard<detail::spinlock> lk(lk_);
  return first_ != nullptr;
}

void group::wait() {
  kids_.join_all();
  std::exception_ptr e;
  {
    std::lock_guard<detail::spinlock> lk(lk_);
    e = std::exchange(first_, nullptr);
  }
  if (e) std::rethrow_exception(e);
}

static std::ptrdiff_t pool_slots(std::size_t n) {
  if (n == 0) throw error("canal::pool: size must be at least 1");
  if (n > static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()))
    throw error("canal::pool: size too large");
  return static_cast<std::ptrdiff_t>(n);
}

pool::pool(std::size_t n) : n_(n), slots_(pool_slots(n)) {}

pool::~pool() {
  if (kids_.live() == 0) return;
  kids_.kill_all();
  kids_.join_all_nocancel();
}

}  // namespace canal
