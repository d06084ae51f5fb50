// Channels between plain OS threads and greenlets, both ways on the same channel and inside
// select, and channels used by plain threads with no runtime running at all.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
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

namespace {

// Plain threads that report completion on a channel, so that a greenlet can wait for them by
// parking (never by blocking its worker in std::thread::join()).
class thread_group {
 public:
  explicit thread_group(std::size_t max_threads) : done_(max_threads) {}
  ~thread_group() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  template <class F>
  void spawn(F f) {
    threads_.emplace_back([f = std::move(f), done = done_, errors = errors_]() mutable {
      try {
        f();
      } catch (...) {
        errors->fetch_add(1);
      }
      done.send(1);
    });
  }
  // wait(): parks a greenlet (or blocks a thread) until every thread has finished, then joins.
  void wait() {
    for (std::size_t i = 0; i < threads_.size(); ++i) (void)done_.recv();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  int errors() const { return errors_->load(); }

 private:
  canal::chan<int> done_;
  std::shared_ptr<std::atomic<int>> errors_ = std::make_shared<std::atomic<int>>(0);
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_CASE("chan.threads.no_runtime" * doctest::timeout(120)) {
  const int n = scale(2000, 20000);
  SUBCASE("ping_pong") {
    canal::chan<int> ping(0), pong(0);
    std::thread t([&] {
      for (int v : ping) pong.send(v + 1);
      pong.close();
    });
    bool ok = true;
    for (int i = 0; i < n; ++i) {
      ping.send(i);
      ok = ok && pong.recv() == std::optional<int>(i + 1);
    }
    ping.close();
    CHECK_FALSE(pong.recv().has_value());
    t.join();
    CHECK(ok);
  }
  SUBCASE("many_to_many") {
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{8}}) {
      CAPTURE(cap);
      canal::chan<int> c(cap);
      std::atomic<long> sum{0}, count{0};
      std::vector<std::thread> ps, cs;
      for (int p = 0; p < 4; ++p) {
        ps.emplace_back([&, p] {
          for (int i = p; i < n; i += 4) c.send(i);
        });
      }
      for (int k = 0; k < 4; ++k) {
        cs.emplace_back([&] {
          for (int v : c) {
            sum.fetch_add(v);
            count.fetch_add(1);
          }
        });
      }
      for (auto& t : ps) t.join();
      c.close();
      for (auto& t : cs) t.join();
      CHECK(count.load() == n);
      CHECK(sum.load() == static_cast<long>(n) * (n - 1) / 2);
    }
  }
  SUBCASE("timed_and_try") {
    canal::chan<int> c(1);
    auto t0 = steady::now();
    CHECK(c.recv_for(30ms).status == chan_status::timeout);
    CHECK(since(t0) >= 30ms);
    CHECK(since(t0) <= 30ms + slack);
    CHECK(c.try_recv().status == chan_status::would_block);
    CHECK(c.try_send(1) == chan_status::ok);
    CHECK(c.try_send(2) == chan_status::would_block);
    t0 = steady::now();
    CHECK(c.send_for(2, 30ms) == chan_status::timeout);
    CHECK(since(t0) >= 30ms);
    canal::chan<int> nil;
    t0 = steady::now();
    CHECK(nil.recv_for(20ms).status == chan_status::timeout);
    CHECK(since(t0) >= 20ms);
    // A timed receive completed by another thread before its deadline.
    canal::chan<int> u(0);
    std::thread s([&] {
      std::this_thread::sleep_for(10ms);
      u.send(5);
    });
    auto r = u.recv_for(30s);
    CHECK(r.status == chan_status::ok);
    CHECK(*r == 5);
    s.join();
  }
  SUBCASE("close_wakes_blocked_threads") {
    canal::chan<int> c(0);
    std::atomic<int> receivers_done{0}, senders_threw{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i) {
      ts.emplace_back([&] {
        if (!c.recv().has_value()) receivers_done.fetch_add(1);
      });
    }
    canal::chan<int> s(1);
    s.send(0);
    for (int i = 0; i < 4; ++i) {
      ts.emplace_back([&] {
        try {
          s.send(1);
        } catch (const canal::channel_closed&) {
          senders_threw.fetch_add(1);
        }
      });
    }
    std::this_thread::sleep_for(20ms);
    c.close();
    s.close();
    for (auto& t : ts) t.join();
    CHECK(receivers_done.load() == 4);
    CHECK(senders_threw.load() == 4);
    CHECK(s.recv() == std::optional<int>(0));
    CHECK_FALSE(s.recv().has_value());
  }
  SUBCASE("select_between_threads") {
    canal::chan<int> a(0), b(0), out(0);
    std::atomic<long> got{0};
    std::thread selector_thread([&] {
      bool a_open = true, b_open = true;
      while (a_open || b_open) {
        canal::select(canal::on_recv(a_open ? a : canal::chan<int>(),
                                     [&](std::optional<int> v) {
                                       if (v) {
                                         got.fetch_add(*v);
                                       } else {
                                         a_open = false;
                                       }
                                     }),
                      canal::on_recv(b_open ? b : canal::chan<int>(), [&](std::optional<int> v) {
                        if (v) {
                          got.fetch_add(*v);
                        } else {
                          b_open = false;
                        }
                      }));
      }
      // A selector with a send case, completed by the main thread.
      canal::selector sel;
      sel.add(canal::on_send(out, 42));
      sel.add(canal::on_timeout(30s));
      (void)sel.select();
    });
    std::thread ta([&] {
      for (int i = 0; i < n; ++i) a.send(1);
      a.close();
    });
    std::thread tb([&] {
      for (int i = 0; i < n; ++i) b.send(2);
      b.close();
    });
    CHECK(out.recv() == std::optional<int>(42));
    ta.join();
    tb.join();
    selector_thread.join();
    CHECK(got.load() == 3L * n);
    // select with a default and a timeout on a thread.
    CHECK(canal::select(canal::on_recv(a), canal::on_default()) == 0);  // a is closed: ready
    canal::chan<int> e(0);
    CHECK(canal::select(canal::on_recv(e), canal::on_default()) == 1);
    auto t0 = steady::now();
    CHECK(canal::select(canal::on_recv(e), canal::on_timeout(20ms)) == 1);
    CHECK(since(t0) >= 20ms);
  }
}

// One channel used before run(), during it by greenlets, and after run() returned; a plain
// thread stays blocked on it across the whole run.
TEST_CASE("chan.threads.across_runs" * doctest::timeout(120)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    canal::chan<int> c(0);
    canal::chan<int> buf(8);
    std::atomic<long> sum{0};
    std::atomic<int> count{0};
    std::thread consumer([&] {
      for (int v : c) {
        sum.fetch_add(v);
        count.fetch_add(1);
      }
    });
    // Before run: values buffered by this thread, one handed to the consumer thread.
    buf.send(1);
    buf.send(2);
    c.send(100);
    in_runtime(w, [&] {
      // Inside: greenlets receive what was buffered before, and talk to the consumer thread.
      CHECK(buf.recv() == std::optional<int>(1));
      CHECK(buf.recv() == std::optional<int>(2));
      std::vector<canal::task<void>> ts;
      for (int g = 0; g < 4; ++g) {
        ts.push_back(canal::go([c] {
          for (int i = 0; i < 10; ++i) c.send(1);
        }));
      }
      canal::joinall(ts);
      // Leave values in the buffer for after the run.
      buf.send(3);
      buf.send(4);
    });
    // After run: the thread is still parked in recv; feed it from here.
    c.send(1000);
    CHECK(buf.recv() == std::optional<int>(3));
    CHECK(buf.try_recv().value == std::optional<int>(4));
    c.close();
    consumer.join();
    CHECK(count.load() == 42);
    CHECK(sum.load() == 100 + 40 + 1000);
  }
}

TEST_CASE("chan.threads.both_directions" * doctest::timeout(120)) {
  const int n = scale(2000, 20000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{16}}) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        // Threads -> greenlets.
        {
          canal::chan<int> c(cap);
          thread_group threads(2);
          for (int p = 0; p < 2; ++p) {
            threads.spawn([c, n, p] {
              for (int i = p; i < n; i += 2) c.send(i);
            });
          }
          auto sum = std::make_shared<std::atomic<long>>(0);
          std::vector<canal::task<void>> ts;
          for (int k = 0; k < 3; ++k) {
            ts.push_back(canal::go([c, sum] {
              for (int v : c) sum->fetch_add(v);
            }));
          }
          threads.wait();
          c.close();
          canal::joinall(ts);
          CHECK(threads.errors() == 0);
          CHECK(sum->load() == static_cast<long>(n) * (n - 1) / 2);
        }
        // Greenlets -> threads.
        {
          canal::chan<int> c(cap);
          auto sum = std::make_shared<std::atomic<long>>(0);
          thread_group threads(2);
          for (int k = 0; k < 2; ++k) {
            threads.spawn([c, sum] {
              for (int v : c) sum->fetch_add(v);
            });
          }
          std::vector<canal::task<void>> ts;
          for (int p = 0; p < 3; ++p) {
            ts.push_back(canal::go([c, n, p] {
              for (int i = p; i < n; i += 3) c.send(i);
            }));
          }
          canal::joinall(ts);
          c.close();
          threads.wait();
          CHECK(threads.errors() == 0);
          CHECK(sum->load() == static_cast<long>(n) * (n - 1) / 2);
        }
        // Mixed: threads and greenlets on both sides of one channel.
        {
          canal::chan<int> c(cap);
          auto sum = std::make_shared<std::atomic<long>>(0);
          auto count = std::make_shared<std::atomic<long>>(0);
          thread_group producers(2), consumers(2);
          std::vector<canal::task<void>> gp, gc;
          // Values i in [0, n): i % 4 == 0, 1 from threads, 2, 3 from greenlets.
          for (int p = 0; p < 2; ++p) {
            producers.spawn([c, n, p] {
              for (int i = p; i < n; i += 4) c.send(i);
            });
            gp.push_back(canal::go([c, n, p] {
              for (int i = p + 2; i < n; i += 4) c.send(i);
            }));
            consumers.spawn([c, sum, count] {
              for (int v : c) {
                sum->fetch_add(v);
                count->fetch_add(1);
              }
            });
            gc.push_back(canal::go([c, sum, count] {
              for (int v : c) {
                sum->fetch_add(v);
                count->fetch_add(1);
              }
            }));
          }
          producers.wait();
          canal::joinall(gp);
          c.close();
          consumers.wait();
          canal::joinall(gc);
          CHECK(count->load() == n);
          CHECK(sum->load() == static_cast<long>(n) * (n - 1) / 2);
        }
      });
    }
  }
}

// A plain std::thread selecting against greenlets, and greenlets selecting against threads.
TEST_CASE("chan.threads.select_against_greenlets" * doctest::timeout(120)) {
  const int n = scale(2000, 20000);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> in1(0), in2(3), out(0);
      auto received = std::make_shared<std::atomic<long>>(0);
      auto sent = std::make_shared<std::atomic<long>>(0);
      thread_group threads(1);
      // The thread: receives everything from in1/in2 (fed by greenlets) and sends n values to
      // out (drained by greenlets), all through one select.
      threads.spawn([in1, in2, out, n, received, sent] {
        canal::chan<int> a = in1, b = in2, o = out;
        int to_send = n;
        while (!a.is_nil() || !b.is_nil() || !o.is_nil()) {
          canal::select(canal::on_recv(a,
                                       [&](std::optional<int> v) {
                                         if (v) {
                                           received->fetch_add(*v);
                                         } else {
                                           a = canal::chan<int>();
                                         }
                                       }),
                        canal::on_recv(b,
                                       [&](std::optional<int> v) {
                                         if (v) {
                                           received->fetch_add(*v);
                                         } else {
                                           b = canal::chan<int>();
                                         }
                                       }),
                        canal::on_send(o, 1, [&] {
                          sent->fetch_add(1);
                          if (--to_send == 0) {
                            o.close();
                            o = canal::chan<int>();
                          }
                        }));
        }
      });
      auto p1 = canal::go([in1, n] {
        for (int i = 0; i < n; ++i) in1.send(1);
        in1.close();
      });
      auto p2 = canal::go([in2, n] {
        for (int i = 0; i < n; ++i) in2.send(2);
        in2.close();
      });
      auto drained = std::make_shared<std::atomic<long>>(0);
      std::vector<canal::task<void>> cs;
      for (int k = 0; k < 3; ++k) {
        cs.push_back(canal::go([out, drained] {
          for (int v : out) drained->fetch_add(v);
        }));
      }
      threads.wait();
      p1.join();
      p2.join();
      canal::joinall(cs);
      CHECK(threads.errors() == 0);
      CHECK(received->load() == 3L * n);
      CHECK(sent->load() == n);
      CHECK(drained->load() == n);

      // Greenlets selecting over channels fed and drained by threads.
      canal::chan<int> t_in(0), t_out(0);
      thread_group feeders(2);
      feeders.spawn([t_in, n] {
        for (int i = 0; i < n; ++i) t_in.send(1);
      });
      auto t_got = std::make_shared<std::atomic<long>>(0);
      feeders.spawn([t_out, n, t_got] {
        for (int i = 0; i < n; ++i) t_got->fetch_add(t_out.recv().value_or(0));
      });
      auto g_recv = std::make_shared<std::atomic<long>>(0);
      auto g = canal::go([t_in, t_out, n, g_recv] {
        int r = 0, s = 0;
        while (r < n || s < n) {
          canal::select(canal::on_recv(r < n ? t_in : canal::chan<int>(),
                                       [&](std::optional<int> v) {
                                         g_recv->fetch_add(v.value_or(0));
                                         ++r;
                                       }),
                        canal::on_send(s < n ? t_out : canal::chan<int>(), 1, [&] { ++s; }));
        }
      });
      feeders.wait();
      g.join();
      CHECK(g_recv->load() == n);
      CHECK(t_got->load() == n);
    });
  }
}

// A thread parked on a channel is woken by a greenlet's close(), send or receive.
TEST_CASE("chan.threads.parked_thread_woken_by_greenlet" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<int> c(0), s(0), r(0);
      auto closed_seen = std::make_shared<std::atomic<bool>>(false);
      auto send_threw = std::make_shared<std::atomic<bool>>(false);
      auto recv_val = std::make_shared<std::atomic<int>>(0);
      thread_group threads(3);
      threads.spawn([c, closed_seen] { closed_seen->store(!c.recv().has_value()); });
      threads.spawn([s, send_threw] {
        try {
          s.send(1);
        } catch (const canal::channel_closed&) {
          send_threw->store(true);
        }
      });
      threads.spawn([r, recv_val] { recv_val->store(r.recv().value_or(-1)); });
      nap(10ms);
      auto g = canal::go([c, s, r] {
        c.close();
        s.close();
        r.send(9);
      });
      threads.wait();
      g.join();
      CHECK(closed_seen->load());
      CHECK(send_threw->load());
      CHECK(recv_val->load() == 9);

      // A thread in a timed receive: a greenlet's send arrives before the deadline.
      canal::chan<int> u(0);
      auto status = std::make_shared<std::atomic<int>>(-1);
      thread_group timed(1);
      timed.spawn([u, status] { status->store(static_cast<int>(u.recv_for(30s).status)); });
      canal::this_task::sleep_for(10ms);
      u.send(3);
      timed.wait();
      CHECK(status->load() == static_cast<int>(chan_status::ok));
    });
  }
}

// Greenlets spawned from a foreign thread while the runtime runs, talking back to that thread.
TEST_CASE("chan.threads.go_from_thread" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      auto sum = std::make_shared<std::atomic<long>>(0);
      thread_group threads(1);
      threads.spawn([sum] {
        canal::chan<int> results(0);
        std::vector<canal::task<void>> ts;
        for (int i = 0; i < 50; ++i) {
          ts.push_back(canal::go([results, i] { results.send(i); }));
        }
        for (int i = 0; i < 50; ++i) sum->fetch_add(results.recv().value_or(0));
        for (auto& t : ts) t.join();
      });
      threads.wait();
      CHECK(threads.errors() == 0);
      CHECK(sum->load() == 49 * 50 / 2);
    });
  }
}
