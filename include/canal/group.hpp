// canal/group.hpp: structured sets of greenlets.
//
// Defines: canal::group (spawn children, join them all, the first failure cancels the rest),
//          canal::pool (gevent's Pool: at most n children at once; map in input order).
//
// Both are built on canal::go, task::kill and task::join (and pool on canal::semaphore). They
// may be used from greenlets and from OS threads while a runtime is running. Destroying one
// with live children kills those children and waits for them (without being cancellable
// itself: it is cleaning up).
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "canal/detail/greenlet.hpp"
#include "canal/detail/spinlock.hpp"
#include "canal/errors.hpp"
#include "canal/sync.hpp"
#include "canal/task.hpp"

namespace canal {

namespace detail {

// child_set: the greenlets a group or pool spawned (one reference each), pruned of finished
// ones as it grows.
class child_set {
 public:
  child_set() = default;
  child_set(const child_set&) = delete;
  child_set& operator=(const child_set&) = delete;
  ~child_set();

  void add(greenlet* g);  // takes a new reference to g
  // kill_all() kills every live child except `except` (a failing child itself).
  void kill_all(greenlet* except = nullptr) noexcept;
  // join_all() joins every child, including ones added meanwhile; cancellable.
  void join_all();
  // join_all_nocancel() is join_all() that the caller's kill() cannot interrupt (destructors).
  void join_all_nocancel() noexcept;
  std::size_t live() const noexcept;

 private:
  mutable spinlock lk_{detail::lock_rank::sync};
  std::vector<greenlet*> kids_;  // under lk_
  std::size_t prune_at_ = 64;    // under lk_
};

// greenlet_of(t): the control block behind a task handle (task keeps it protected).
template <class R>
struct task_access : task<R> {
  static greenlet* get(const task<R>& t) noexcept {
    greenlet* task<R>::*p = &task_access::s_;
    return t.*p;
  }
};
template <class R>
greenlet* greenlet_of(const task<R>& t) noexcept {
  return task_access<R>::get(t);
}

}  // namespace detail

// group: spawn children with go(); wait() joins all of them. The first child to fail (throw
// anything but canal::cancelled) kills every other child — they get canal::cancelled at their
// next park — and wait() rethrows that first exception once all have finished, then the group
// is empty and reusable. A child spawned after a failure (and before wait() returns) is killed
// at once. Children may spawn more children into the same group.
class group {
 public:
  group() = default;
  group(const group&) = delete;
  group& operator=(const group&) = delete;
  ~group();

  template <class F, class... Args>
  auto go(F f, Args... args) {
    using R = std::invoke_result_t<F&&, Args&&...>;
    task<R> t = canal::go(
        [this](F fn, std::tuple<Args...> a) -> R {
          try {
            return std::apply(std::move(fn), std::move(a));
          } catch (const cancelled&) {
            throw;
          } catch (...) {
            fail(std::current_exception());
            throw;
          }
        },
        std::move(f), std::tuple<Args...>(std::move(args)...));
    kids_.add(detail::greenlet_of(t));
    if (failed()) t.kill();
    return t;
  }

  // wait() joins every child, then rethrows the first failure (if any). Throws cancelled if the
  // caller is killed while waiting (the children keep running; kill() them if needed).
  void wait();
  // kill() cancels every live child (does not wait).
  void kill() noexcept { kids_.kill_all(); }
  // size(): children not yet finished.
  std::size_t size() const noexcept { return kids_.live(); }

 private:
  void fail(std::exception_ptr e) noexcept;
  bool failed() const noexcept;
  detail::child_set kids_;
  mutable detail::spinlock lk_{detail::lock_rank::sync};
  std::exception_ptr first_;  // under lk_
};

// pool (gevent's Pool): go() runs at most n children at once; while n are running, go() parks
// the caller until one finishes. Children's exceptions stay in their tasks (get() them); map()
// rethrows the first one in input order.
class pool {
 public:
  explicit pool(std::size_t n);
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  ~pool();

  template <class F, class... Args>
  auto go(F f, Args... args) {
    using R = std::invoke_result_t<F&&, Args&&...>;
    slots_.acquire();  // parks while size() children run; cancellable
    struct slot_guard {
      semaphore* s;
      ~slot_guard() {
        if (s) s->release();
      }
    } g{&slots_};
    task<R> t = canal::go(
        [this](F fn, std::tuple<Args...> a) -> R {
          slot_guard done{&slots_};  // the slot is free again when the child ends
          return std::apply(std::move(fn), std::move(a));
        },
        std::move(f), std::tuple<Args...>(std::move(args)...));
    g.s = nullptr;  // the child owns the slot now
    kids_.add(detail::greenlet_of(t));
    return t;
  }

  // map(f, inputs): f(x) for every x, at most size() at once; the results in input order.
  // Rethrows the first exception in input order after every call finished.
  template <class F, class Range>
  auto map(F f, const Range& inputs) {
    using X = decltype(*std::begin(inputs));
    using R = std::invoke_result_t<F&, X>;
    static_assert(!std::is_void_v<R>, "canal::pool::map: f must return a value");
    std::vector<task<R>> ts;
    for (const auto& x : inputs) ts.push_back(go([f, x]() mutable { return f(x); }));
    for (const auto& t : ts) t.join();
    std::vector<R> out;
    out.reserve(ts.size());
    for (const auto& t : ts) out.push_back(t.get());
    return out;
  }

  // wait() joins every child spawned so far (and any spawned meanwhile); never rethrows.
  void wait() { kids_.join_all(); }
  void kill() noexcept { kids_.kill_all(); }
  // size(): the most children at once; free_count(): how many more could start now.
  std::size_t size() const noexcept { return n_; }
  std::size_t free_count() const noexcept {
    return static_cast<std::size_t>(slots_.available());
  }
  // running(): children not yet finished.
  std::size_t running() const noexcept { return kids_.live(); }

 private:
  std::size_t n_;
  semaphore slots_;
  detail::child_set kids_;
};

}  // namespace canal
