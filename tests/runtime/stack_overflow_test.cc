// Stack overflow in a greenlet: the guard page below its stack turns unbounded recursion into a
// crash with a diagnostic (not silent memory corruption). The scenario runs in a forked child
// (this test binary has started no runtime before the fork, so the child is single-threaded);
// the parent checks that the child died and that its stderr names the problem, the greenlet,
// its spawn site and its stack size.
// Tagged no_sanitizer: ASan/TSan install their own SIGSEGV handling.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "doctest/doctest.h"
#include "tests/runtime/runtime_helpers.hpp"
#include "tests/subprocess.hpp"
#include "tests/test_util.hpp"

namespace {

using namespace std::chrono_literals;

volatile int g_limit = INT_MAX;  // keeps the compiler from proving the recursion infinite

[[gnu::noinline]] int recurse(int depth) {
  volatile char pad[256];
  pad[0] = static_cast<char>(depth);
  if (depth >= g_limit) return pad[0];
  return recurse(depth + 1) + pad[0];  // not a tail call: the frame stays
}

using canal_test::child_result;
using canal_test::run_in_child;

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("runtime.stack_overflow_is_reported" * doctest::timeout(300)) {
  constexpr std::size_t stack_kib = 64;
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    const child_result r = run_in_child([w] {
      return canal::run(
          [] {
            auto deep = canal::go(canal::named{"deep"}, [] { return recurse(0); });
            (void)deep.get();  // never returns: the recursion overflows the greenlet's stack
            return 0;
          },
          canal::options{.workers = w, .stack_size = stack_kib * 1024});
    });
    INFO("child stderr:\n" << r.err);
    CAPTURE(r.exited);
    CAPTURE(r.exit_code);
    CAPTURE(r.signal);
    CHECK_FALSE(r.timed_out);
    CHECK_FALSE((r.exited && r.exit_code == 0));
    CHECK(contains(r.err, "stack overflow"));
    CHECK(contains(r.err, "deep"));
    CHECK(contains(r.err, "stack_overflow_test.cc"));
    const bool names_size = contains(r.err, std::to_string(stack_kib * 1024)) ||
                            contains(r.err, std::to_string(stack_kib) + " KiB") ||
                            contains(r.err, std::to_string(stack_kib) + "KiB") ||
                            contains(r.err, std::to_string(stack_kib) + " KB") ||
                            contains(r.err, std::to_string(stack_kib) + "K");
    CHECK(names_size);
  }
}

TEST_CASE("runtime.deep_but_bounded_recursion_fits" * doctest::timeout(120)) {
  // The same recursion, bounded well inside the default 256 KiB stack, completes normally.
  for (std::size_t w : canal_test::workers()) {
    CAPTURE(w);
    const child_result r = run_in_child([w] {
      g_limit = 200;  // ~200 frames of ~300 bytes: about 60 KiB
      const int v = canal::run(
          [] { return canal::go(canal::named{"shallow"}, [] { return recurse(0); }).get(); },
          canal::options{.workers = w});
      (void)v;
      return 0;
    });
    INFO("child stderr:\n" << r.err);
    CHECK(r.exited);
    CHECK(r.exit_code == 0);
  }
}
