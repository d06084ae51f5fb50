// this_task::id()/name()/set_name()/in_greenlet(), task::id()/name()/spawn_site().

#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TEST_CASE("runtime.this_task_outside_greenlets" * doctest::timeout(30)) {
  CHECK_FALSE(canal::this_task::in_greenlet());
  CHECK(canal::this_task::id() == 0);
  CHECK(canal::this_task::name().empty());
}

TEST_CASE("runtime.this_task_identity" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    canal_test::in_runtime(w, [&] {
      // The main greenlet is a greenlet too.
      CHECK(canal::this_task::in_greenlet());
      const std::uint64_t main_id = canal::this_task::id();
      CHECK(main_id != 0);

      // id() inside equals the handle's id(); names from canal::named.
      auto t = canal::go(canal::named{"worker-bee"}, [] {
        return std::make_pair(canal::this_task::id(), canal::this_task::name());
      });
      const auto [inner_id, inner_name] = t.get();
      CHECK(inner_id == t.id());
      CHECK(inner_id != main_id);
      CHECK(inner_name == "worker-bee");
      CHECK(t.name() == "worker-bee");

      // set_name() renames the running greenlet; the handle sees the new name afterwards.
      auto r = canal::go(canal::named{"before"}, [] {
        const std::string first = canal::this_task::name();
        canal::this_task::set_name("after");
        canal::this_task::yield();
        return first + "->" + canal::this_task::name();
      });
      CHECK(r.get() == "before->after");
      CHECK(r.name() == "after");

      // in_greenlet() in a spawned greenlet; the id stays the same across parks and workers.
      auto stable = canal::go([] {
        const auto id0 = canal::this_task::id();
        bool same = true;
        for (int i = 0; i < 20; ++i) {
          canal::this_task::sleep_for(i % 2 == 0 ? 0ms : 1ms);
          same = same && canal::this_task::id() == id0 && canal::this_task::in_greenlet();
        }
        return same;
      });
      CHECK(stable.get());

      // The main greenlet can rename itself too.
      canal::this_task::set_name("main-renamed");
      CHECK(canal::this_task::name() == "main-renamed");
    });
  }
}

TEST_CASE("runtime.ids_are_unique" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::mutex mu;
    std::set<std::uint64_t> seen;
    canal_test::in_runtime(w, [&] {
      std::vector<canal::task<void>> ts;
      for (int i = 0; i < 2000; ++i) {
        ts.push_back(canal::go([&] {
          const auto id = canal::this_task::id();
          std::lock_guard<std::mutex> lock(mu);
          seen.insert(id);
        }));
      }
      canal::joinall(ts);
      std::set<std::uint64_t> handle_ids;
      for (auto& t : ts) handle_ids.insert(t.id());
      CHECK(handle_ids == seen);
    });
    CHECK(seen.size() == 2000);
    CHECK(seen.count(0) == 0);
  }
}

TEST_CASE("runtime.spawn_site" * doctest::timeout(30)) {
  canal_test::in_runtime(2, [] {
    const auto line = static_cast<std::uint_least32_t>(__LINE__ + 1);
    auto t = canal::go([] {});
    auto n = canal::go(canal::named{"sited"}, [](int) {}, 3);
    t.join();
    n.join();
    CHECK(ends_with(t.spawn_site().file_name(), "this_task_test.cc"));
    CHECK(t.spawn_site().line() == line);
    CHECK(ends_with(n.spawn_site().file_name(), "this_task_test.cc"));
    CHECK(n.spawn_site().line() == line + 1);
  });
}
