// canal::group and canal::pool: joining, the first failure cancelling siblings, destruction
// with live children, pool limits, map order.
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/sync/sync_test_helpers.hpp"

using namespace std::chrono_literals;
using canal_test::in_runtime;
using canal_test::workers;
using sync_test::nap;

namespace {
struct count_on_destroy {
  std::shared_ptr<std::atomic<int>> n;
  ~count_on_destroy() { n->fetch_add(1); }
};
}  // namespace

TEST_CASE("group.joins_children" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::group g;
      std::atomic<int> done{0};
      std::vector<canal::task<int>> ts;
      for (int i = 0; i < 20; ++i)
        ts.push_back(g.go([&done](int k) {
          canal::this_task::sleep_for(std::chrono::microseconds(100 * (k % 5)));
          done.fetch_add(1);
          return k * k;
        }, i));
      // A child spawning into the same group.
      g.go([&] { g.go([&done] { done.fetch_add(1); }); });
      g.wait();
      CHECK(done.load() == 21);
      CHECK(g.size() == 0);
      for (int i = 0; i < 20; ++i) CHECK(ts[i].get() == i * i);
    });
  }
}

TEST_CASE("group.first_exception_cancels_siblings" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::group g;
      auto unwound = std::make_shared<std::atomic<int>>(0);
      canal::chan<int> never(0);
      std::vector<canal::task<void>> sibs;
      for (int i = 0; i < 5; ++i)
        sibs.push_back(g.go([unwound, never] {
          count_on_destroy c{unwound};
          (void)never.recv();  // parked until cancelled
        }));
      sibs.push_back(g.go([unwound] {
        count_on_destroy c{unwound};
        canal::this_task::sleep_for(1h);
      }));
      g.go([] {
        canal::this_task::sleep_for(2ms);
        throw std::runtime_error("child failed");
      });
      const auto t0 = std::chrono::steady_clock::now();
      try {
        g.wait();
        FAIL("wait() did not rethrow");
      } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == "child failed");
      }
      CHECK(std::chrono::steady_clock::now() - t0 < 10s);
      CHECK(unwound->load() == 6);
      for (auto& t : sibs) CHECK_THROWS_AS(t.get(), canal::cancelled);
      // The group is reusable: the failure was reported once.
      auto ok = g.go([] { return 7; });
      g.wait();
      CHECK(ok.get() == 7);
    });
  }
}

TEST_CASE("group.child_spawned_after_failure_is_killed" * doctest::timeout(60)) {
  in_runtime(2, [&] {
    canal::group g;
    auto bad = g.go([] { throw std::logic_error("x"); });
    CHECK(bad.wait_for(10s));
    auto late = g.go([] { canal::this_task::sleep_for(1h); });
    CHECK(late.wait_for(10s));
    CHECK_THROWS_AS(late.get(), canal::cancelled);
    CHECK_THROWS_AS(g.wait(), std::logic_error);
  });
}

TEST_CASE("group.destructor_kills_and_joins" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      auto unwound = std::make_shared<std::atomic<int>>(0);
      std::vector<canal::task<void>> ts;
      {
        canal::group g;
        for (int i = 0; i < 4; ++i)
          ts.push_back(g.go([unwound] {
            count_on_destroy c{unwound};
            canal::this_task::sleep_for(1h);
          }));
        nap(2ms);
      }  // kills and joins
      CHECK(unwound->load() == 4);
      for (auto& t : ts) CHECK(t.ready());
      // The owner itself is killed: its group's destructor still kills and joins the children.
      auto unwound2 = std::make_shared<std::atomic<int>>(0);
      auto started = std::make_shared<std::atomic<bool>>(false);
      auto owner = canal::go([unwound2, started] {
        canal::group g;
        for (int i = 0; i < 3; ++i)
          g.go([unwound2] {
            count_on_destroy c{unwound2};
            canal::this_task::sleep_for(1h);
          });
        started->store(true);
        g.wait();  // cancelled here
      });
      REQUIRE(sync_test::eventually([&] { return started->load(); }));
      nap(2ms);
      owner.kill();
      CHECK(owner.wait_for(10s));
      CHECK(unwound2->load() == 3);
      CHECK_THROWS_AS(owner.get(), canal::cancelled);
    });
  }
}

TEST_CASE("pool.limits_and_map" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::pool p(2);
      CHECK(p.size() == 2);
      CHECK(p.free_count() == 2);
      std::atomic<int> inside{0}, max_inside{0};
      std::vector<canal::task<void>> ts;
      for (int i = 0; i < 8; ++i)
        ts.push_back(p.go([&] {
          const int now = inside.fetch_add(1) + 1;
          int m = max_inside.load();
          while (now > m && !max_inside.compare_exchange_weak(m, now)) {
          }
          canal::this_task::sleep_for(2ms);
          inside.fetch_sub(1);
        }));
      p.wait();
      CHECK(max_inside.load() == 2);
      CHECK(p.free_count() == 2);
      CHECK(p.running() == 0);

      std::vector<int> in{5, 1, 4, 2, 3};
      auto out = p.map([](int x) {
        canal::this_task::sleep_for(std::chrono::milliseconds(x));
        return x * 10;
      }, in);
      CHECK(out == std::vector<int>{50, 10, 40, 20, 30});
      CHECK_THROWS_AS(p.map([](int x) {
        if (x == 4) throw std::runtime_error("four");
        return x;
      }, in), std::runtime_error);
      CHECK(p.free_count() == 2);
      CHECK_THROWS_AS(canal::pool(0), canal::error);
    });
  }
}

TEST_CASE("pool.destructor_kills_and_joins" * doctest::timeout(60)) {
  in_runtime(2, [&] {
    auto unwound = std::make_shared<std::atomic<int>>(0);
    {
      canal::pool p(3);
      for (int i = 0; i < 3; ++i)
        p.go([unwound] {
          count_on_destroy c{unwound};
          canal::this_task::sleep_for(1h);
        });
      CHECK(p.free_count() == 0);
      // A fourth go() parks the caller: kill it there.
      auto blocked = canal::go([&p] { p.go([] {}); });
      nap(5ms);
      CHECK_FALSE(blocked.ready());
      blocked.kill();
      CHECK(blocked.wait_for(10s));
      CHECK_THROWS_AS(blocked.get(), canal::cancelled);
      CHECK(p.free_count() == 0);  // the killed caller took no slot
    }
    CHECK(unwound->load() == 3);
  });
}
