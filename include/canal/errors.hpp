// canal/errors.hpp: the exceptions canal throws.
//
// Defines: canal::error, canal::channel_closed, canal::timeout_error, canal::deadlock,
//          canal::cancelled.
//
// canal::cancelled deliberately does NOT derive from std::exception (like gevent's GreenletExit
// derives from BaseException, not Exception): a `catch (const std::exception&)` in user code must
// not swallow a kill() or a runtime shutdown. Catch it by name, or with `catch (...)` and rethrow.
#pragma once

#include <stdexcept>
#include <string>

namespace canal {

// error is the base of canal's ordinary errors (misuse, closed channels; later timeouts and
// deadlock, see below).
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// channel_closed: send on a closed channel, close of a closed channel, close of the nil channel,
// or a blocked send whose channel was closed while it waited.
class channel_closed : public error {
 public:
  using error::error;
};

// timeout_error: a blocking call with a deadline ran out of time where the API reports time-outs
// as exceptions. Nothing in canal throws it yet: every timed call so far reports a time-out as a
// value (chan_status::timeout, a false return). Declared for the calls that will.
class timeout_error : public error {
 public:
  using error::error;
};

// deadlock: every greenlet is parked and nothing (timer, I/O, foreign thread) can wake them.
// Nothing in canal throws it yet: deadlock detection is not implemented, and such a program
// blocks forever. Declared for the detection to come.
class deadlock : public error {
 public:
  using error::error;
};

// cancelled is thrown at a greenlet's suspension point after task::kill() or when run() shuts
// down with the greenlet still alive. Let it propagate: destructors run on the way out.
class cancelled {
 public:
  cancelled() noexcept = default;
  const char* what() const noexcept { return "canal::cancelled: greenlet was cancelled"; }
};

}  // namespace canal
