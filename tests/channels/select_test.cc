// canal::select and canal::selector: returned indices, handlers, timeouts, defaults, closed and
// nil cases, wake-ups, fairness over several ready cases, dynamic case lists.
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <memory>
#include <optional>
#include <random>
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

TEST_CASE("select.returns_argument_index" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> a(1), b(1), c(1);
      // Only the third argument is ready.
      c.send(3);
      int got = 0;
      std::size_t i = canal::select(canal::on_recv(a), canal::on_recv(b),
                                    canal::on_recv(c, [&](std::optional<int> v) { got = *v; }));
      CHECK(i == 2);
      CHECK(got == 3);

      // Default in the middle: its argument position is returned.
      bool dflt = false;
      i = canal::select(canal::on_recv(a), canal::on_default([&] { dflt = true; }),
                        canal::on_recv(b));
      CHECK(i == 1);
      CHECK(dflt);

      // Index counts timeouts and defaults too: a ready channel after them.
      b.send(2);
      i = canal::select(canal::on_timeout(1h), canal::on_recv(a), canal::on_default(),
                        canal::on_recv(b));
      CHECK(i == 3);

      // A send case, with a handler.
      bool sent = false;
      i = canal::select(canal::on_recv(a), canal::on_send(b, 5, [&] { sent = true; }));
      CHECK(i == 1);
      CHECK(sent);
      CHECK(b.recv() == std::optional<int>(5));

      // A receive handler taking nothing.
      a.send(1);
      int calls = 0;
      i = canal::select(canal::on_recv(b), canal::on_recv(a, [&] { ++calls; }));
      CHECK(i == 1);
      CHECK(calls == 1);

      // Only the fired case's handler runs.
      a.send(1);
      int a_calls = 0, b_calls = 0, d_calls = 0;
      i = canal::select(canal::on_recv(a, [&] { ++a_calls; }), canal::on_recv(b, [&] { ++b_calls; }),
                        canal::on_default([&] { ++d_calls; }));
      CHECK(i == 0);
      CHECK(a_calls == 1);
      CHECK(b_calls == 0);
      CHECK(d_calls == 0);

      // Timeout position: the earliest timeout fires, and its index is returned.
      int which = -1;
      i = canal::select(canal::on_timeout(1h, [&] { which = 0; }), canal::on_recv(a),
                        canal::on_timeout(10ms, [&] { which = 2; }),
                        canal::on_timeout(50ms, [&] { which = 3; }));
      CHECK(i == 2);
      CHECK(which == 2);
    });
  }
}

TEST_CASE("select.on_timeout_only_sleeps" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (auto d : {0ms, 5ms, 40ms}) {
      CAPTURE(d.count());
      in_runtime(w, [&] {
        bool fired = false;
        auto t0 = steady::now();
        std::size_t i = canal::select(canal::on_timeout(d, [&] { fired = true; }));
        auto el = since(t0);
        CHECK(i == 0);
        CHECK(fired);
        CHECK(el >= d);
        CHECK(el <= d + slack);
      });
    }
    in_runtime(w, [&] {
      // Negative duration: immediate.
      auto t0 = steady::now();
      CHECK(canal::select(canal::on_timeout(-5ms)) == 0);
      CHECK(since(t0) <= slack);

      // Other greenlets run while one sleeps in select.
      auto ran = std::make_shared<std::atomic<bool>>(false);
      auto t = canal::go([ran] { ran->store(true); });
      canal::select(canal::on_timeout(20ms));
      CHECK(ran->load());
      t.join();

      // Timeout with only nil channels: a sleep too.
      canal::chan<int> nil;
      t0 = steady::now();
      CHECK(canal::select(canal::on_recv(nil), canal::on_send(nil, 1), canal::on_timeout(30ms)) ==
            2);
      CHECK(since(t0) >= 30ms);
      // Many concurrent sleepers.
      std::vector<canal::task<void>> ts;
      auto early = std::make_shared<std::atomic<int>>(0);
      for (int k = 0; k < 100; ++k) {
        ts.push_back(canal::go([early, k] {
          auto d = std::chrono::milliseconds(k % 20);
          auto s = steady::now();
          canal::select(canal::on_timeout(d));
          if (since(s) < d) early->fetch_add(1);
        }));
      }
      canal::joinall(ts);
      CHECK(early->load() == 0);
    });
  }
}

TEST_CASE("select.ready_beats_timeout_and_default" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c(1);
      for (int k = 0; k < 100; ++k) {
        c.send(k);
        CHECK(canal::select(canal::on_timeout(0ms), canal::on_recv(c)) == 1);
        c.send(k);
        CHECK(canal::select(canal::on_default(), canal::on_recv(c)) == 1);
        CHECK(canal::select(canal::on_default(), canal::on_send(c, k)) == 1);
        CHECK(canal::select(canal::on_recv(c), canal::on_timeout(0ms), canal::on_default()) == 0);
      }
      // With nothing ready and both a default and a timeout, the default fires at once.
      auto t0 = steady::now();
      CHECK(canal::select(canal::on_recv(c), canal::on_timeout(1h), canal::on_default()) == 2);
      CHECK(since(t0) <= slack);
    });
  }
}

TEST_CASE("select.closed_cases" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> closed(1);
      closed.close();
      canal::chan<int> open(0);
      std::optional<int> got = 5;
      // A receive on a closed channel is ready and fires with nullopt.
      CHECK(canal::select(canal::on_recv(open), canal::on_recv(closed, [&](std::optional<int> v) {
                            got = v;
                          })) == 1);
      CHECK_FALSE(got.has_value());
      CHECK(canal::select(canal::on_recv(closed), canal::on_default()) == 0);
      // A closed channel with buffered values delivers them first.
      canal::chan<int> drained(2);
      drained.send(1);
      drained.send(2);
      drained.close();
      std::vector<std::optional<int>> seen;
      for (int k = 0; k < 3; ++k) {
        canal::select(canal::on_recv(drained, [&](std::optional<int> v) { seen.push_back(v); }));
      }
      REQUIRE(seen.size() == 3);
      CHECK(seen[0] == std::optional<int>(1));
      CHECK(seen[1] == std::optional<int>(2));
      CHECK(seen[2] == std::nullopt);

      // A send case on a closed channel throws channel_closed, with or without a default.
      CHECK_THROWS_AS(canal::select(canal::on_send(closed, 1)), canal::channel_closed);
      CHECK_THROWS_AS(canal::select(canal::on_send(closed, 1), canal::on_default()),
                      canal::channel_closed);
      bool handler_ran = false;
      CHECK_THROWS_AS(canal::select(canal::on_recv(open), canal::on_send(closed, 1, [&] {
                                      handler_ran = true;
                                    })),
                      canal::channel_closed);
      CHECK_FALSE(handler_ran);

      // A parked select wakes when one of its channels is closed.
      canal::chan<int> x(0), y(0);
      auto res = std::make_shared<std::atomic<int>>(-1);
      auto t = canal::go([x, y, res] {
        std::size_t i = canal::select(canal::on_recv(x), canal::on_recv(y, [res](std::optional<int> v) {
                                        if (!v) res->store(100);
                                      }));
        res->fetch_add(static_cast<int>(i));
      });
      nap(5ms);
      y.close();
      CHECK(t.wait_for(10s));
      CHECK(res->load() == 101);

      // A select parked with a send case gets channel_closed when that channel is closed.
      canal::chan<int> s(0);
      auto threw = std::make_shared<std::atomic<bool>>(false);
      auto t2 = canal::go([s, x, threw] {
        try {
          canal::select(canal::on_send(s, 1), canal::on_recv(x));
        } catch (const canal::channel_closed&) {
          threw->store(true);
        }
      });
      nap(5ms);
      s.close();
      CHECK(t2.wait_for(10s));
      CHECK(threw->load());
    });
  }
}

TEST_CASE("select.parked_wakeups" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    // A select parked on several channels is woken by a send on any one of them; the other
    // cases stay untouched (a send case's value is not delivered).
    for (std::size_t target = 0; target < 3; ++target) {
      CAPTURE(target);
      in_runtime(w, [&] {
        std::array<canal::chan<int>, 3> in{canal::chan<int>(0), canal::chan<int>(0),
                                           canal::chan<int>(0)};
        canal::chan<int> out(0);
        auto res = std::make_shared<std::atomic<long>>(-1);
        auto t = canal::go([in, out, res] {
          long val = -1;
          auto rec = [&](std::optional<int> v) { val = v.value_or(-2); };
          std::size_t i = canal::select(canal::on_recv(in[0], rec), canal::on_recv(in[1], rec),
                                        canal::on_send(out, 99), canal::on_recv(in[2], rec));
          res->store(static_cast<long>(i) * 1000 + val);
        });
        nap(2ms);
        in[target].send(static_cast<int>(target) + 10);
        CHECK(t.wait_for(10s));
        const long pos = target == 2 ? 3 : static_cast<long>(target);
        CHECK(res->load() == pos * 1000 + static_cast<long>(target) + 10);
        CHECK(out.try_recv().status == chan_status::would_block);
        for (auto& ch : in) CHECK(ch.try_send(0) == chan_status::would_block);
      });
    }
    in_runtime(w, [&] {
      // ... or by a receiver taking its send case.
      canal::chan<int> in(0), out(0);
      auto idx = std::make_shared<std::atomic<int>>(-1);
      auto t = canal::go([in, out, idx] {
        idx->store(static_cast<int>(canal::select(canal::on_recv(in), canal::on_send(out, 99))));
      });
      nap(2ms);
      CHECK(out.recv() == std::optional<int>(99));
      t.join();
      CHECK(idx->load() == 1);
      CHECK(in.try_send(0) == chan_status::would_block);
    });
  }
}

// Two parked selects complete each other (select-to-select rendezvous), many times over.
TEST_CASE("select.select_to_select" * doctest::timeout(60)) {
  const int n = scale(5000, 50000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> a(0), b(0), never_a(0), never_b(0);  // nobody else uses never_a/never_b
      auto sum = std::make_shared<std::atomic<long>>(0);
      auto rx = canal::go([a, b, never_a, sum, n] {
        for (int i = 0; i < n; ++i) {
          canal::select(canal::on_recv(a, [&](std::optional<int> v) { sum->fetch_add(*v); }),
                        canal::on_recv(b, [&](std::optional<int> v) { sum->fetch_add(*v); }),
                        canal::on_send(never_a, 0));
        }
      });
      long expect = 0;
      for (int i = 0; i < n; ++i) {
        expect += i;
        canal::select(canal::on_send(a, i), canal::on_send(b, i), canal::on_recv(never_b));
      }
      rx.join();
      CHECK(sum->load() == expect);
    });
  }
}

// Four always-ready channels: each is chosen about a quarter of the time.
TEST_CASE("select.fairness_four_ready" * doctest::timeout(60)) {
  static constexpr int trials = 40000;
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      std::array<canal::chan<int>, 4> c{canal::chan<int>(1), canal::chan<int>(1),
                                        canal::chan<int>(1), canal::chan<int>(1)};
      for (int k = 0; k < 4; ++k) c[static_cast<std::size_t>(k)].send(k);
      std::array<int, 4> counts{};
      for (int t = 0; t < trials; ++t) {
        std::size_t i =
            canal::select(canal::on_recv(c[0]), canal::on_recv(c[1]), canal::on_recv(c[2]),
                          canal::on_recv(c[3]));
        REQUIRE(i < 4);
        ++counts[i];
        c[i].send(static_cast<int>(i));
      }
      // Each count ~ Binomial(40000, 1/4): mean 10000, sd 86.6. 6 sd: P(false failure) < 1e-8.
      const bool fair = std::abs(counts[0] - trials / 4) < 6 * 87 &&
                        std::abs(counts[1] - trials / 4) < 6 * 87 &&
                        std::abs(counts[2] - trials / 4) < 6 * 87 &&
                        std::abs(counts[3] - trials / 4) < 6 * 87;
      CHECK_MESSAGE(fair, "counts " << counts[0] << " " << counts[1] << " " << counts[2] << " "
                                    << counts[3]);
    });
  }
}

// Timeouts racing signals: each value sent through a select with a timeout arrives exactly once.
TEST_CASE("select.timeout_vs_signal_stress" * doctest::timeout(120)) {
  const int n = canal_test::sanitized ? 2000 : scale(20000, 200000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c(0);
      auto sent_sum = std::make_shared<std::atomic<long>>(0);
      auto recv_sum = std::make_shared<std::atomic<long>>(0);
      auto recv_n = std::make_shared<std::atomic<long>>(0);
      auto stop = std::make_shared<std::atomic<bool>>(false);
      std::vector<canal::task<void>> senders, receivers;
      for (int s = 0; s < 4; ++s) {
        senders.push_back(canal::go([c, sent_sum, n, s] {
          for (int i = s; i < n; i += 4) {
            bool done = false;
            while (!done) {
              // On timeout, yield: an expired select need not suspend, and with one worker
              // a spinning sender would starve the receivers.
              canal::select(canal::on_send(c, i, [&] { done = true; }),
                            canal::on_timeout(std::chrono::microseconds(i % 50),
                                              [] { canal::this_task::yield(); }));
            }
            sent_sum->fetch_add(i);
          }
        }));
      }
      for (int r = 0; r < 4; ++r) {
        receivers.push_back(canal::go([c, recv_sum, recv_n, stop] {
          while (!stop->load()) {
            canal::select(canal::on_recv(c, [&](std::optional<int> v) {
                            recv_sum->fetch_add(*v);
                            recv_n->fetch_add(1);
                          }),
                          canal::on_timeout(30us, [] { canal::this_task::yield(); }));
          }
        }));
      }
      canal::joinall(senders);
      stop->store(true);
      canal::joinall(receivers);
      CHECK(recv_n->load() == n);
      CHECK(recv_sum->load() == sent_sum->load());
      CHECK(sent_sum->load() == static_cast<long>(n) * (n - 1) / 2);
    });
  }
}

TEST_CASE("select.selector.many_channels" * doctest::timeout(60)) {
  static constexpr int nch = 100;
  const int per = scale(50, 500);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      std::vector<canal::chan<int>> chans;
      for (int k = 0; k < nch; ++k) chans.emplace_back(static_cast<std::size_t>(k % 3));
      canal::selector sel;
      int last_value = -1;
      std::size_t last_from = 0;
      for (int k = 0; k < nch; ++k) {
        std::size_t idx = sel.add(canal::on_recv(chans[static_cast<std::size_t>(k)],
                                                 [&, k](std::optional<int> v) {
                                                   last_value = v.value_or(-1);
                                                   last_from = static_cast<std::size_t>(k);
                                                 }));
        CHECK(idx == static_cast<std::size_t>(k));
      }
      CHECK(sel.size() == nch);
      // Senders write the channel number into random channels.
      std::vector<canal::task<void>> ts;
      for (int s = 0; s < 4; ++s) {
        ts.push_back(canal::go([chans, per, s] {
          std::mt19937 rng(static_cast<unsigned>(s) * 7919u + 1u);
          std::uniform_int_distribution<int> pick(0, nch - 1);
          for (int i = 0; i < per * nch / 4; ++i) {
            int k = pick(rng);
            chans[static_cast<std::size_t>(k)].send(k);
          }
        }));
      }
      const int total = per * nch / 4 * 4;
      int mismatches = 0;
      std::vector<int> hist(nch, 0);
      for (int i = 0; i < total; ++i) {
        std::size_t fired = sel.select();
        if (fired != last_from || last_value != static_cast<int>(fired)) ++mismatches;
        if (fired < hist.size()) ++hist[fired];
      }
      canal::joinall(ts);
      CHECK(mismatches == 0);
      for (auto& ch : chans) CHECK(ch.size() == 0);

      // A default makes it non-blocking; its index is its add() position.
      std::size_t d = sel.add(canal::on_default());
      CHECK(d == nch);
      CHECK(sel.select() == nch);
      CHECK_THROWS_AS(sel.add(canal::on_default()), canal::error);
      // clear() empties it; an empty selector throws.
      sel.clear();
      CHECK(sel.size() == 0);
      CHECK_THROWS_AS(sel.select(), canal::error);
      // A timeout case in a selector.
      sel.add(canal::on_recv(chans[0]));
      sel.add(canal::on_timeout(20ms));
      auto t0 = steady::now();
      CHECK(sel.select() == 1);
      CHECK(since(t0) >= 20ms);
      sel.add(canal::on_default());  // allowed again after clear()
    });
  }
}

TEST_CASE("select.selector.send_cases" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      // A copyable send case sends a fresh copy every time.
      canal::chan<std::string> c(10);
      canal::selector sel;
      int sends = 0;
      sel.add(canal::on_send(c, std::string("copy me"), [&] { ++sends; }));
      for (int i = 0; i < 5; ++i) CHECK(sel.select() == 0);
      CHECK(sends == 5);
      CHECK(c.size() == 5);
      for (int i = 0; i < 5; ++i) CHECK(c.recv() == std::optional<std::string>("copy me"));

      // A move-only send case sends once, then acts as a nil case.
      canal::chan<std::unique_ptr<int>> m(10);
      canal::selector once;
      once.add(canal::on_send(m, std::make_unique<int>(7)));
      once.add(canal::on_default());
      CHECK(once.select() == 0);
      CHECK(once.select() == 1);
      CHECK(once.select() == 1);
      CHECK(m.size() == 1);
      auto v = m.recv();
      REQUIRE(v.has_value());
      REQUIRE(*v != nullptr);
      CHECK(**v == 7);

      // Mixed send and receive cases in one selector, against a partner greenlet.
      canal::chan<int> in(0), out(0);
      canal::selector mix;
      long got = 0;
      mix.add(canal::on_recv(in, [&](std::optional<int> x) { got += x.value_or(0); }));
      mix.add(canal::on_send(out, 1));
      auto p = canal::go([in, out] {
        for (int i = 0; i < 100; ++i) in.send(i);
        for (int i = 0; i < 100; ++i) (void)out.recv();
      });
      int recvs = 0, sent = 0;
      while (recvs < 100 || sent < 100) {
        if (mix.select() == 0) {
          ++recvs;
        } else {
          ++sent;
        }
      }
      p.join();
      CHECK(recvs == 100);
      CHECK(sent == 100);
      CHECK(got == 99 * 100 / 2);
    });
  }
}
