// An exception nobody observed (no get()) is reported on stderr when its task is released, with
// the greenlet's name and its spawn site. stderr (fd 2) is redirected to a temporary file with
// dup2 while the scenario runs.

#include <stdexcept>
#include <string>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("runtime.unobserved_exception_is_reported" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::string text;
    {
      rt::stderr_capture cap;
      canal_test::in_runtime(w, [&] {
        // Joined (join() does not observe the outcome), then released: reported at release.
        auto t = canal::go(canal::named{"lonely-thrower"},
                           [] { throw std::runtime_error("nobody-looked-at-me"); });
        t.join();
        CHECK_FALSE(t.successful());
      });
      text = cap.finish();
    }
    CHECK(contains(text, "lonely-thrower"));
    CHECK(contains(text, "unobserved_test.cc"));
    CHECK(contains(text, "nobody-looked-at-me"));
  }
}

TEST_CASE("runtime.unobserved_exception_detached" * doctest::timeout(60)) {
  // The handle is dropped before the greenlet throws: the report comes when it ends. By the time
  // run() returns every greenlet has ended and been released.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::string text;
    {
      rt::stderr_capture cap;
      canal_test::in_runtime(w, [&] {
        (void)canal::go(canal::named{"detached-thrower"}, [] {
          canal::this_task::sleep_for(2ms);
          throw std::runtime_error("thrown-while-detached");
        });
        canal::this_task::sleep_for(50ms);
      });
      text = cap.finish();
    }
    CHECK(contains(text, "detached-thrower"));
    CHECK(contains(text, "unobserved_test.cc"));
    CHECK(contains(text, "thrown-while-detached"));
  }
}

TEST_CASE("runtime.observed_exception_is_not_reported" * doctest::timeout(60)) {
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::string text;
    {
      rt::stderr_capture cap;
      canal_test::in_runtime(w, [&] {
        auto t = canal::go(canal::named{"observed-thrower"},
                           [] { throw std::runtime_error("someone-looked"); });
        CHECK_THROWS_AS(t.get(), std::runtime_error);
      });
      text = cap.finish();
    }
    CHECK_FALSE(contains(text, "observed-thrower"));
    CHECK_FALSE(contains(text, "someone-looked"));
  }
}

TEST_CASE("runtime.unobserved_report_can_be_disabled" * doctest::timeout(60)) {
  std::string text;
  {
    rt::stderr_capture cap;
    canal::run(
        [] {
          auto t = canal::go(canal::named{"quiet-thrower"},
                             [] { throw std::runtime_error("should-stay-quiet"); });
          t.join();
        },
        canal::options{.workers = 2, .report_unobserved_exceptions = false});
    text = cap.finish();
  }
  CHECK_FALSE(contains(text, "quiet-thrower"));
  CHECK_FALSE(contains(text, "should-stay-quiet"));
}

TEST_CASE("runtime.unobserved_cancel_is_silent" * doctest::timeout(60)) {
  // Like gevent's GreenletExit: a killed greenlet whose cancellation nobody looked at, and the
  // greenlets cancelled by shutdown, are not reported as errors.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    std::string text;
    {
      rt::stderr_capture cap;
      canal_test::in_runtime(w, [&] {
        auto killed = canal::go(canal::named{"killed-quietly"},
                                [] { canal::this_task::sleep_for(1h); });
        (void)canal::go(canal::named{"cancelled-at-shutdown"},
                        [] { canal::this_task::sleep_for(1h); });
        canal::this_task::sleep_for(5ms);
        killed.kill();
        killed.join();
      });
      text = cap.finish();
    }
    CHECK_FALSE(contains(text, "killed-quietly"));
    CHECK_FALSE(contains(text, "cancelled-at-shutdown"));
  }
}
