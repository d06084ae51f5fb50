// canal/chan.hpp: typed channels with Go's semantics.
//
// Defines: canal::chan<T>, canal::send_chan<T>, canal::recv_chan<T>, canal::recv_result<T>,
//          canal::chan_status.
//
// A chan<T> is a reference to a shared channel, like Go's `chan T` or a std::shared_ptr: copies
// refer to the same channel and every operation is const. chan<T>() is the nil channel.
// Operations work from greenlets (which park) and from plain OS threads (which block), with or
// without a runtime running, and both kinds may be on either side of the same channel.
#pragma once

#include <chrono>
#include <cstddef>
#include <iterator>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "canal/detail/chan_api.hpp"
#include "canal/errors.hpp"
#include "canal/task.hpp"

namespace canal {

// recv_result<T>: the outcome of try_recv/recv_for/recv_until: a status and, when ok, a value.
template <class T>
struct recv_result {
  chan_status status = chan_status::would_block;
  std::optional<T> value;

  explicit operator bool() const noexcept { return status == chan_status::ok; }
  bool ok() const noexcept { return status == chan_status::ok; }
  T& operator*() & { return *value; }
  T&& operator*() && { return std::move(*value); }
  T* operator->() { return &*value; }
};

template <class T>
class send_chan;
template <class T>
class recv_chan;

namespace detail {
template <class T>
class chan_ref {
 public:
  chan_ref() noexcept = default;
  explicit chan_ref(chan_core* c) noexcept : c_(c) {}
  chan_ref(const chan_ref& o) noexcept : c_(o.c_) {
    if (c_) chan_add_ref(c_);
  }
  chan_ref(chan_ref&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  chan_ref& operator=(chan_ref o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~chan_ref() {
    if (c_) chan_release(c_);
  }
  chan_core* get() const noexcept { return c_; }

 private:
  chan_core* c_ = nullptr;
};

template <class T>
std::optional<T> take(void* raw) {
  T* p = std::launder(static_cast<T*>(raw));
  std::optional<T> r(std::move(*p));
  p->~T();
  return r;
}

// take_into() moves the value out of raw storage into dst (no assignment: T need only be
// move-constructible).
template <class T>
void take_into(std::optional<T>& dst, void* raw) {
  T* p = std::launder(static_cast<T*>(raw));
  dst.reset();
  dst.emplace(std::move(*p));
  p->~T();
}

template <class T>
struct raw_slot {
  alignas(T) unsigned char bytes[sizeof(T)];
};
}  // namespace detail

template <class T>
class chan {
 public:
  using value_type = T;

  // chan() is the nil channel: send and receive block forever, select never picks it,
  // close() throws channel_closed.
  chan() noexcept = default;
  // chan(capacity) makes a channel; 0 is an unbuffered rendezvous (the sender waits for the
  // receiver), n > 0 buffers up to n values.
  explicit chan(std::size_t capacity)
      : ref_(detail::chan_make(capacity, &detail::elem_ops_for<T>::ops)) {}

  // send() delivers v, waiting while the channel is full (or, unbuffered, until a receiver takes
  // it). Throws channel_closed if the channel is or becomes closed, cancelled if the greenlet is
  // killed meanwhile (the value is then not sent).
  void send(T v) const { detail::chan_send(core(), &v, detail::block_forever); }

  // recv() takes the next value, waiting while the channel is empty; std::nullopt once the
  // channel is closed and drained. Throws cancelled if the greenlet is killed meanwhile.
  std::optional<T> recv() const {
    detail::raw_slot<T> slot;
    if (detail::chan_recv(core(), slot.bytes, detail::block_forever) == chan_status::ok)
      return detail::take<T>(slot.bytes);
    return std::nullopt;
  }

  // try_send() sends only if it can do so at once. The value is moved from only on ok; on
  // would_block or closed it stays with the caller.
  chan_status try_send(T&& v) const { return detail::chan_send(core(), &v, detail::try_now); }
  chan_status try_send(const T& v) const {
    T copy(v);
    return try_send(std::move(copy));
  }
  // send_for()/send_until(): like send(), but give up at the deadline (timeout; the value stays
  // with the caller) and report closed instead of throwing.
  template <class Rep, class Period>
  chan_status send_for(T&& v, std::chrono::duration<Rep, Period> d) const {
    return detail::chan_send(core(), &v, detail::deadline_after(d));
  }
  template <class Rep, class Period>
  chan_status send_for(const T& v, std::chrono::duration<Rep, Period> d) const {
    T copy(v);
    return send_for(std::move(copy), d);
  }
  template <class Clock, class Dur>
  chan_status send_until(T&& v, std::chrono::time_point<Clock, Dur> tp) const {
    return detail::chan_send(core(), &v, detail::to_steady_ns(tp));
  }
  template <class Clock, class Dur>
  chan_status send_until(const T& v, std::chrono::time_point<Clock, Dur> tp) const {
    T copy(v);
    return send_until(std::move(copy), tp);
  }

  // try_recv()/recv_for()/recv_until(): the status says ok, would_block, closed (and drained)
  // or timeout; the value is there only with ok.
  recv_result<T> try_recv() const { return recv_impl(detail::try_now); }
  template <class Rep, class Period>
  recv_result<T> recv_for(std::chrono::duration<Rep, Period> d) const {
    return recv_impl(detail::deadline_after(d));
  }
  template <class Clock, class Dur>
  recv_result<T> recv_until(std::chrono::time_point<Clock, Dur> tp) const {
    return recv_impl(detail::to_steady_ns(tp));
  }

  // close() marks the channel closed: parked receivers get nullopt once the buffer is drained,
  // parked and later senders get channel_closed. Closing a closed or nil channel throws
  // channel_closed.
  void close() const { detail::chan_close(core()); }

  // size(): values buffered now; capacity(): the buffer size (0 for unbuffered and nil).
  std::size_t size() const noexcept { return detail::chan_size(core()); }
  std::size_t capacity() const noexcept { return detail::chan_capacity(core()); }
  bool is_nil() const noexcept { return core() == nullptr; }

  friend bool operator==(const chan& a, const chan& b) noexcept { return a.core() == b.core(); }

  // Range: for (auto v : ch) receives until the channel is closed and drained. The iterator
  // holds the received value until the next increment. Dereferencing yields T&& (as
  // std::generator<T> does) when T is move-only, so `for (auto p : ch)` moves each value out
  // (`auto&&` and `const auto&` bind too; `auto&` cannot bind an rvalue); for a copyable T it
  // yields T&, so `auto`, `auto&` and `const auto&` all work (move from `auto& v` to avoid a copy).
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = std::conditional_t<std::is_copy_constructible_v<T>, T&, T&&>;
    iterator() = default;
    explicit iterator(const chan* ch) : ch_(ch) { advance(); }
    reference operator*() const { return static_cast<reference>(*cur_); }
    T* operator->() const { return &*cur_; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.done() == b.done();
    }

   private:
    bool done() const noexcept { return !cur_.has_value(); }
    void advance() {
      cur_.reset();
      detail::raw_slot<T> slot;
      if (detail::chan_recv(ch_->core(), slot.bytes, detail::block_forever) == chan_status::ok)
        detail::take_into(cur_, slot.bytes);
    }
    const chan* ch_ = nullptr;
    mutable std::optional<T> cur_;
  };
  iterator begin() const { return iterator(this); }
  iterator end() const { return iterator(); }

  detail::chan_core* core() const noexcept { return ref_.get(); }

 private:
  recv_result<T> recv_impl(std::int64_t deadline) const {
    detail::raw_slot<T> slot;
    recv_result<T> r;
    r.status = detail::chan_recv(core(), slot.bytes, deadline);
    if (r.status == chan_status::ok) detail::take_into(r.value, slot.bytes);
    return r;
  }
  detail::chan_ref<T> ref_;
};

// send_chan<T>: the send-only view of a channel (Go's chan<- T). Implicit from chan<T>.
template <class T>
class send_chan {
 public:
  using value_type = T;
  send_chan() noexcept = default;
  send_chan(const chan<T>& c) noexcept : c_(c) {}  // NOLINT: implicit like Go's conversion
  void send(T v) const { c_.send(std::move(v)); }
  chan_status try_send(T&& v) const { return c_.try_send(std::move(v)); }
  chan_status try_send(const T& v) const { return c_.try_send(v); }
  template <class Rep, class Period>
  chan_status send_for(T&& v, std::chrono::duration<Rep, Period> d) const {
    return c_.send_for(std::move(v), d);
  }
  template <class Clock, class Dur>
  chan_status send_until(T&& v, std::chrono::time_point<Clock, Dur> tp) const {
    return c_.send_until(std::move(v), tp);
  }
  void close() const { c_.close(); }
  std::size_t size() const noexcept { return c_.size(); }
  std::size_t capacity() const noexcept { return c_.capacity(); }
  bool is_nil() const noexcept { return c_.is_nil(); }
  detail::chan_core* core() const noexcept { return c_.core(); }

 private:
  chan<T> c_;
};

// recv_chan<T>: the receive-only view of a channel (Go's <-chan T). Implicit from chan<T>.
template <class T>
class recv_chan {
 public:
  using value_type = T;
  recv_chan() noexcept = default;
  recv_chan(const chan<T>& c) noexcept : c_(c) {}  // NOLINT: implicit like Go's conversion
  std::optional<T> recv() const { return c_.recv(); }
  recv_result<T> try_recv() const { return c_.try_recv(); }
  template <class Rep, class Period>
  recv_result<T> recv_for(std::chrono::duration<Rep, Period> d) const {
    return c_.recv_for(d);
  }
  template <class Clock, class Dur>
  recv_result<T> recv_until(std::chrono::time_point<Clock, Dur> tp) const {
    return c_.recv_until(tp);
  }
  std::size_t size() const noexcept { return c_.size(); }
  std::size_t capacity() const noexcept { return c_.capacity(); }
  bool is_nil() const noexcept { return c_.is_nil(); }
  auto begin() const { return c_.begin(); }
  auto end() const { return c_.end(); }
  detail::chan_core* core() const noexcept { return c_.core(); }

 private:
  chan<T> c_;
};

}  // namespace canal
