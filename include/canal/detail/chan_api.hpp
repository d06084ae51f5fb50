// canal/detail/chan_api.hpp: the type-erased channel core behind canal::chan<T> and select().
// Implemented in channels/chan_core.cc and channels/select.cc. Not for user code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "canal/detail/deadline.hpp"

namespace canal {

// chan_status says how a non-blocking or timed channel operation ended.
enum class chan_status : std::uint8_t {
  ok = 0,           // the value was sent / received
  would_block = 1,  // try_*: the operation could not complete at once
  closed = 2,       // the channel is closed (and, for receive, drained)
  timeout = 3,      // *_for / *_until: the deadline passed first
};

inline const char* to_string(chan_status s) noexcept {
  switch (s) {
    case chan_status::ok: return "ok";
    case chan_status::would_block: return "would_block";
    case chan_status::closed: return "closed";
    case chan_status::timeout: return "timeout";
  }
  return "?";
}

namespace detail {

// elem_ops: how the core moves values of the element type without knowing it.
struct elem_ops {
  // move_construct(dst, src): construct a T at raw storage dst from std::move(*src). src stays
  // alive.
  void (*move_construct)(void* dst, void* src) noexcept;
  void (*destroy)(void* p) noexcept;
  std::size_t size;
  std::size_t align;
  bool trivial;  // trivially copyable and destructible: moved with memcpy, never destroyed
};

template <class T>
struct elem_ops_for {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "canal::chan<T> needs a T whose move constructor is noexcept");
  static void move_construct(void* dst, void* src) noexcept {
    ::new (dst) T(std::move(*static_cast<T*>(src)));
  }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
  static constexpr elem_ops ops{&move_construct, &destroy, sizeof(T), alignof(T),
                                std::is_trivially_copyable_v<T> &&
                                    std::is_trivially_destructible_v<T>};
};

class chan_core;

chan_core* chan_make(std::size_t capacity, const elem_ops* ops);
void chan_add_ref(chan_core* c) noexcept;
void chan_release(chan_core* c) noexcept;

// chan_send moves from *value only when it returns ok. A blocking send (block_forever) on a
// closed channel throws channel_closed; try/timed sends report closed instead. c may be nullptr
// (the nil channel: never ready).
chan_status chan_send(chan_core* c, void* value, std::int64_t deadline);
// chan_recv constructs a T at raw storage out only when it returns ok.
chan_status chan_recv(chan_core* c, void* out, std::int64_t deadline);
void chan_close(chan_core* c);
std::size_t chan_size(const chan_core* c) noexcept;
std::size_t chan_capacity(const chan_core* c) noexcept;

// select over n channel cases. Returns the index of the case that completed, n when nothing was
// ready and has_default, n + 1 when the deadline passed. For a receive case, *recv_ok says
// whether a value was constructed in its buf (false: the channel is closed and drained).
struct select_case {
  chan_core* c;   // nullptr: nil channel, never ready
  void* buf;      // send: the value to move from; recv: raw storage for the value
  bool is_send;
};
std::size_t select_impl(select_case* cases, std::size_t n, bool has_default,
                        std::int64_t deadline, bool* recv_ok);

}  // namespace detail
}  // namespace canal
