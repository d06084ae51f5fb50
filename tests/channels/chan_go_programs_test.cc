// Ports of Go's test/chan/ programs: sieve1, fifo, nonblock, doubleselect, select3, goroutines,
// zerosize (re-implemented by name and semantics on canal).
#include <array>
#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "tests/channels/chan_test_helpers.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::scale;
using canal_test::workers;
using chan_test::nap;
using chan_test::outcome;
using chan_test::run_op;

namespace {

void generate(canal::send_chan<int> ch) {
  for (int i = 2;; ++i) ch.send(i);
}

void filter(canal::recv_chan<int> in, canal::send_chan<int> out, int prime) {
  for (int i : in) {
    if (i % prime != 0) out.send(i);
  }
}

void sieve(canal::send_chan<int> primes) {
  canal::chan<int> ch(0);
  canal::go(generate, canal::send_chan<int>(ch));
  for (;;) {
    int prime = ch.recv().value();
    primes.send(prime);
    canal::chan<int> ch1(0);
    canal::go(filter, canal::recv_chan<int>(ch), canal::send_chan<int>(ch1), prime);
    ch = ch1;
  }
}

}  // namespace

// Concurrent prime sieve; the generator and filters run forever and are cancelled when the
// runtime shuts down.
TEST_CASE("chan.sieve1" * doctest::timeout(60)) {
  const std::array<int, 25> a{2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
                              43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> primes(0);
      canal::go(sieve, canal::send_chan<int>(primes));
      for (int want : a) {
        auto x = primes.recv();
        REQUIRE(x.has_value());
        CHECK(*x == want);
      }
    });
  }
}

TEST_CASE("chan.fifo" * doctest::timeout(60)) {
  constexpr int N = 10;
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      // AsynchFifo
      {
        canal::chan<int> ch(N);
        for (int i = 0; i < N; ++i) ch.send(i);
        for (int i = 0; i < N; ++i) CHECK(ch.recv() == std::optional<int>(i));
      }
      // SynchFifo: N greenlets queue on an unbuffered channel in a fixed order (each is let go
      // by its predecessor), so value i must reach greenlet i.
      {
        canal::chan<int> ch(0);
        canal::chan<int> in(0);
        canal::chan<int> start = in;
        auto bad = std::make_shared<std::atomic<int>>(0);
        std::vector<canal::task<void>> ts;
        for (int i = 0; i < N; ++i) {
          canal::chan<int> out(0);
          ts.push_back(canal::go([ch, i, in, out, bad] {
            (void)in.recv();
            if (ch.recv() != std::optional<int>(i)) bad->fetch_add(1);
            out.send(1);
          }));
          in = out;
        }
        start.send(0);
        for (int i = 0; i < N; ++i) ch.send(i);
        (void)in.recv();
        canal::joinall(ts);
        CHECK(bad->load() == 0);
      }
    });
  }
}

namespace {

// Go's sleep(): a couple of short timer waits and yields.
void little_sleep() {
  canal::this_task::sleep_for(10us);
  canal::this_task::sleep_for(10us);
  canal::this_task::yield();
  canal::this_task::yield();
  canal::this_task::yield();
}

constexpr int max_tries = 10000;

// Non-blocking sends and receives (select with default) against a partner greenlet, for one
// element type, with the buffer size of c.
template <class T>
void nonblock_round(std::size_t buffer, T to_recv, T to_send) {
  canal::chan<T> c(buffer);
  canal::chan<bool> sync(0);

  // Nothing to receive yet.
  CHECK(canal::select(canal::on_recv(c), canal::on_default()) == 1);

  // receiver greenlet; we send with select/default until it succeeds.
  auto bad = std::make_shared<std::atomic<int>>(0);
  canal::go([c, sync, to_recv, bad] {
    if (c.recv() != std::optional<T>(to_recv)) bad->fetch_add(1);
    sync.send(true);
  });
  int tries = 0;
  for (;;) {
    if (canal::select(canal::on_send(c, to_recv), canal::on_default()) == 0) break;
    REQUIRE(++tries <= max_tries);
    little_sleep();
  }
  (void)sync.recv();
  CHECK(bad->load() == 0);

  // sender greenlet; we receive with select/default until it succeeds.
  canal::go([c, sync, to_send] {
    c.send(to_send);
    sync.send(true);
  });
  if (buffer > 0) (void)sync.recv();
  tries = 0;
  std::optional<T> got;
  for (;;) {
    if (canal::select(canal::on_recv(c, [&](std::optional<T> v) { got = std::move(v); }),
                      canal::on_default()) == 0)
      break;
    REQUIRE(++tries <= max_tries);
    little_sleep();
  }
  CHECK(got == std::optional<T>(to_send));
  if (buffer == 0) (void)sync.recv();
}

}  // namespace

TEST_CASE("chan.nonblock" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      for (std::size_t buffer = 0; buffer < 2; ++buffer) {
        nonblock_round<std::int32_t>(buffer, 123, 234);
        nonblock_round<std::int64_t>(buffer, 123456, 234567);
        nonblock_round<bool>(buffer, true, true);
        nonblock_round<std::string>(buffer, "hello", "hello again");
      }
    });
  }
}

// A select sender over four channels, four muxers, one receiver: no value is duplicated (the
// Go bug this guards against corrupted a greenlet's state when two selects raced).
TEST_CASE("chan.doubleselect" * doctest::timeout(120)) {
  const int iterations = canal_test::sanitized ? 5000 : scale(20000, 100000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c1(0), c2(0), c3(0), c4(0);
      canal::chan<bool> done(0);
      canal::chan<int> cmux(0);
      auto sender = canal::go([=] {
        for (int i = 0; i < iterations; ++i) {
          canal::select(canal::on_send(c1, i), canal::on_send(c2, i), canal::on_send(c3, i),
                        canal::on_send(c4, i));
        }
        c1.close();
        c2.close();
        c3.close();
        c4.close();
      });
      for (const auto& c : {c1, c2, c3, c4}) {
        canal::go([out = canal::send_chan<int>(cmux), in = canal::recv_chan<int>(c), done] {
          for (int v : in) out.send(v);
          done.send(true);
        });
      }
      canal::go([done, cmux] {
        for (int i = 0; i < 4; ++i) (void)done.recv();
        cmux.close();
      });
      std::vector<char> seen(static_cast<std::size_t>(iterations), 0);
      int dups = 0, out_of_range = 0, count = 0;
      for (int v : cmux) {
        if (v < 0 || v >= iterations) {
          ++out_of_range;
          continue;
        }
        if (seen[static_cast<std::size_t>(v)]) ++dups;
        seen[static_cast<std::size_t>(v)] = 1;
        ++count;
      }
      sender.join();
      CHECK(dups == 0);
      CHECK(out_of_range == 0);
      CHECK(count == iterations);
    });
  }
}

// Go's select3: which operations block, on nil, closed, full and empty channels.
TEST_CASE("chan.select3" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> nilch;
      canal::chan<int> closedch(0);
      closedch.close();

      // Sending/receiving on a nil channel blocks.
      CHECK(run_op(outcome::blocks, [=] { nilch.send(7); }) == outcome::blocks);
      CHECK(run_op(outcome::blocks, [=] { (void)nilch.recv(); }) == outcome::blocks);

      // A nil channel inside a select is never selected.
      CHECK(canal::select(canal::on_send(nilch, 7), canal::on_default()) == 1);
      CHECK(canal::select(canal::on_recv(nilch), canal::on_default()) == 1);

      // Sending to a buffered channel with free space never blocks.
      CHECK(run_op(outcome::completes, [] {
              canal::chan<int> ch(1);
              ch.send(7);
            }) == outcome::completes);

      // Receiving from a closed channel never blocks (and yields nothing, every time).
      auto closed_recv_bad = std::make_shared<std::atomic<int>>(0);
      CHECK(run_op(outcome::completes, [=] {
              for (int i = 0; i < 10; ++i) {
                if (closedch.recv().has_value()) closed_recv_bad->fetch_add(1);
                auto r = closedch.try_recv();
                if (r.status != canal::chan_status::closed || r.value) closed_recv_bad->fetch_add(1);
              }
            }) == outcome::completes);
      CHECK(closed_recv_bad->load() == 0);

      // Sending to a closed channel throws (Go panics).
      CHECK(run_op(outcome::throws_closed, [=] { closedch.send(7); }) == outcome::throws_closed);

      // Receiving from a non-ready channel blocks.
      CHECK(run_op(outcome::blocks, [] {
              canal::chan<int> ch(0);
              (void)ch.recv();
            }) == outcome::blocks);

      // Selects with only nil channels block.
      CHECK(run_op(outcome::blocks, [=] { canal::select(canal::on_recv(nilch)); }) ==
            outcome::blocks);
      CHECK(run_op(outcome::blocks, [=] { canal::select(canal::on_send(nilch, 7)); }) ==
            outcome::blocks);
      CHECK(run_op(outcome::blocks, [=] {
              canal::select(canal::on_recv(nilch), canal::on_send(nilch, 7));
            }) == outcome::blocks);

      // Selects with non-ready non-nil channels block.
      CHECK(run_op(outcome::blocks, [] {
              canal::chan<int> ch(0);
              canal::select(canal::on_recv(ch));
            }) == outcome::blocks);

      // Selects with a default don't block.
      CHECK(run_op(outcome::completes, [] { canal::select(canal::on_default()); }) ==
            outcome::completes);
      CHECK(run_op(outcome::completes, [=] {
              canal::select(canal::on_recv(nilch), canal::on_default());
            }) == outcome::completes);
      CHECK(run_op(outcome::completes, [=] {
              canal::select(canal::on_send(nilch, 7), canal::on_default());
            }) == outcome::completes);

      // Selects with ready channels don't block (and pick the ready case, not the default).
      auto picked_default = std::make_shared<std::atomic<int>>(0);
      CHECK(run_op(outcome::completes, [=] {
              canal::chan<int> ch(1);
              if (canal::select(canal::on_send(ch, 7), canal::on_default()) != 0)
                picked_default->fetch_add(1);
            }) == outcome::completes);
      CHECK(run_op(outcome::completes, [=] {
              canal::chan<int> ch(1);
              ch.send(7);
              if (canal::select(canal::on_recv(ch), canal::on_default()) != 0)
                picked_default->fetch_add(1);
            }) == outcome::completes);
      CHECK(picked_default->load() == 0);

      // Selects with closed channels behave like the plain operations.
      auto closed_sel_bad = std::make_shared<std::atomic<int>>(0);
      CHECK(run_op(outcome::completes, [=] {
              canal::select(canal::on_recv(closedch, [=](std::optional<int> v) {
                if (v) closed_sel_bad->fetch_add(1);
              }));
            }) == outcome::completes);
      CHECK(run_op(outcome::completes, [=] { canal::select(canal::on_recv(closedch)); }) ==
            outcome::completes);
      CHECK(closed_sel_bad->load() == 0);
      CHECK(run_op(outcome::throws_closed, [=] { canal::select(canal::on_send(closedch, 7)); }) ==
            outcome::throws_closed);

      // A select does not get confused when it sees itself.
      CHECK(run_op(outcome::blocks, [] {
              canal::chan<int> c(0);
              canal::select(canal::on_send(c, 1), canal::on_recv(c));
            }) == outcome::blocks);
    });
  }
}

// The full blocking matrix: every operation kind on nil, closed, full, empty and unbuffered
// channels; "blocks" checked with a short window, everything else with a long one.
TEST_CASE("chan.select3.matrix" * doctest::timeout(120)) {
  enum class state { nil, closed, full, empty, unbuffered };
  enum class op {
    send,
    recv,
    try_send,
    try_recv,
    send_for,
    recv_for,
    select_send,
    select_recv,
    select_send_default,
    select_recv_default,
    select_send_timeout,
    select_recv_timeout,
  };
  const char* state_names[] = {"nil", "closed", "full", "empty", "unbuffered"};
  const char* op_names[] = {"send",        "recv",        "try_send",
                            "try_recv",    "send_for",    "recv_for",
                            "select_send", "select_recv", "select_send_default",
                            "select_recv_default", "select_send_timeout", "select_recv_timeout"};
  auto make = [](state s) {
    switch (s) {
      case state::nil: return canal::chan<int>();
      case state::closed: {
        canal::chan<int> c(1);
        c.close();
        return c;
      }
      case state::full: {
        canal::chan<int> c(1);
        c.send(1);
        return c;
      }
      case state::empty: return canal::chan<int>(1);
      case state::unbuffered: return canal::chan<int>(0);
    }
    return canal::chan<int>();
  };
  // expected[state][op]; "completes" includes returning a status or taking a default.
  const outcome B = outcome::blocks, C = outcome::completes, X = outcome::throws_closed;
  const outcome expected[5][12] = {
      //          send recv try_s try_r s_for r_for sel_s sel_r s_def r_def s_to r_to
      /* nil */ {B, B, C, C, C, C, B, B, C, C, C, C},
      /* closed */ {X, C, C, C, C, C, X, C, X, C, X, C},
      /* full */ {B, C, C, C, C, C, B, C, C, C, C, C},
      /* empty */ {C, B, C, C, C, C, C, B, C, C, C, C},
      /* unbuf */ {B, B, C, C, C, C, B, B, C, C, C, C},
  };
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      for (int si = 0; si < 5; ++si) {
        for (int oi = 0; oi < 12; ++oi) {
          const auto s = static_cast<state>(si);
          const auto o = static_cast<op>(oi);
          canal::chan<int> c = make(s);
          auto status = std::make_shared<int>(-1);
          outcome got = run_op(expected[si][oi], [c, o, status] {
            switch (o) {
              case op::send:
                c.send(5);
                *status = 0;
                break;
              case op::recv: *status = c.recv().has_value(); break;
              case op::try_send: *status = static_cast<int>(c.try_send(5)); break;
              case op::try_recv: *status = static_cast<int>(c.try_recv().status); break;
              case op::send_for: *status = static_cast<int>(c.send_for(5, 5ms)); break;
              case op::recv_for: *status = static_cast<int>(c.recv_for(5ms).status); break;
              case op::select_send:
                *status = static_cast<int>(canal::select(canal::on_send(c, 5)));
                break;
              case op::select_recv:
                *status = static_cast<int>(canal::select(canal::on_recv(c)));
                break;
              case op::select_send_default:
                *status = static_cast<int>(canal::select(canal::on_send(c, 5), canal::on_default()));
                break;
              case op::select_recv_default:
                *status = static_cast<int>(canal::select(canal::on_recv(c), canal::on_default()));
                break;
              case op::select_send_timeout:
                *status = static_cast<int>(
                    canal::select(canal::on_send(c, 5), canal::on_timeout(5ms)));
                break;
              case op::select_recv_timeout:
                *status = static_cast<int>(
                    canal::select(canal::on_recv(c), canal::on_timeout(5ms)));
                break;
            }
          });
          const outcome want = expected[si][oi];
          CHECK_MESSAGE(got == want, state_names[si] << " channel, " << op_names[oi] << ": got "
                                                     << chan_test::to_string(got) << ", want "
                                                     << chan_test::to_string(want));
          if (got != outcome::completes) continue;
          using canal::chan_status;
          const int ok = static_cast<int>(chan_status::ok);
          const int wb = static_cast<int>(chan_status::would_block);
          const int cl = static_cast<int>(chan_status::closed);
          const int to = static_cast<int>(chan_status::timeout);
          const bool ready_send = s == state::empty;
          const bool ready_recv = s == state::full;
          int want_status = 0;  // select: the returned index
          switch (o) {
            case op::recv: want_status = s == state::full ? 1 : 0; break;
            case op::try_send: want_status = s == state::closed ? cl : ready_send ? ok : wb; break;
            case op::try_recv: want_status = s == state::closed ? cl : ready_recv ? ok : wb; break;
            case op::send_for: want_status = s == state::closed ? cl : ready_send ? ok : to; break;
            case op::recv_for: want_status = s == state::closed ? cl : ready_recv ? ok : to; break;
            case op::select_send_default:
            case op::select_send_timeout: want_status = ready_send ? 0 : 1; break;
            case op::select_recv_default:
            case op::select_recv_timeout:
              want_status = ready_recv || s == state::closed ? 0 : 1;
              break;
            default: break;
          }
          CHECK_MESSAGE(*status == want_status, state_names[si] << " channel, " << op_names[oi]
                                                                << ": status/index " << *status
                                                                << ", want " << want_status);
        }
      }
    });
  }
}

// Go's goroutines: a chain of greenlets, each passing the value from its right to its left.
TEST_CASE("chan.goroutines" * doctest::timeout(120)) {
  const int n = canal_test::sanitized ? 1000 : 10000;
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> leftmost(0);
      canal::chan<int> left = leftmost;
      canal::chan<int> right = leftmost;
      for (int i = 0; i < n; ++i) {
        right = canal::chan<int>(0);
        canal::go([left, right] { left.send(right.recv().value_or(-1) + 1); });
        left = right;
      }
      canal::go([right] { right.send(1); });
      auto v = leftmost.recv();
      REQUIRE(v.has_value());
      CHECK(*v == n + 1);
    });
  }
}

namespace {
struct empty {};
}  // namespace

// Channels of empty types, unbuffered and buffered (also a large buffer).
TEST_CASE("chan.zerosize" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<std::array<char, 0>> a0(0);
      canal::chan<std::array<char, 0>> a1(1);
      canal::chan<empty> e0(0);
      canal::chan<empty> e1(1);
      CHECK(a1.try_send({}) == canal::chan_status::ok);
      CHECK(a1.try_recv().ok());
      CHECK(e1.try_send(empty{}) == canal::chan_status::ok);
      CHECK(e1.size() == 1);
      CHECK(e1.try_send(empty{}) == canal::chan_status::would_block);
      CHECK(e1.try_recv().ok());

      auto t = canal::go([e0, a0] {
        for (int i = 0; i < 100; ++i) e0.send(empty{});
        a0.send({});
      });
      int got = 0;
      for (int i = 0; i < 100; ++i) got += e0.recv().has_value();
      CHECK(got == 100);
      CHECK(a0.recv().has_value());
      t.join();

      constexpr std::size_t big = 1 << 16;
      canal::chan<empty> eb(big);
      for (std::size_t i = 0; i < big; ++i) REQUIRE(eb.try_send(empty{}) == canal::chan_status::ok);
      CHECK(eb.size() == big);
      CHECK(eb.try_send(empty{}) == canal::chan_status::would_block);
      eb.close();
      std::size_t n = 0;
      for (empty x : eb) {
        (void)x;
        ++n;
      }
      CHECK(n == big);
    });
  }
}
