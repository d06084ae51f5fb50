// canal/select.hpp: Go's select over channels, timeouts and a default.
//
// Defines: canal::select, canal::on_recv, canal::on_send, canal::on_timeout, canal::on_default,
//          canal::selector (a case list built at run time, like Go's reflect.Select).
//
//   std::size_t i = canal::select(
//       canal::on_recv(jobs, [](std::optional<int> v) { ... }),  // v == nullopt: closed
//       canal::on_send(out, 42, [] { ... }),
//       canal::on_timeout(100ms, [] { ... }),
//       canal::on_default([] { ... }));
//
// Semantics (Go's): among the cases ready now one is chosen uniformly at random; without a
// ready case and without a default, the caller parks until one is ready or the earliest timeout
// passes. A nil-channel case is never ready. A receive on a closed channel is ready and fires
// with std::nullopt. A send case on a closed channel throws channel_closed, as send() does.
// select() returns the index (argument position) of the case that fired, after running its
// handler. Handlers are optional; a receive handler may take std::optional<T> or nothing.
// Throws canal::cancelled if the greenlet is killed while parked.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "canal/chan.hpp"

namespace canal {

namespace detail {

struct no_handler {};

template <class F, class Arg>
void call_with(F& f, Arg&& arg) {
  if constexpr (std::is_same_v<F, no_handler>) {
  } else if constexpr (std::is_invocable_v<F&, Arg&&>) {
    std::invoke(f, std::forward<Arg>(arg));
  } else {
    static_assert(std::is_invocable_v<F&>,
                  "canal::on_recv handler must take std::optional<T> (or nothing)");
    std::invoke(f);
  }
}

template <class F>
void call0(F& f) {
  if constexpr (!std::is_same_v<F, no_handler>) {
    static_assert(std::is_invocable_v<F&>, "this canal select handler takes no arguments");
    std::invoke(f);
  }
}

enum class case_kind { recv, send, timeout, fallback };

}  // namespace detail

template <class T, class F>
struct recv_case {
  static constexpr detail::case_kind kind = detail::case_kind::recv;
  detail::chan_core* c;
  F f;
  detail::raw_slot<T> slot;

  void describe(detail::select_case& d) { d = {c, slot.bytes, false}; }
  void fire(bool ok) {
    if (ok) {
      std::optional<T> v = detail::take<T>(slot.bytes);
      detail::call_with(f, std::move(v));
    } else {
      detail::call_with(f, std::optional<T>());
    }
  }
};

template <class T, class F>
struct send_case {
  static constexpr detail::case_kind kind = detail::case_kind::send;
  detail::chan_core* c;
  T v;
  F f;

  void describe(detail::select_case& d) { d = {c, &v, true}; }
  void fire(bool) { detail::call0(f); }
};

template <class F>
struct timeout_case {
  static constexpr detail::case_kind kind = detail::case_kind::timeout;
  std::chrono::nanoseconds d;
  F f;
  void fire(bool) { detail::call0(f); }
};

template <class F>
struct default_case {
  static constexpr detail::case_kind kind = detail::case_kind::fallback;
  F f;
  void fire(bool) { detail::call0(f); }
};

// on_recv(ch, f): receive from ch; f(std::optional<T>) runs with the value (nullopt: closed).
template <class T, class F = detail::no_handler>
recv_case<T, F> on_recv(const chan<T>& ch, F f = {}) {
  return {ch.core(), std::move(f), {}};
}
template <class T, class F = detail::no_handler>
recv_case<T, F> on_recv(const recv_chan<T>& ch, F f = {}) {
  return {ch.core(), std::move(f), {}};
}

// on_send(ch, v, f): send v on ch; f() runs once it was sent.
template <class T, class V, class F = detail::no_handler>
send_case<T, F> on_send(const chan<T>& ch, V&& v, F f = {}) {
  return {ch.core(), T(std::forward<V>(v)), std::move(f)};
}
template <class T, class V, class F = detail::no_handler>
send_case<T, F> on_send(const send_chan<T>& ch, V&& v, F f = {}) {
  return {ch.core(), T(std::forward<V>(v)), std::move(f)};
}

// on_timeout(d, f): fires when d has passed since select() began and no other case fired.
template <class Rep, class Period, class F = detail::no_handler>
timeout_case<F> on_timeout(std::chrono::duration<Rep, Period> d, F f = {}) {
  // Saturating: on_timeout(hours::max()) means "practically never", not an overflow.
  return {std::chrono::nanoseconds(detail::saturating_ns(d)), std::move(f)};
}

// on_default(f): fires at once when no other case is ready (Go's default:).
template <class F = detail::no_handler>
default_case<F> on_default(F f = {}) {
  return {std::move(f)};
}

namespace detail {
template <class C>
inline constexpr bool is_chan_case =
    std::remove_cvref_t<C>::kind == case_kind::recv || std::remove_cvref_t<C>::kind == case_kind::send;

template <class Tuple, std::size_t... I>
void fire_at(Tuple& t, std::size_t pos, bool ok, std::index_sequence<I...>) {
  ((I == pos ? (std::get<I>(t).fire(ok), 0) : 0), ...);
}
}  // namespace detail

template <class... Cases>
std::size_t select(Cases&&... cases) {
  static_assert(sizeof...(Cases) > 0, "canal::select needs at least one case");
  constexpr std::size_t n_chan = (std::size_t{0} + ... + (detail::is_chan_case<Cases> ? 1 : 0));
  constexpr std::size_t n_default =
      (std::size_t{0} + ... +
       (std::remove_cvref_t<Cases>::kind == detail::case_kind::fallback ? 1 : 0));
  static_assert(n_default <= 1, "canal::select takes at most one on_default case");

  auto refs = std::forward_as_tuple(cases...);
  detail::select_case descs[n_chan > 0 ? n_chan : 1];
  std::size_t where[n_chan > 0 ? n_chan : 1];
  std::size_t default_pos = 0;
  std::size_t timeout_pos = sizeof...(Cases);
  std::chrono::nanoseconds earliest = std::chrono::nanoseconds::max();
  std::size_t k = 0, pos = 0;
  auto visit = [&](auto& c) {
    using C = std::remove_cvref_t<decltype(c)>;
    if constexpr (C::kind == detail::case_kind::recv || C::kind == detail::case_kind::send) {
      c.describe(descs[k]);
      where[k++] = pos;
    } else if constexpr (C::kind == detail::case_kind::timeout) {
      if (timeout_pos == sizeof...(Cases) || c.d < earliest) {
        earliest = c.d;
        timeout_pos = pos;
      }
    } else {
      default_pos = pos;
    }
    ++pos;
  };
  std::apply([&](auto&... c) { (visit(c), ...); }, refs);

  const std::int64_t deadline = timeout_pos == sizeof...(Cases)
                                    ? detail::block_forever
                                    : detail::deadline_after(earliest);
  bool ok = false;
  const std::size_t r = detail::select_impl(descs, n_chan, n_default != 0, deadline, &ok);
  const std::size_t fired = r < n_chan ? where[r] : (r == n_chan ? default_pos : timeout_pos);
  detail::fire_at(refs, fired, ok, std::index_sequence_for<Cases...>{});
  return fired;
}

// selector: a select whose cases are added at run time (Go's reflect.Select).
//   canal::selector sel;
//   for (auto& ch : inputs) sel.add(canal::on_recv(ch, handler));
//   std::size_t i = sel.select();   // index in the order of add()
// A selector may be selected repeatedly. A send case sends a copy of its value each time when T
// is copyable; with a move-only T it sends once and is a nil case afterwards. Like Go's
// reflect.SelectCase, a selector keeps the channels of its cases alive: a case added for a
// channel whose last chan<T> handle is gone still refers to a live channel.
class selector {
 public:
  template <class Case>
  std::size_t add(Case c) {
    using C = std::remove_cvref_t<Case>;
    if constexpr (C::kind == detail::case_kind::fallback) {
      if (has_default_) throw error("canal::selector: more than one on_default case");
      has_default_ = true;
    }
    cases_.push_back(std::make_unique<holder<C>>(std::move(c)));
    return cases_.size() - 1;
  }
  std::size_t size() const noexcept { return cases_.size(); }
  void clear() noexcept {
    cases_.clear();
    has_default_ = false;
  }

  // select() runs one select over the current cases; returns the index of the one that fired.
  std::size_t select() {
    if (cases_.empty()) throw error("canal::selector::select: no cases");
    descs_.clear();
    where_.clear();
    std::size_t default_pos = 0, timeout_pos = cases_.size();
    std::chrono::nanoseconds earliest = std::chrono::nanoseconds::max();
    for (std::size_t i = 0; i < cases_.size(); ++i) {
      auto& c = *cases_[i];
      switch (c.kind()) {
        case detail::case_kind::recv:
        case detail::case_kind::send:
          descs_.emplace_back();
          c.describe(descs_.back());
          where_.push_back(i);
          break;
        case detail::case_kind::timeout:
          if (timeout_pos == cases_.size() || c.timeout() < earliest) {
            earliest = c.timeout();
            timeout_pos = i;
          }
          break;
        case detail::case_kind::fallback:
          default_pos = i;
          break;
      }
    }
    const std::int64_t deadline = timeout_pos == cases_.size() ? detail::block_forever
                                                               : detail::deadline_after(earliest);
    bool ok = false;
    const std::size_t n = descs_.size();
    const std::size_t r = detail::select_impl(descs_.data(), n, has_default_, deadline, &ok);
    const std::size_t fired = r < n ? where_[r] : (r == n ? default_pos : timeout_pos);
    cases_[fired]->fire(ok);
    return fired;
  }

 private:
  struct base {
    virtual ~base() = default;
    virtual detail::case_kind kind() const noexcept = 0;
    virtual void describe(detail::select_case& d) = 0;
    virtual void fire(bool ok) = 0;
    virtual std::chrono::nanoseconds timeout() const noexcept { return {}; }
  };
  template <class C>
  struct holder final : base {
    explicit holder(C c) : c_(std::move(c)) {
      if constexpr (C::kind == detail::case_kind::recv || C::kind == detail::case_kind::send) {
        if (c_.c) detail::chan_add_ref(c_.c);
      }
    }
    ~holder() override {
      if constexpr (C::kind == detail::case_kind::recv || C::kind == detail::case_kind::send) {
        if (c_.c) detail::chan_release(c_.c);
      }
    }
    holder(const holder&) = delete;
    holder& operator=(const holder&) = delete;
    detail::case_kind kind() const noexcept override { return C::kind; }
    void describe(detail::select_case& d) override {
      if constexpr (C::kind == detail::case_kind::send) {
        using T = decltype(c_.v);
        if constexpr (std::is_copy_constructible_v<T>) {
          cur_.reset();
          cur_.emplace(c_.v);
          d = {c_.c, &*cur_, true};
        } else {
          d = {spent_ ? nullptr : c_.c, &c_.v, true};
        }
      } else if constexpr (C::kind == detail::case_kind::recv) {
        c_.describe(d);
      }
    }
    void fire(bool ok) override {
      if constexpr (C::kind == detail::case_kind::send) spent_ = true;
      c_.fire(ok);
    }
    std::chrono::nanoseconds timeout() const noexcept override {
      if constexpr (C::kind == detail::case_kind::timeout) return c_.d;
      return {};
    }
    C c_;
    bool spent_ = false;
    template <class X>
    struct value_of {
      using type = char;
    };
    template <class T, class F>
    struct value_of<send_case<T, F>> {
      using type = T;
    };
    std::optional<typename value_of<C>::type> cur_;
  };

  std::vector<std::unique_ptr<base>> cases_;
  std::vector<detail::select_case> descs_;
  std::vector<std::size_t> where_;
  bool has_default_ = false;
};

}  // namespace canal
