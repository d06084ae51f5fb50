// task::kill() on greenlets parked in channel operations: canal::cancelled is thrown there, the
// frame unwinds, and the channel stays consistent (a killed sender's value is not delivered, a
// killed receiver takes nothing, no value is lost or duplicated when kills race with partners).
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/channels/chan_test_helpers.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using canal::chan_status;
using canal_test::in_runtime;
using canal_test::scale;
using canal_test::tracked;
using canal_test::workers;
using chan_test::eventually;
using chan_test::item;
using chan_test::nap;
using chan_test::set_on_destroy;

namespace {

struct probe {
  std::shared_ptr<std::atomic<bool>> entered = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> caught = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> unwound = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> returned = std::make_shared<std::atomic<bool>>(false);
};

// Spawns a greenlet running op() under a probe; waits until it is (almost certainly) parked.
canal::task<void> spawn_parked(const probe& p, std::function<void()> op) {
  auto t = canal::go([p, op] {
    set_on_destroy guard{p.unwound};
    p.entered->store(true);
    try {
      op();
    } catch (const canal::cancelled&) {
      p.caught->store(true);
      throw;
    }
    p.returned->store(true);
  });
  REQUIRE(eventually([&] { return p.entered->load(); }));
  nap(5ms);
  return t;
}

void check_killed(const canal::task<void>& t, const probe& p) {
  CHECK_FALSE(t.ready());
  t.kill();
  REQUIRE(t.wait_for(10s));
  CHECK(p.caught->load());
  CHECK(p.unwound->load());
  CHECK_FALSE(p.returned->load());
  CHECK_THROWS_AS(t.get(), canal::cancelled);
}

// Waits (with a generous limit) for a greenlet that was killed or should finish soon, instead
// of join(): a lost kill then fails the test with a message instead of hanging it.
bool finishes(const canal::task<void>& t) { return t.wait_for(10s); }

// After the kill: the channel is usable, a send/recv pair between greenlets works.
void check_pair_works(const canal::chan<item>& c, long v) {
  auto got = std::make_shared<std::atomic<long>>(-1);
  auto r = canal::go([c, got] {
    auto x = c.recv();
    got->store(x ? x->v : -2);
  });
  CHECK(c.send_for(item(v), 10s) == chan_status::ok);
  r.join();
  CHECK(got->load() == v);
}

}  // namespace

TEST_CASE("chan.cancel.parked_recv" * doctest::timeout(60)) {
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (std::size_t cap : {std::size_t{0}, std::size_t{2}}) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        canal::chan<item> c(cap);
        probe p;
        auto t = spawn_parked(p, [c] { (void)c.recv(); });
        check_killed(t, p);
        // No stale receiver is left behind: an unbuffered try_send finds nobody.
        if (cap == 0) CHECK(c.try_send(item(1)) == chan_status::would_block);
        check_pair_works(c, 5);
        // Timed receive: cancelled, not timeout.
        probe q;
        auto status = std::make_shared<std::atomic<int>>(-1);
        auto t2 = spawn_parked(q, [c, status] {
          status->store(static_cast<int>(c.recv_for(1h).status));
        });
        check_killed(t2, q);
        CHECK(status->load() == -1);
        check_pair_works(c, 6);
      });
    }
    in_runtime(w, [&] {
      // On the nil channel.
      canal::chan<item> nil;
      probe p;
      auto t = spawn_parked(p, [nil] { (void)nil.recv(); });
      check_killed(t, p);
    });
    CHECK(tracked::live.load() == base);
  }
}

TEST_CASE("chan.cancel.parked_send" * doctest::timeout(60)) {
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (std::size_t cap : {std::size_t{0}, std::size_t{2}}) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        canal::chan<item> c(cap);
        for (std::size_t i = 0; i < cap; ++i) c.send(item(100 + static_cast<long>(i)));
        probe p;
        const long before = tracked::live.load();
        auto t = spawn_parked(p, [c] { c.send(item(-99)); });
        check_killed(t, p);
        // The killed sender's value was destroyed, not delivered.
        CHECK(tracked::live.load() == before);
        for (std::size_t i = 0; i < cap; ++i) {
          auto r = c.try_recv();
          REQUIRE(r.ok());
          CHECK(r->v == 100 + static_cast<long>(i));
        }
        CHECK(c.try_recv().status == chan_status::would_block);
        check_pair_works(c, 7);
        // Timed send: cancelled, value not delivered.
        for (std::size_t i = 0; i < cap; ++i) c.send(item(200));
        probe q;
        auto t2 = spawn_parked(q, [c] { (void)c.send_for(item(-98), 1h); });
        check_killed(t2, q);
        for (std::size_t i = 0; i < cap; ++i) CHECK(c.try_recv()->v == 200);
        CHECK(c.try_recv().status == chan_status::would_block);
        check_pair_works(c, 8);
      });
    }
    in_runtime(w, [&] {
      canal::chan<item> nil;
      probe p;
      auto t = spawn_parked(p, [nil] { nil.send(item(1)); });
      check_killed(t, p);
    });
    CHECK(tracked::live.load() == base);
  }
}

TEST_CASE("chan.cancel.parked_select" * doctest::timeout(60)) {
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<item> a(0), b(1), out(0);
      b.send(item(1));  // b is full: its send case is not ready
      canal::chan<item> nil;
      probe p;
      auto handler_ran = std::make_shared<std::atomic<bool>>(false);
      auto t = spawn_parked(p, [=] {
        canal::select(canal::on_recv(a, [handler_ran] { handler_ran->store(true); }),
                      canal::on_send(b, item(-1), [handler_ran] { handler_ran->store(true); }),
                      canal::on_send(out, item(-2), [handler_ran] { handler_ran->store(true); }),
                      canal::on_recv(nil, [handler_ran] { handler_ran->store(true); }));
      });
      check_killed(t, p);
      CHECK_FALSE(handler_ran->load());
      // Nothing of the select is left in any queue.
      CHECK(out.try_recv().status == chan_status::would_block);
      CHECK(a.try_send(item(3)) == chan_status::would_block);
      CHECK(b.size() == 1);
      CHECK(b.try_recv()->v == 1);
      CHECK(b.try_recv().status == chan_status::would_block);
      check_pair_works(a, 9);
      check_pair_works(out, 10);
      // A select with a far timeout: cancelled, not timed out.
      probe q;
      auto idx = std::make_shared<std::atomic<int>>(-1);
      auto t2 = spawn_parked(q, [=] {
        idx->store(static_cast<int>(canal::select(canal::on_recv(a), canal::on_timeout(1h))));
      });
      check_killed(t2, q);
      CHECK(idx->load() == -1);
      check_pair_works(a, 11);
      // A selector.
      probe s;
      auto t3 = spawn_parked(s, [=] {
        canal::selector sel;
        sel.add(canal::on_recv(a));
        sel.add(canal::on_send(out, item(-3)));
        (void)sel.select();
      });
      check_killed(t3, s);
      CHECK(out.try_recv().status == chan_status::would_block);
      check_pair_works(out, 12);
    });
    CHECK(tracked::live.load() == base);
  }
}

// kill() racing a sender that targets the parked receiver: the value is delivered exactly once
// (to the receiver, or, if the kill won, it stays with the sender and is received afterwards).
TEST_CASE("chan.cancel.kill_vs_send_race" * doctest::timeout(120)) {
  const int iters = canal_test::sanitized ? 300 : scale(5000, 50000);
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      int lost = 0, dup = 0, wrong = 0, stuck = 0, delivered_to_receiver = 0, via_select = 0;
      for (int i = 0; i < iters; ++i) {
        const bool use_select = i % 3 == 2;
        canal::chan<item> c(0), other(0);
        auto got = std::make_shared<std::atomic<long>>(-1);
        auto r = canal::go([c, other, got, use_select] {
          if (use_select) {
            canal::select(canal::on_recv(other), canal::on_recv(c, [&](std::optional<item> v) {
                            got->store(v ? v->v : -2);
                          }));
          } else {
            auto v = c.recv();
            got->store(v ? v->v : -2);
          }
        });
        canal::task<void> s;
        switch (i % 4) {
          case 0:
            canal::this_task::yield();
            s = canal::go([c, i] { c.send(item(i)); });
            r.kill();
            break;
          case 1:
            s = canal::go([c, i] { c.send(item(i)); });
            r.kill();
            break;
          case 2:
            s = canal::go([c, i] { c.send(item(i)); });
            canal::this_task::yield();
            r.kill();
            break;
          default:
            nap(std::chrono::microseconds(i % 50));
            s = canal::go([c, i] { c.send(item(i)); });
            nap(std::chrono::microseconds(i % 7));
            r.kill();
            break;
        }
        if (!finishes(r)) {
          ++stuck;
          MESSAGE("iteration " << i << " (variant " << i % 4 << ", select " << use_select
                               << "): the killed receiver did not finish within 10 s");
          break;
        }
        const long g = got->load();
        if (g == i) {
          ++delivered_to_receiver;
          via_select += use_select;
          if (!s.wait_for(10s)) ++lost;  // the sender must have completed
        } else if (g == -1) {
          // The kill won: the sender still holds its value; it must arrive here exactly once.
          auto v = c.recv_for(10s);
          if (!v.ok()) {
            ++lost;
          } else if (v->v != i) {
            ++wrong;
          }
          if (!finishes(s)) ++stuck;
        } else {
          ++wrong;
        }
        if (c.try_recv().status != chan_status::would_block) ++dup;
        if (c.try_send(item(-5)) != chan_status::would_block) ++dup;
        if (!s.ready()) {
          s.kill();
          if (!finishes(s)) ++stuck;
        }
      }
      CHECK(stuck == 0);
      CHECK(lost == 0);
      CHECK(dup == 0);
      CHECK(wrong == 0);
      MESSAGE("w=" << w << ": receiver got the value in " << delivered_to_receiver << " of "
                   << iters << " races (" << via_select << " via select)");
    });
    CHECK(tracked::live.load() == base);
  }
}

// kill() racing a receiver that targets the parked sender: the value is delivered only if the
// sender's send() returned normally.
TEST_CASE("chan.cancel.kill_sender_vs_recv_race" * doctest::timeout(120)) {
  const int iters = canal_test::sanitized ? 300 : scale(5000, 50000);
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      int bad = 0, stuck = 0, sender_won = 0;
      for (int i = 0; i < iters; ++i) {
        const std::size_t cap = static_cast<std::size_t>(i % 2);
        canal::chan<item> c(cap);
        if (cap) c.send(item(-10));  // full: the sender parks
        const bool use_select = i % 3 == 1;
        auto s = canal::go([c, i, use_select] {
          if (use_select) {
            canal::chan<item> nil;
            canal::select(canal::on_send(c, item(i)), canal::on_recv(nil));
          } else {
            c.send(item(i));
          }
        });
        auto got = std::make_shared<std::vector<long>>();
        auto r = canal::go([c, got, cap] {
          for (std::size_t k = 0; k < cap + 1; ++k) got->push_back(c.recv().value_or(item(-30)).v);
        });
        if (i % 2) canal::this_task::yield();
        s.kill();
        if (!finishes(s)) {
          ++stuck;
          MESSAGE("iteration " << i << " (cap " << cap << ", select " << use_select
                               << "): the killed sender did not finish within 10 s");
          break;
        }
        const bool sent = s.successful();
        sender_won += sent;
        // If the kill won, the receiver still waits for one value: hand it a replacement.
        if (!sent && c.send_for(item(-20), 10s) != chan_status::ok) ++bad;
        if (!finishes(r)) {
          ++stuck;
          break;
        }
        std::vector<long> all = *got;
        while (auto v = c.try_recv()) all.push_back(v->v);
        std::vector<long> expect;
        if (cap) expect.push_back(-10);
        expect.push_back(sent ? i : -20);
        if (all != expect) ++bad;
      }
      CHECK(stuck == 0);
      CHECK(bad == 0);
      MESSAGE("w=" << w << ": the sender completed in " << sender_won << " of " << iters
                   << " races");
    });
    CHECK(tracked::live.load() == base);
  }
}

// kill() right after go(): the greenlet either never runs or is cancelled at its first channel
// operation; either way it finishes promptly and sends nothing.
TEST_CASE("chan.cancel.killed_right_after_spawn" * doctest::timeout(120)) {
  const int iters = canal_test::sanitized ? 300 : scale(5000, 50000);
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      int stuck = 0, leaked = 0, ran = 0;
      for (int i = 0; i < iters; ++i) {
        canal::chan<item> c(0);
        auto started = std::make_shared<std::atomic<bool>>(false);
        auto s = canal::go([c, started, i] {
          started->store(true);
          c.send(item(i));
        });
        s.kill();
        if (!finishes(s)) {
          ++stuck;
          MESSAGE("iteration " << i << ": a greenlet killed right after go() did not finish "
                                  "within 10 s (started: "
                               << started->load() << ")");
          break;
        }
        ran += started->load();
        if (c.try_recv().status != chan_status::would_block) ++leaked;
      }
      CHECK(stuck == 0);
      CHECK(leaked == 0);
      MESSAGE("w=" << w << ": " << ran << " of " << iters << " killed greenlets had started");
    });
    CHECK(tracked::live.load() == base);
  }
}

// Greenlets parked in channel operations when main returns are cancelled: cancelled is thrown
// in each, destructors run.
TEST_CASE("chan.cancel.runtime_shutdown" * doctest::timeout(60)) {
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    std::vector<probe> probes(40);
    in_runtime(w, [&] {
      canal::chan<item> u(0), full(1), nil;
      full.send(item(0));
      for (std::size_t i = 0; i < probes.size(); ++i) {
        probe p = probes[i];
        std::function<void()> op;
        switch (i % 5) {
          case 0: op = [u] { (void)u.recv(); }; break;
          case 1: op = [full] { full.send(item(1)); }; break;
          case 2: op = [nil] { nil.send(item(2)); }; break;
          case 3:
            op = [u, full] { canal::select(canal::on_send(full, item(3)), canal::on_send(u, item(4))); };
            break;
          default: op = [u] { (void)u.recv_for(1h); }; break;
        }
        canal::go([p, op] {
          set_on_destroy guard{p.unwound};
          p.entered->store(true);
          try {
            op();
          } catch (const canal::cancelled&) {
            p.caught->store(true);
            throw;
          }
          p.returned->store(true);
        });
      }
      // Receivers and senders on u may pair up; wait until every greenlet has started.
      REQUIRE(eventually([&] {
        for (auto& p : probes) {
          if (!p.entered->load()) return false;
        }
        return true;
      }));
      nap(5ms);
    });
    int parked = 0, cancelled = 0, unwound = 0;
    for (auto& p : probes) {
      if (!p.returned->load()) {
        ++parked;
        cancelled += p.caught->load();
      }
      unwound += p.unwound->load();
    }
    CHECK(parked > 0);
    CHECK(cancelled == parked);
    CHECK(unwound == static_cast<int>(probes.size()));
    CHECK(tracked::live.load() == base);
  }
}
