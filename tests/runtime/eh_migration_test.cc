// eh_migration_test.cc: the C++ exception state travels with a greenlet that migrates between
// workers while it is inside a catch block or unwinding (runtime/DESIGN.md "Migration").
#include <stdexcept>
#include <string>

#include "tests/test_util.hpp"

using namespace canal_test;

TEST_CASE("runtime.eh.rethrow_after_park_in_catch" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    int ok = in_runtime(w, [] {
      std::vector<canal::task<int>> ts;
      for (int i = 0; i < 200; ++i) {
        ts.push_back(canal::go([i]() -> int {
          try {
            try {
              throw std::runtime_error("boom " + std::to_string(i));
            } catch (const std::runtime_error&) {
              // Park inside the handler: with several workers it may resume elsewhere.
              for (int k = 0; k < 3; ++k) canal::this_task::sleep_for(std::chrono::microseconds(50));
              canal::this_task::yield();
              throw;  // must rethrow *this* greenlet's exception
            }
          } catch (const std::runtime_error& e) {
            return std::string(e.what()) == "boom " + std::to_string(i) ? 1 : 0;
          }
          return 0;
        }));
      }
      int good = 0;
      for (auto& t : ts) good += t.get();
      return good;
    });
    CHECK(ok == 200);
  }
}

namespace {
struct parks_in_destructor {
  int* seen_uncaught;
  ~parks_in_destructor() {
    canal::this_task::sleep_for(std::chrono::microseconds(100));
    *seen_uncaught = std::uncaught_exceptions();
  }
};
}  // namespace

TEST_CASE("runtime.eh.uncaught_count_survives_park_while_unwinding" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    int total = in_runtime(w, [] {
      std::vector<canal::task<int>> ts;
      for (int i = 0; i < 100; ++i) {
        ts.push_back(canal::go([]() -> int {
          int seen = -1;
          try {
            parks_in_destructor p{&seen};
            throw std::logic_error("unwind");
          } catch (const std::logic_error&) {
          }
          return seen;  // 1: the destructor ran during unwinding, after its park too
        }));
      }
      int sum = 0;
      for (auto& t : ts) sum += t.get();
      return sum;
    });
    CHECK(total == 100);
  }
}
