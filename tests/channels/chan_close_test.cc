// close(): releases every parked receiver (100,000 of them at full scale) and sender, races with
// senders and with other closers, and leaves buffered values to be drained.
#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "tests/channels/chan_test_helpers.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using canal::chan_status;
using canal_test::in_runtime;
using canal_test::scale;
using canal_test::slack;
using canal_test::tracked;
using canal_test::workers;
using chan_test::eventually;
using chan_test::item;
using chan_test::nap;
using chan_test::since;
using chan_test::steady;

TEST_CASE("chan.close.releases_parked_receivers" * doctest::timeout(180)) {
  const int n = canal_test::sanitized ? 2000 : scale(100000, 100000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c(0);
      canal::chan<int> other(0);
      auto started = std::make_shared<std::atomic<int>>(0);
      auto woke_closed = std::make_shared<std::atomic<int>>(0);
      auto woke_wrong = std::make_shared<std::atomic<int>>(0);
      std::vector<canal::task<void>> ts;
      ts.reserve(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        const int kind = i % 4;
        ts.push_back(canal::go([c, other, started, woke_closed, woke_wrong, kind] {
          started->fetch_add(1);
          bool closed = false;
          switch (kind) {
            case 0:
            case 1: closed = !c.recv().has_value(); break;
            case 2: closed = c.recv_for(1h).status == chan_status::closed; break;
            default:
              canal::select(canal::on_recv(other), canal::on_recv(c, [&](std::optional<int> v) {
                              closed = !v.has_value();
                            }));
              break;
          }
          (closed ? woke_closed : woke_wrong)->fetch_add(1);
        }));
      }
      REQUIRE(eventually([&] { return started->load() == n; }, 60s));
      nap(20ms);
      CHECK(woke_closed->load() + woke_wrong->load() == 0);
      const auto t0 = steady::now();
      c.close();  // one close releases them all
      const bool all = canal::joinall(ts, std::chrono::nanoseconds(60s));
      const auto el = since(t0);
      CHECK(all);
      MESSAGE("w=" << w << ": close() released " << n << " parked receivers in "
                   << chan_test::ms(el) << " ms");
      CHECK(woke_closed->load() == n);
      CHECK(woke_wrong->load() == 0);
      if (!all) {
        for (auto& t : ts) t.kill();
        canal::joinall(ts);
      }
    });
  }
}

TEST_CASE("chan.close.releases_parked_senders" * doctest::timeout(60)) {
  const int n = scale(200, 2000);
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (std::size_t cap : {std::size_t{0}, std::size_t{3}}) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        canal::chan<item> c(cap);
        for (std::size_t i = 0; i < cap; ++i) c.send(item(static_cast<long>(i)));
        auto started = std::make_shared<std::atomic<int>>(0);
        auto threw = std::make_shared<std::atomic<int>>(0);
        auto returned = std::make_shared<std::atomic<int>>(0);
        std::vector<canal::task<void>> ts;
        for (int i = 0; i < n; ++i) {
          ts.push_back(canal::go([c, started, threw, returned, i] {
            started->fetch_add(1);
            try {
              if (i % 2) {
                c.send(item(1000 + i));
              } else {
                canal::select(canal::on_send(c, item(1000 + i)));
              }
              returned->fetch_add(1);
            } catch (const canal::channel_closed&) {
              threw->fetch_add(1);
            }
          }));
        }
        REQUIRE(eventually([&] { return started->load() == n; }));
        nap(5ms);
        c.close();
        CHECK(canal::joinall(ts, std::chrono::nanoseconds(30s)));
        CHECK(threw->load() == n);
        CHECK(returned->load() == 0);
        // The buffered values are still there, in order; none of the senders' values are.
        for (std::size_t i = 0; i < cap; ++i) CHECK(c.recv()->v == static_cast<long>(i));
        CHECK_FALSE(c.recv().has_value());
        // Timed and try senders report closed.
        CHECK(c.send_for(item(1), 10ms) == chan_status::closed);
        CHECK(c.try_send(item(1)) == chan_status::closed);
      });
    }
    CHECK(tracked::live.load() == base);
  }
}

// Senders keep sending while close() happens: every send either completes (and its value is
// received exactly once) or throws channel_closed (and its value is gone).
TEST_CASE("chan.close.races_with_senders" * doctest::timeout(120)) {
  const int rounds = canal_test::sanitized ? 50 : scale(300, 3000);
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      int mismatches = 0;
      for (int round = 0; round < rounds; ++round) {
        canal::chan<item> c(static_cast<std::size_t>(round % 3));
        auto sent_sum = std::make_shared<std::atomic<long>>(0);
        auto recv_sum = std::make_shared<std::atomic<long>>(0);
        std::vector<canal::task<void>> senders, receivers;
        for (int s = 0; s < 3; ++s) {
          senders.push_back(canal::go([c, sent_sum, s] {
            for (long v = 1;; ++v) {
              const long x = v * 4 + s;
              try {
                if (v % 2) {
                  c.send(item(x));
                } else {
                  canal::select(canal::on_send(c, item(x)));
                }
              } catch (const canal::channel_closed&) {
                return;
              }
              sent_sum->fetch_add(x);
            }
          }));
        }
        for (int r = 0; r < 2; ++r) {
          receivers.push_back(canal::go([c, recv_sum] {
            for (auto& v : c) recv_sum->fetch_add(v.v);
          }));
        }
        nap(std::chrono::microseconds(round % 200));
        c.close();
        canal::joinall(senders);
        canal::joinall(receivers);
        if (sent_sum->load() != recv_sum->load()) ++mismatches;
      }
      CHECK(mismatches == 0);
    });
    CHECK(tracked::live.load() == base);
  }
}

// Closers racing each other: exactly one close() succeeds.
TEST_CASE("chan.close.concurrent_closers" * doctest::timeout(60)) {
  const int rounds = scale(200, 2000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      int bad = 0;
      for (int round = 0; round < rounds; ++round) {
        canal::chan<int> c(static_cast<std::size_t>(round % 2));
        auto ok = std::make_shared<std::atomic<int>>(0);
        auto threw = std::make_shared<std::atomic<int>>(0);
        std::vector<canal::task<void>> ts;
        for (int k = 0; k < 4; ++k) {
          ts.push_back(canal::go([c, ok, threw] {
            try {
              c.close();
              ok->fetch_add(1);
            } catch (const canal::channel_closed&) {
              threw->fetch_add(1);
            }
          }));
        }
        canal::joinall(ts);
        if (ok->load() != 1 || threw->load() != 3) ++bad;
      }
      CHECK(bad == 0);
    });
  }
}

TEST_CASE("chan.close.drains_then_reports_closed" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c(5);
      for (int i = 0; i < 5; ++i) c.send(i);
      c.close();
      CHECK(c.size() == 5);
      // Every receive flavour gets the buffered values first.
      CHECK(c.recv() == std::optional<int>(0));
      CHECK(c.try_recv().value == std::optional<int>(1));
      CHECK(c.recv_for(1s).value == std::optional<int>(2));
      int v = -1;
      CHECK(canal::select(canal::on_recv(c, [&](std::optional<int> x) { v = x.value_or(-2); })) ==
            0);
      CHECK(v == 3);
      canal::selector sel;
      sel.add(canal::on_recv(c, [&](std::optional<int> x) { v = x.value_or(-2); }));
      CHECK(sel.select() == 0);
      CHECK(v == 4);
      // Then closed, for every flavour, repeatedly, without blocking.
      const auto t0 = steady::now();
      for (int k = 0; k < 3; ++k) {
        CHECK_FALSE(c.recv().has_value());
        CHECK(c.try_recv().status == chan_status::closed);
        CHECK(c.recv_for(1h).status == chan_status::closed);
        CHECK(c.recv_until(steady::now() + 1h).status == chan_status::closed);
        CHECK(sel.select() == 0);
        CHECK(v == -2);
      }
      CHECK(since(t0) < slack);
    });
  }
}
