// canal::chan<T> API semantics: try_* and timed operations and their statuses, misuse errors,
// the nil channel, range-for, send_chan/recv_chan views, size()/capacity(), copies.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "tests/channels/chan_test_helpers.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using canal::chan_status;
using canal_test::in_runtime;
using canal_test::scale;
using canal_test::slack;
using canal_test::workers;
using chan_test::eventually;
using chan_test::nap;
using chan_test::since;
using chan_test::steady;

TEST_CASE("chan.try.status" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      // Buffered: ok until full, then would_block; after close, the buffer drains, then closed.
      canal::chan<int> b(2);
      CHECK(b.try_recv().status == chan_status::would_block);
      CHECK(b.try_send(1) == chan_status::ok);
      CHECK(b.try_send(2) == chan_status::ok);
      CHECK(b.try_send(3) == chan_status::would_block);
      CHECK(b.size() == 2);
      auto r = b.try_recv();
      CHECK(r.ok());
      CHECK(static_cast<bool>(r));
      CHECK(*r == 1);
      CHECK(b.try_send(3) == chan_status::ok);
      b.close();
      CHECK(b.try_send(4) == chan_status::closed);
      r = b.try_recv();
      REQUIRE(r.ok());
      CHECK(*r == 2);
      r = b.try_recv();
      REQUIRE(r.ok());
      CHECK(*r == 3);
      r = b.try_recv();
      CHECK(r.status == chan_status::closed);
      CHECK_FALSE(r.value.has_value());
      CHECK_FALSE(static_cast<bool>(r));

      // Unbuffered: nothing can complete without a partner.
      canal::chan<int> u(0);
      CHECK(u.try_send(1) == chan_status::would_block);
      CHECK(u.try_recv().status == chan_status::would_block);

      // ... but a parked receiver makes try_send succeed, and a parked sender try_recv.
      auto got = std::make_shared<std::atomic<int>>(0);
      auto rt = canal::go([u, got] { got->store(u.recv().value_or(-1)); });
      CHECK(eventually([&] { return u.try_send(42) == chan_status::ok; }));
      rt.join();
      CHECK(got->load() == 42);

      auto st = canal::go([u] { u.send(43); });
      std::optional<int> v;
      CHECK(eventually([&] {
        auto rr = u.try_recv();
        if (rr.ok()) v = *rr;
        return rr.ok();
      }));
      CHECK(v == std::optional<int>(43));
      st.join();

      // A failed try_send leaves the value with the caller.
      canal::chan<std::string> s(1);
      std::string first = "first, long enough to defeat the small string optimisation";
      std::string second = "second, long enough to defeat the small string optimisation";
      CHECK(s.try_send(std::move(first)) == chan_status::ok);
      CHECK(s.try_send(std::move(second)) == chan_status::would_block);
      CHECK(second == "second, long enough to defeat the small string optimisation");
      s.close();
      std::string third = "third, long enough to defeat the small string optimisation";
      CHECK(s.try_send(std::move(third)) == chan_status::closed);
      CHECK(third == "third, long enough to defeat the small string optimisation");
      const std::string lvalue = "lvalue";
      CHECK(s.try_send(lvalue) == chan_status::closed);
      CHECK(lvalue == "lvalue");
    });
  }
}

TEST_CASE("chan.timed.timeout" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> e(1);  // empty
      canal::chan<int> f(1);  // full
      f.send(1);
      canal::chan<int> u(0);

      for (auto d : {1ms, 20ms, 50ms}) {
        auto t0 = steady::now();
        auto r = e.recv_for(d);
        auto el = since(t0);
        CHECK(r.status == chan_status::timeout);
        CHECK_FALSE(r.value.has_value());
        CHECK(el >= d);
        CHECK(el <= d + slack);

        t0 = steady::now();
        r = u.recv_for(d);
        el = since(t0);
        CHECK(r.status == chan_status::timeout);
        CHECK(el >= d);
        CHECK(el <= d + slack);

        std::string keep = "kept on timeout, long enough to defeat the small string optimisation";
        canal::chan<std::string> fs(0);
        t0 = steady::now();
        CHECK(fs.send_for(std::move(keep), d) == chan_status::timeout);
        el = since(t0);
        CHECK(keep == "kept on timeout, long enough to defeat the small string optimisation");
        CHECK(el >= d);
        CHECK(el <= d + slack);

        t0 = steady::now();
        CHECK(f.send_for(2, d) == chan_status::timeout);
        el = since(t0);
        CHECK(el >= d);
        CHECK(el <= d + slack);
        CHECK(f.size() == 1);
      }

      // *_until with steady_clock and with system_clock deadlines.
      auto t0 = steady::now();
      auto r = e.recv_until(t0 + 30ms);
      CHECK(r.status == chan_status::timeout);
      CHECK(since(t0) >= 30ms);
      t0 = steady::now();
      CHECK(f.send_until(2, t0 + 30ms) == chan_status::timeout);
      CHECK(since(t0) >= 30ms);
      t0 = steady::now();
      r = e.recv_until(std::chrono::system_clock::now() + 30ms);
      CHECK(r.status == chan_status::timeout);
      CHECK(since(t0) >= 25ms);  // system_clock -> steady conversion may lose a little
      CHECK(since(t0) <= 30ms + slack);

      // Deadlines already passed: timeout at once (not would_block), unless ready.
      t0 = steady::now();
      CHECK(e.recv_for(0ms).status == chan_status::timeout);
      CHECK(e.recv_for(-5ms).status == chan_status::timeout);
      CHECK(e.recv_until(steady::now() - 1s).status == chan_status::timeout);
      CHECK(f.send_for(3, 0ms) == chan_status::timeout);
      CHECK(f.send_for(3, -1s) == chan_status::timeout);
      CHECK(since(t0) <= slack);
      auto ready = f.recv_for(0ms);
      CHECK(ready.status == chan_status::ok);
      CHECK(ready.value == std::optional<int>(1));
      CHECK(e.send_for(5, 0ms) == chan_status::ok);
      CHECK(e.recv_for(-1ms).value == std::optional<int>(5));
    });
  }
}

TEST_CASE("chan.timed.completes_before_deadline" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> u(0);
      // A partner arriving before the deadline completes the operation.
      auto s = canal::go([u] {
        canal::this_task::sleep_for(20ms);
        u.send(7);
      });
      auto t0 = steady::now();
      auto r = u.recv_for(30s);
      CHECK(r.status == chan_status::ok);
      CHECK(*r == 7);
      CHECK(since(t0) < 20s);
      s.join();

      auto got = std::make_shared<std::atomic<int>>(0);
      auto rv = canal::go([u, got] {
        canal::this_task::sleep_for(20ms);
        got->store(u.recv().value_or(-1));
      });
      t0 = steady::now();
      CHECK(u.send_for(8, 30s) == chan_status::ok);
      CHECK(since(t0) < 20s);
      rv.join();
      CHECK(got->load() == 8);

      // Closing wakes timed waiters with "closed", long before their deadline.
      canal::chan<int> c(0), d(0);
      auto closer = canal::go([c, d] {
        canal::this_task::sleep_for(20ms);
        c.close();
        d.close();
      });
      auto rs = std::make_shared<std::atomic<int>>(-1);
      auto sender = canal::go([d, rs] { rs->store(static_cast<int>(d.send_for(1, 30s))); });
      t0 = steady::now();
      CHECK(c.recv_for(30s).status == chan_status::closed);
      CHECK(since(t0) < 20s);
      sender.join();
      closer.join();
      CHECK(rs->load() == static_cast<int>(chan_status::closed));
    });
  }
}

// Many concurrent timed waiters: each times out on its own, none early.
TEST_CASE("chan.timed.many_waiters" * doctest::timeout(60)) {
  const int n = scale(200, 2000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> shared(0);
      auto early = std::make_shared<std::atomic<int>>(0);
      auto wrong = std::make_shared<std::atomic<int>>(0);
      std::vector<canal::task<void>> ts;
      for (int i = 0; i < n; ++i) {
        auto d = std::chrono::milliseconds(5 + i % 30);
        ts.push_back(canal::go([shared, d, early, wrong, i] {
          auto t0 = steady::now();
          chan_status s = i % 2 ? shared.recv_for(d).status : shared.send_for(i, d);
          if (s != chan_status::timeout) {
            wrong->fetch_add(1);
          } else if (since(t0) < d) {
            early->fetch_add(1);
          }
        }));
      }
      canal::joinall(ts);
      // Senders and receivers on one unbuffered channel may pair up: that is ok, not a timeout.
      // Only early wakeups are errors; pairs must come in twos.
      CHECK(early->load() == 0);
      CHECK(wrong->load() % 2 == 0);
    });
  }
}

TEST_CASE("chan.misuse.closed" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c(1);
      c.close();
      CHECK_THROWS_AS(c.send(1), canal::channel_closed);
      CHECK_THROWS_AS(c.close(), canal::channel_closed);
      CHECK_THROWS_AS(canal::chan<int>().close(), canal::channel_closed);
      CHECK_THROWS_AS(canal::send_chan<int>(c).close(), canal::channel_closed);
      CHECK_THROWS_AS(canal::send_chan<int>(c).send(1), canal::channel_closed);
      // channel_closed is a canal::error and a std::exception.
      try {
        c.send(2);
        FAIL("send on a closed channel did not throw");
      } catch (const canal::error& e) {
        CHECK(dynamic_cast<const canal::channel_closed*>(&e) != nullptr);
      }
      // Timed and try sends report instead of throwing.
      CHECK(c.try_send(3) == chan_status::closed);
      CHECK(c.send_for(3, 10ms) == chan_status::closed);
      CHECK(c.send_until(3, steady::now() + 10ms) == chan_status::closed);
      CHECK(c.recv_for(10ms).status == chan_status::closed);
    });
    // A parked sender (unbuffered, and on a full buffer) gets channel_closed at close().
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
      CAPTURE(cap);  // (doctest contexts are thread_local: set them outside greenlets)
      in_runtime(w, [&] {
        canal::chan<int> p(cap);
        if (cap) p.send(0);
        auto entered = std::make_shared<std::atomic<bool>>(false);
        auto threw = std::make_shared<std::atomic<bool>>(false);
        auto t = canal::go([p, entered, threw] {
          entered->store(true);
          try {
            p.send(1);
          } catch (const canal::channel_closed&) {
            threw->store(true);
          }
        });
        REQUIRE(eventually([&] { return entered->load(); }));
        nap(5ms);
        CHECK_FALSE(t.ready());
        p.close();
        CHECK(t.wait_for(10s));
        CHECK(threw->load());
        // The buffered value is still there; the parked sender's is not.
        if (cap) CHECK(p.recv() == std::optional<int>(0));
        CHECK_FALSE(p.recv().has_value());
      });
    }
  }
}

TEST_CASE("chan.nil" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> n;
      CHECK(n.is_nil());
      CHECK(canal::chan<int>(0).is_nil() == false);
      CHECK(n == canal::chan<int>());
      CHECK(n.size() == 0);
      CHECK(n.capacity() == 0);
      CHECK(n.try_send(1) == chan_status::would_block);
      CHECK(n.try_recv().status == chan_status::would_block);
      CHECK(canal::select(canal::on_recv(n), canal::on_default()) == 1);
      CHECK(canal::select(canal::on_send(n, 1), canal::on_default()) == 1);
      auto t0 = steady::now();
      CHECK(n.recv_for(30ms).status == chan_status::timeout);
      CHECK(since(t0) >= 30ms);
      CHECK(since(t0) <= 30ms + slack);
      t0 = steady::now();
      CHECK(n.send_for(1, 30ms) == chan_status::timeout);
      CHECK(since(t0) >= 30ms);
      CHECK_THROWS_AS(n.close(), canal::channel_closed);
      // A nil case next to a ready one: the ready one always wins.
      canal::chan<int> r(1);
      for (int i = 0; i < 20; ++i) {
        r.send(i);
        CHECK(canal::select(canal::on_recv(n), canal::on_recv(r), canal::on_send(n, 3)) == 1);
      }
      // Views of nil are nil.
      CHECK(canal::send_chan<int>(n).is_nil());
      CHECK(canal::recv_chan<int>(n).is_nil());
      CHECK(canal::send_chan<int>().is_nil());
      CHECK(canal::recv_chan<int>().try_recv().status == chan_status::would_block);
    });
  }
}

TEST_CASE("chan.range" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{16}}) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        canal::chan<int> c(cap);
        auto p = canal::go([c] {
          for (int i = 0; i < 100; ++i) c.send(i);
          c.close();
        });
        int expect = 0;
        bool in_order = true;
        for (int v : c) in_order = in_order && v == expect++;
        CHECK(in_order);
        CHECK(expect == 100);
        p.join();
        // Ranging over a closed, drained channel ends at once.
        int more = 0;
        for (int v : c) more += v + 1;
        CHECK(more == 0);
      });
    }
    in_runtime(w, [&] {
      // Closed with buffered values: range drains them first. Also through recv_chan.
      canal::chan<std::string> s(3);
      s.send("a");
      s.send("b");
      s.send("c");
      s.close();
      std::string all;
      canal::recv_chan<std::string> rs = s;
      for (const std::string& v : rs) all += v;
      CHECK(all == "abc");
      // Iterator details: begin() on an empty closed channel equals end().
      CHECK(s.begin() == s.end());
    });
  }
}

namespace {
void produce(canal::send_chan<int> out, int n) {
  for (int i = 0; i < n; ++i) out.send(i);
  out.close();
}
long consume(canal::recv_chan<int> in) {
  long s = 0;
  for (int v : in) s += v;
  return s;
}
}  // namespace

TEST_CASE("chan.views" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c(4);
      canal::send_chan<int> s = c;
      canal::recv_chan<int> r = c;
      CHECK(s.core() == c.core());
      CHECK(r.core() == c.core());
      CHECK(s.capacity() == 4);
      CHECK(r.capacity() == 4);
      s.send(1);
      CHECK(s.try_send(2) == chan_status::ok);
      CHECK(s.send_for(3, 10ms) == chan_status::ok);
      int four = 4;
      CHECK(s.try_send(four) == chan_status::ok);
      CHECK(s.size() == 4);
      CHECK(r.size() == 4);
      CHECK(s.send_until(5, steady::now() + 5ms) == chan_status::timeout);
      CHECK(r.recv() == std::optional<int>(1));
      CHECK(*r.try_recv() == 2);
      CHECK(*r.recv_for(10ms) == 3);
      CHECK(*r.recv_until(steady::now() + 10ms) == 4);
      CHECK(r.recv_for(1ms).status == chan_status::timeout);

      // select through views.
      CHECK(canal::select(canal::on_send(s, 9)) == 0);
      int got = 0;
      CHECK(canal::select(canal::on_recv(r, [&](std::optional<int> v) { got = v.value_or(-1); })) ==
            0);
      CHECK(got == 9);

      // Functions taking views, fed a chan implicitly.
      canal::chan<int> pipe(0);
      auto p = canal::go(produce, canal::send_chan<int>(pipe), 100);
      CHECK(consume(pipe) == 99 * 100 / 2);
      p.join();
      s.close();
      CHECK(r.recv() == std::nullopt);
    });
  }
}

TEST_CASE("chan.size_capacity" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c(3);
      CHECK(c.capacity() == 3);
      CHECK(c.size() == 0);
      c.send(1);
      CHECK(c.size() == 1);
      c.send(2);
      c.send(3);
      CHECK(c.size() == 3);
      // A parked sender on a full buffer does not count.
      auto t = canal::go([c] { c.send(4); });
      nap(5ms);
      CHECK(c.size() == 3);
      (void)c.recv();
      t.join();
      CHECK(c.size() == 3);  // the parked value moved into the buffer
      c.close();
      CHECK(c.size() == 3);
      CHECK(c.capacity() == 3);
      (void)c.recv();
      CHECK(c.size() == 2);

      // Unbuffered: always 0, even with parked senders.
      canal::chan<int> u(0);
      CHECK(u.capacity() == 0);
      auto t2 = canal::go([u] { u.send(1); });
      nap(5ms);
      CHECK(u.size() == 0);
      (void)u.recv();
      t2.join();

      canal::chan<int> big(100000);
      CHECK(big.capacity() == 100000);
    });
  }
}

TEST_CASE("chan.copies_share_one_channel" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> a(2);
      canal::chan<int> b = a;
      canal::chan<int> c;
      CHECK(c.is_nil());
      c = b;
      CHECK(a == b);
      CHECK(a == c);
      CHECK_FALSE(a == canal::chan<int>(2));
      a.send(1);
      CHECK(b.size() == 1);
      CHECK(c.recv() == std::optional<int>(1));
      canal::chan<int> moved = std::move(b);
      CHECK(moved == a);
      // The channel lives as long as any reference: the main greenlet drops all of its own
      // while a greenlet still uses it.
      canal::chan<int> result(1);
      canal::task<void> t;
      {
        canal::chan<int> tmp(0);
        t = canal::go([tmp, result] {
          result.send(tmp.recv().value_or(-1));
        });
        auto feeder = canal::go([tmp] { tmp.send(77); });
        (void)feeder;
      }
      CHECK(result.recv() == std::optional<int>(77));
      t.join();
    });
  }
}

namespace {
// Move-constructible only: no assignment at all.
struct no_assign {
  int v;
  explicit no_assign(int x) : v(x) {}
  no_assign(no_assign&& o) noexcept : v(o.v) {}
  no_assign& operator=(no_assign&&) = delete;
  no_assign& operator=(const no_assign&) = delete;
};
}  // namespace

TEST_CASE("chan.value_needs_only_move_construction" * doctest::timeout(30)) {
  canal::chan<no_assign> c(4);
  c.send(no_assign(1));
  c.send(no_assign(2));
  c.send(no_assign(3));
  c.close();
  auto r = c.try_recv();
  REQUIRE(r.ok());
  int sum = r->v;
  for (no_assign x : c) sum += x.v;  // by value: moved out of the iterator (T&&)
  CHECK(sum == 6);
  CHECK(c.recv_for(std::chrono::milliseconds(1)).status == chan_status::closed);
}
