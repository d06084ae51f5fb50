// Ports of Go's runtime/chan_test.go (re-implemented by name and semantics on canal).
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include "tests/channels/chan_test_helpers.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::scale;
using canal_test::workers;
using chan_test::nap;

TEST_CASE("chan.TestChan" * doctest::timeout(120)) {
  const int n_caps = scale(20, 200);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (int cap = 0; cap < n_caps; ++cap) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        const auto ucap = static_cast<std::size_t>(cap);
        {
          // A receive from an empty channel blocks; a non-blocking receive does not.
          canal::chan<int> c(ucap);
          auto recv1 = std::make_shared<std::atomic<bool>>(false);
          auto recv2 = std::make_shared<std::atomic<bool>>(false);
          auto t1 = canal::go([c, recv1] {
            (void)c.recv();
            recv1->store(true);
          });
          auto t2 = canal::go([c, recv2] {
            auto r = c.recv();
            (void)r.has_value();
            recv2->store(true);
          });
          nap(1ms);
          CHECK_FALSE(recv1->load());
          CHECK_FALSE(recv2->load());
          CHECK(c.try_recv().status == canal::chan_status::would_block);
          std::size_t fired = canal::select(canal::on_recv(c), canal::on_default());
          CHECK(fired == 1);
          c.send(0);
          c.send(0);
          t1.join();
          t2.join();
          CHECK(recv1->load());
          CHECK(recv2->load());
        }
        {
          // A send to a full channel blocks; a non-blocking send does not.
          canal::chan<int> c(ucap);
          for (int i = 0; i < cap; ++i) c.send(i);
          auto sent = std::make_shared<std::atomic<bool>>(false);
          auto t = canal::go([c, sent] {
            c.send(0);
            sent->store(true);
          });
          nap(1ms);
          CHECK_FALSE(sent->load());
          CHECK(c.try_send(0) == canal::chan_status::would_block);
          std::size_t fired = canal::select(canal::on_send(c, 0), canal::on_default());
          CHECK(fired == 1);
          (void)c.recv();
          t.join();
          CHECK(sent->load());
        }
        {
          // Buffered values survive close, in order; then a closed channel yields nothing.
          canal::chan<int> c(ucap);
          for (int i = 0; i < cap; ++i) c.send(i);
          c.close();
          for (int i = 0; i < cap; ++i) {
            auto v = c.recv();
            REQUIRE(v.has_value());
            CHECK(*v == i);
          }
          CHECK_FALSE(c.recv().has_value());
          auto r = c.try_recv();
          CHECK(r.status == canal::chan_status::closed);
          CHECK_FALSE(r.value.has_value());
        }
        {
          // close() unblocks a parked receiver, which sees "closed".
          canal::chan<int> c(ucap);
          canal::chan<bool> done(0);
          auto t = canal::go([c, done] {
            auto v = c.recv();
            done.send(!v.has_value());
          });
          nap(1ms);
          c.close();
          auto ok = done.recv();
          REQUIRE(ok.has_value());
          CHECK(*ok);
          t.join();
        }
        {
          // 100 values from one sender arrive uncorrupted and in FIFO order (twice: recv and
          // try/timed receive flavours).
          canal::chan<int> c(ucap);
          auto s1 = canal::go([c] {
            for (int i = 0; i < 100; ++i) c.send(i);
          });
          for (int i = 0; i < 100; ++i) {
            auto v = c.recv();
            REQUIRE(v.has_value());
            CHECK(*v == i);
          }
          s1.join();
          auto s2 = canal::go([c] {
            for (int i = 0; i < 100; ++i) c.send(i);
          });
          for (int i = 0; i < 100; ++i) {
            auto r = c.recv_for(30s);
            REQUIRE(r.status == canal::chan_status::ok);
            CHECK(*r == i);
          }
          s2.join();

          // 4 senders x 1000 values, 4 receivers: every value arrives exactly P times.
          constexpr int P = 4;
          constexpr int L = 1000;
          std::vector<canal::task<void>> ts;
          for (int p = 0; p < P; ++p) {
            ts.push_back(canal::go([c] {
              for (int i = 0; i < L; ++i) c.send(i);
            }));
          }
          canal::chan<std::vector<int>> done(0);
          for (int p = 0; p < P; ++p) {
            ts.push_back(canal::go([c, done] {
              std::vector<int> got(L, 0);
              for (int i = 0; i < L; ++i) {
                auto v = c.recv();
                if (v && *v >= 0 && *v < L) ++got[static_cast<std::size_t>(*v)];
              }
              done.send(std::move(got));
            }));
          }
          std::vector<int> total(L, 0);
          for (int p = 0; p < P; ++p) {
            auto got = done.recv();
            REQUIRE(got.has_value());
            for (int i = 0; i < L; ++i) total[static_cast<std::size_t>(i)] += (*got)[static_cast<std::size_t>(i)];
          }
          canal::joinall(ts);
          int bad = 0;
          for (int i = 0; i < L; ++i) bad += total[static_cast<std::size_t>(i)] != P;
          CHECK(bad == 0);
        }
        {
          // len/cap.
          canal::chan<int> c(ucap);
          CHECK(c.size() == 0);
          CHECK(c.capacity() == ucap);
          for (int i = 0; i < cap; ++i) c.send(i);
          CHECK(c.size() == ucap);
          CHECK(c.capacity() == ucap);
        }
      });
    }
  }
}

TEST_CASE("chan.TestNonblockRecvRace" * doctest::timeout(60)) {
  const int n = scale(1000, 10000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      std::atomic<int> not_ready{0};
      for (int i = 0; i < n; ++i) {
        canal::chan<int> c(1);
        c.send(1);
        auto t = canal::go([c, &not_ready] {
          std::size_t k = canal::select(canal::on_recv(c), canal::on_default());
          if (k != 0) not_ready.fetch_add(1);
        });
        c.close();
        (void)c.recv();
        t.join();
      }
      CHECK(not_ready.load() == 0);
    });
  }
}

// select acts on the state of the channels at one moment, not over a smeared window: from the
// moment the selecting greenlet exists, c1 or c2 is ready, so the default must never fire.
TEST_CASE("chan.TestNonblockSelectRace" * doctest::timeout(120)) {
  const int n = canal_test::sanitized ? 1000 : scale(10000, 100000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<bool> done(1);
      int failures = 0;
      for (int i = 0; i < n; ++i) {
        canal::chan<int> c1(1);
        canal::chan<int> c2(1);
        c1.send(1);
        canal::go([c1, c2, done] {
          std::size_t k =
              canal::select(canal::on_recv(c1), canal::on_recv(c2), canal::on_default());
          done.send(k != 2);
        });
        c2.send(1);
        canal::select(canal::on_recv(c1), canal::on_default());
        auto ok = done.recv();
        if (!ok || !*ok) ++failures;
      }
      CHECK(failures == 0);
    });
  }
}

// Same, but close(c2) replaces c2 <- 1.
TEST_CASE("chan.TestNonblockSelectRace2" * doctest::timeout(120)) {
  const int n = canal_test::sanitized ? 1000 : scale(10000, 100000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<bool> done(1);
      int failures = 0;
      for (int i = 0; i < n; ++i) {
        canal::chan<int> c1(1);
        canal::chan<int> c2(0);
        c1.send(1);
        canal::go([c1, c2, done] {
          std::size_t k =
              canal::select(canal::on_recv(c1), canal::on_recv(c2), canal::on_default());
          done.send(k != 2);
        });
        c2.close();
        canal::select(canal::on_recv(c1), canal::on_default());
        auto ok = done.recv();
        if (!ok || !*ok) ++failures;
      }
      CHECK(failures == 0);
    });
  }
}

// send and receive of the same channel in one select neither crash nor deadlock, and an
// unbuffered select never receives its own send.
TEST_CASE("chan.TestSelfSelect" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (std::size_t cap : {std::size_t{0}, std::size_t{10}}) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        canal::chan<int> c(cap);
        std::atomic<int> self_recv{0};
        std::vector<canal::task<void>> ts;
        for (int p = 0; p < 2; ++p) {
          ts.push_back(canal::go([c, p, cap, &self_recv] {
            for (int i = 0; i < 1000; ++i) {
              auto on_v = [&](std::optional<int> v) {
                if (cap == 0 && v && *v == p) self_recv.fetch_add(1);
              };
              if (p == 0 || i % 2 == 0) {
                canal::select(canal::on_send(c, p), canal::on_recv(c, on_v));
              } else {
                canal::select(canal::on_recv(c, on_v), canal::on_send(c, p));
              }
            }
          }));
        }
        CHECK(canal::joinall(ts, std::chrono::nanoseconds(30s)));
        CHECK(self_recv.load() == 0);
        for (auto& t : ts) {
          if (!t.ready()) t.kill();
        }
        canal::joinall(ts);
      });
    }
  }
}

TEST_CASE("chan.TestSelectStress" * doctest::timeout(120)) {
  const int N = canal_test::sanitized ? 1000 : scale(10000, 100000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      std::array<canal::chan<int>, 4> c{canal::chan<int>(0), canal::chan<int>(0),
                                        canal::chan<int>(2), canal::chan<int>(3)};
      std::vector<canal::task<void>> ts;
      // 4 greenlets send N values on each channel, 4 receive N from each.
      for (std::size_t k = 0; k < 4; ++k) {
        ts.push_back(canal::go([ch = c[k], N] {
          for (int i = 0; i < N; ++i) ch.send(0);
        }));
        ts.push_back(canal::go([ch = c[k], N] {
          for (int i = 0; i < N; ++i) (void)ch.recv();
        }));
      }
      // One greenlet sends N values on each channel in a single select (nil-ing spent ones)...
      ts.push_back(canal::go([c, N] {
        std::array<int, 4> n{};
        auto c1 = c;
        for (int i = 0; i < 4 * N; ++i) {
          auto bump = [&](std::size_t k) {
            return [&, k] {
              if (++n[k] == N) c1[k] = canal::chan<int>();
            };
          };
          canal::select(canal::on_send(c1[3], 0, bump(3)), canal::on_send(c1[2], 0, bump(2)),
                        canal::on_send(c1[0], 0, bump(0)), canal::on_send(c1[1], 0, bump(1)));
        }
      }));
      // ... and one receives N from each in a single select.
      ts.push_back(canal::go([c, N] {
        std::array<int, 4> n{};
        auto c1 = c;
        for (int i = 0; i < 4 * N; ++i) {
          auto bump = [&](std::size_t k) {
            return [&, k] {
              if (++n[k] == N) c1[k] = canal::chan<int>();
            };
          };
          canal::select(canal::on_recv(c1[0], bump(0)), canal::on_recv(c1[1], bump(1)),
                        canal::on_recv(c1[2], bump(2)), canal::on_recv(c1[3], bump(3)));
        }
      }));
      const bool all = canal::joinall(ts, std::chrono::nanoseconds(90s));
      CHECK(all);
      if (!all) {
        for (auto& t : ts) t.kill();
        canal::joinall(ts);
      }
      for (auto& t : ts) CHECK(t.successful());
      for (auto& ch : c) CHECK(ch.size() == 0);
    });
  }
}

TEST_CASE("chan.TestSelectFairness" * doctest::timeout(60)) {
  constexpr int trials = 10000;
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<unsigned char> c1(trials + 1);
      canal::chan<unsigned char> c2(trials + 1);
      for (int i = 0; i < trials + 1; ++i) {
        c1.send(1);
        c2.send(2);
      }
      canal::chan<unsigned char> c3(0);
      canal::chan<unsigned char> c4(0);
      canal::chan<unsigned char> out(0);
      canal::chan<unsigned char> done(0);
      auto t = canal::go([=] {
        for (;;) {
          unsigned char b = 0;
          auto take = [&](std::optional<unsigned char> v) { b = v.value_or(0); };
          canal::select(canal::on_recv(c3, take), canal::on_recv(c4, take),
                        canal::on_recv(c1, take), canal::on_recv(c2, take));
          if (canal::select(canal::on_send(out, b), canal::on_recv(done)) == 1) return;
        }
      });
      int cnt1 = 0, cnt2 = 0, other = 0;
      for (int i = 0; i < trials; ++i) {
        auto b = out.recv();
        if (b && *b == 1) {
          ++cnt1;
        } else if (b && *b == 2) {
          ++cnt2;
        } else {
          ++other;
        }
      }
      CHECK(other == 0);
      // Fair select: cnt1 ~ Binomial(trials, 1/2). Go allows |r - 0.5| <= 4.891676 / (2 sqrt n)
      // (P(false failure) ~ 1e-6); 5.3 gives 1.2e-7 per run (exact binomial tail), so < 1e-6
      // over the three worker counts.
      const double r = static_cast<double>(cnt1) / trials;
      const double e = std::abs(r - 0.5);
      const bool fair = e <= 5.3 / (2 * std::sqrt(static_cast<double>(trials)));
      CHECK_MESSAGE(fair, "unfair select: cnt1=" << cnt1 << " cnt2=" << cnt2 << " r=" << r);
      done.close();
      t.join();
    });
  }
}

TEST_CASE("chan.TestPseudoRandomSend" * doctest::timeout(60)) {
  static constexpr int n = 100;
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (std::size_t cap : {std::size_t{0}, std::size_t{n}}) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        canal::chan<int> c(cap);
        std::vector<int> l(n, -1);
        auto t = canal::go([c, &l] {
          for (int i = 0; i < n; ++i) {
            canal::this_task::yield();
            l[static_cast<std::size_t>(i)] = c.recv().value_or(-1);
          }
        });
        for (int i = 0; i < n; ++i) {
          canal::select(canal::on_send(c, 1), canal::on_send(c, 0));
        }
        t.join();
        int n0 = 0, n1 = 0;
        for (int v : l) {
          n0 += v == 0;
          n1 += v == 1;
        }
        CHECK(n0 + n1 == n);
        const bool pseudo_random = n0 > n / 10 && n1 > n / 10;
        CHECK_MESSAGE(pseudo_random, "want pseudorandom, got " << n0 << " zeros and " << n1
                                                               << " ones");
      });
    }
  }
}

TEST_CASE("chan.TestMultiConsumer" * doctest::timeout(120)) {
  constexpr int nwork = 23;
  const int niter = canal_test::sanitized ? 10000 : scale(27183, 271828);
  static constexpr std::array<int, 10> pn{2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> q(nwork * 3);
      canal::chan<int> r(nwork * 3);
      std::vector<canal::task<void>> ws;
      for (int i = 0; i < nwork; ++i) {
        ws.push_back(canal::go([q, r, i] {
          for (int v : q) {
            // mess with the fifo-ish nature of range
            if (pn[static_cast<std::size_t>(i) % pn.size()] == v) canal::this_task::yield();
            r.send(v);
          }
        }));
      }
      long long expect = 0;
      auto feeder = canal::go([q, r, ws, niter, &expect] {
        for (int i = 0; i < niter; ++i) {
          int v = pn[static_cast<std::size_t>(i) % pn.size()];
          expect += v;
          q.send(v);
        }
        q.close();          // no more work
        canal::joinall(ws);  // workers done
        r.close();          // ... so there can be no more results
      });
      long long n = 0, s = 0;
      for (int v : r) {
        ++n;
        s += v;
      }
      feeder.join();
      CHECK(n == niter);
      CHECK(s == expect);
    });
  }
}

// A greenlet may be queued on the same channel several times by one select; waking it through
// another case must dequeue all of its entries.
TEST_CASE("chan.TestSelectDuplicateChannel" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c(0), d(0), e(0);
      auto a = canal::go([=] {
        canal::select(canal::on_recv(c), canal::on_recv(c), canal::on_recv(d));
        e.send(9);
      });
      nap(1ms);  // A queues first on c
      auto got_b = std::make_shared<std::atomic<int>>(0);
      auto b = canal::go([c, got_b] { got_b->store(c.recv().value_or(-1)); });
      nap(1ms);  // B queues on c behind A
      d.send(7);  // wakes A through d; A must leave c's queue
      auto nine = e.recv();
      REQUIRE(nine.has_value());
      CHECK(*nine == 9);
      // Must wake B (not the already-running A).
      CHECK(c.send_for(8, 10s) == canal::chan_status::ok);
      b.join();
      a.join();
      CHECK(got_b->load() == 8);
    });
  }
}
