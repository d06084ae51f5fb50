// canal/task.hpp: greenlets.
//
// Defines: canal::task<R>, canal::go, canal::named, canal::joinall,
//          canal::this_task::{yield, sleep_for, sleep_until, id, name, set_name, in_greenlet}.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include "canal/detail/source_location.hpp"
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "canal/detail/deadline.hpp"
#include "canal/detail/greenlet.hpp"
#include "canal/errors.hpp"

namespace canal {

template <class R>
class task;

namespace detail {

// task_state<R>: greenlet + where the result goes.
template <class R>
struct task_state : greenlet {
  using greenlet::greenlet;
  void drop_result() noexcept override { result_.reset(); }
  std::optional<R> result_;
};
template <>
struct task_state<void> : greenlet {
  using greenlet::greenlet;
};

// task_closure<R, F, Args...>: the one allocation per spawn: control block, callable, arguments.
template <class R, class F, class... Args>
struct task_closure final : task_state<R> {
  task_closure(canal::source_location where, F f, Args... args)
      : task_state<R>(where), fn_(std::in_place, std::move(f), std::move(args)...) {
    this->trivial_discard_ = std::is_trivially_destructible_v<std::tuple<F, Args...>>;
  }

  void invoke() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply([](auto& f, auto&... a) { std::invoke(std::move(f), std::move(a)...); }, *fn_);
      } else {
        this->result_.emplace(std::apply(
            [](auto& f, auto&... a) -> R { return std::invoke(std::move(f), std::move(a)...); },
            *fn_));
      }
    } catch (...) {
      this->error_ = std::current_exception();
    }
    // The runtime calls discard() next, on this stack: captured state is released when the
    // greenlet ends, as in Go.
  }
  void discard() noexcept override { fn_.reset(); }

  static void* operator new(std::size_t size) { return block_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { block_free(p, size); }
  // Over-aligned callables (alignas > 16) bypass the cache.
  static void* operator new(std::size_t size, std::align_val_t al) {
    return ::operator new(size, al);
  }
  static void operator delete(void* p, std::size_t size, std::align_val_t al) noexcept {
    (void)size;
    ::operator delete(p, al);
  }

  std::optional<std::tuple<F, Args...>> fn_;
};

}  // namespace detail

// task<R> is a copyable handle to a greenlet and its outcome (like gevent's Greenlet, with
// Go's "go" semantics when every handle is dropped: the greenlet runs on, detached).
// All members may be called from greenlets and from plain OS threads.
template <class R>
class task {
 public:
  using result_type = R;

  task() noexcept = default;
  task(const task& o) noexcept : s_(o.s_) {
    if (s_) detail::add_ref(s_);
  }
  task(task&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  task& operator=(task o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~task() {
    if (s_) detail::release(s_);
  }

  // valid() is false for a default-constructed handle.
  bool valid() const noexcept { return s_ != nullptr; }

  // join() waits until the greenlet has finished (returned, thrown, or been cancelled). It does
  // not rethrow the greenlet's exception: use get(). Throws canal::cancelled if the caller is
  // killed while waiting.
  void join() const { detail::join(check()); }

  // wait_for()/wait_until() wait at most that long; true when the greenlet has finished.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    return detail::join_until(check(), detail::deadline_after(d));
  }
  template <class Clock, class Dur>
  bool wait_until(std::chrono::time_point<Clock, Dur> tp) const {
    return detail::join_until(check(), detail::to_steady_ns(tp));
  }

  // ready() is true once the greenlet has finished.
  bool ready() const noexcept { return s_ && detail::is_done(s_); }
  // successful() is true once it finished without an exception.
  bool successful() const noexcept { return ready() && !s_->error_; }
  // exception() is the exception it ended with (nullptr while running or when it succeeded).
  std::exception_ptr exception() const noexcept {
    return ready() ? s_->error_ : std::exception_ptr();
  }

  // get() joins, then returns the result or rethrows the greenlet's exception (canal::cancelled
  // if it was killed). For a move-only R the first get() moves the result out and a second
  // get() throws canal::error.
  R get() const {
    join();
    detail::mark_observed(s_);
    if (s_->error_) std::rethrow_exception(s_->error_);
    if constexpr (!std::is_void_v<R>) {
      auto* st = static_cast<detail::task_state<R>*>(s_);
      if (!st->result_) throw error("canal::task::get: the move-only result was already taken");
      if constexpr (std::is_copy_constructible_v<R>) {
        return *st->result_;
      } else {
        R r = std::move(*st->result_);
        st->result_.reset();
        return r;
      }
    }
  }

  // kill() asks the greenlet to stop: canal::cancelled is thrown inside it at its next
  // suspension point (at once if it is parked). A greenlet that has not started never runs.
  // kill() does not wait; join() afterwards does.
  void kill() const noexcept {
    if (s_) detail::kill(s_);
  }

  std::uint64_t id() const noexcept { return s_ ? s_->id_ : 0; }
  std::string name() const { return check()->name_.str(); }
  canal::source_location spawn_site() const { return check()->where_; }

  // adopt() wraps a state whose reference the caller hands over (used by go() and run()).
  static task adopt(detail::task_state<R>* s) noexcept {
    task t;
    t.s_ = s;
    return t;
  }

 protected:
  detail::greenlet* check() const {
    if (!s_) throw error("canal::task: empty handle (default-constructed or moved-from)");
    return s_;
  }
  detail::greenlet* s_ = nullptr;
};

// named gives a greenlet a name for error reports and dumps: canal::go(canal::named{"db"}, f).
struct named {
  std::string name;
};

// launch chooses when a spawned greenlet first runs:
//   post     (the default) it is queued FIFO and runs when the spawner blocks or yields
//            (gevent's order);
//   dispatch it runs at once, on this worker (Boost.Fiber's launch::dispatch). The spawner
//            waits on the worker's dispatch stack and resumes once the worker has nothing else
//            queued (innermost spawner first), after at most 61 other picks if the queue stays
//            busy, or at once on an idle worker that takes it (the oldest spawner is taken
//            first). Recursive fan-outs such as skynet therefore run depth first, with a few
//            dozen live stacks instead of one per inner node.
enum class launch { post, dispatch };

// go(f, args...) spawns a greenlet running f(args...) and returns its canal::task<R>.
// Arguments are moved into the greenlet (copy what you capture, as with std::thread).
// Works inside a greenlet (the new one runs when the spawner blocks or yields, FIFO) and from a
// foreign OS thread while a runtime is running (throws canal::error otherwise).
//
// go is a class template deduced from its arguments (so that it can record the spawn site with
// canal::source_location after a parameter pack); it *is a* task<R>: `auto t = canal::go(f);`,
// `canal::task<int> t = canal::go(f);` and `v.push_back(canal::go(f))` all work.
template <class F, class... Args>
struct go : task<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>> {
  using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
  using closure = detail::task_closure<R, std::decay_t<F>, std::decay_t<Args>...>;

  go(F f, Args... args, canal::source_location where = canal::source_location::current())
      : go(named{}, std::move(f), std::move(args)..., where) {}

  go(named n, F f, Args... args, canal::source_location where = canal::source_location::current())
      : go(launch::post, std::move(n), std::move(f), std::move(args)..., where) {}

  go(launch how, F f, Args... args, canal::source_location where = canal::source_location::current())
      : go(how, named{}, std::move(f), std::move(args)..., where) {}

  go(launch how, named n, F f, Args... args,
     canal::source_location where = canal::source_location::current()) {
    auto* st = new closure(where, std::move(f), std::move(args)...);
    if (!n.name.empty()) {
      try {
        st->name_.assign(n.name);
      } catch (...) {
        delete st;
        throw;
      }
    }
    st->refs_.store(2, std::memory_order_relaxed);  // this handle + the running greenlet
    this->s_ = st;
    try {
      if (how == launch::dispatch) detail::spawn_dispatch(st); else detail::spawn(st);
    } catch (...) {
      st->refs_.store(1, std::memory_order_relaxed);
      st->discard();
      throw;
    }
  }
};
template <class F, class... Args>
go(F, Args...) -> go<F, Args...>;
template <class F, class... Args>
go(named, F, Args...) -> go<F, Args...>;
template <class F, class... Args>
go(launch, F, Args...) -> go<F, Args...>;
template <class F, class... Args>
go(launch, named, F, Args...) -> go<F, Args...>;

// joinall() waits for every task (gevent's joinall). With a timeout it returns early; the
// result says whether all of them finished. It never rethrows the tasks' exceptions. Any
// duration type works; a huge one (seconds::max()) means "practically never".
template <class R>
bool joinall(const std::vector<task<R>>& tasks) {
  for (const auto& t : tasks) t.join();
  return true;
}
template <class R, class Rep, class Period>
bool joinall(const std::vector<task<R>>& tasks, std::chrono::duration<Rep, Period> timeout) {
  const std::chrono::steady_clock::time_point deadline{
      std::chrono::nanoseconds(detail::deadline_after(timeout))};
  for (const auto& t : tasks) {
    if (!t.wait_until(deadline)) return false;
  }
  return true;
}
template <class R>
bool joinall(const std::vector<task<R>>& tasks, std::optional<std::chrono::nanoseconds> timeout) {
  return timeout ? joinall(tasks, *timeout) : joinall(tasks);
}

namespace this_task {

// yield() lets every other runnable greenlet on this worker run first (gevent.sleep(0)).
// On a foreign OS thread it is std::this_thread::yield().
void yield();
void sleep_ns(std::int64_t ns);             // implementation of sleep_for
void sleep_until_ns(std::int64_t deadline);  // steady_clock ns

// sleep_for() parks the greenlet on its worker's hub timer (never the thread). sleep_for(0)
// yields, like gevent.sleep(0). On a foreign OS thread it sleeps the thread.
// Throws canal::cancelled if the greenlet is killed meanwhile.
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  sleep_ns(detail::saturating_ns(d));
}
template <class Clock, class Dur>
void sleep_until(std::chrono::time_point<Clock, Dur> tp) {
  sleep_until_ns(detail::to_steady_ns(tp));
}

// id()/name() of the running greenlet (0 / "" on a foreign thread); set_name() renames it.
std::uint64_t id() noexcept;
std::string name();
void set_name(std::string name);
// in_greenlet() is true when called from a greenlet (false on a plain OS thread).
bool in_greenlet() noexcept;

}  // namespace this_task

}  // namespace canal
