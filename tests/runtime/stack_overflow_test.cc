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

struct child_result {
  bool exited = false;
  int exit_code = -1;
  bool signaled = false;
  int signal = 0;
  bool timed_out = false;
  std::string err;
};

// Forks; the child runs fn() with stderr on a pipe and _exit()s with its result.
template <class Fn>
child_result run_in_child(Fn fn) {
  child_result r;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child must die the default way: undo doctest's crash handlers (they would print a
    // test report from the child), keep its stdout out of the parent's log, and dump no core.
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTERM, SIGINT}) {
      ::signal(sig, SIG_DFL);
    }
    rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    const int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, 1);
    ::close(fds[0]);
    ::dup2(fds[1], 2);
    ::close(fds[1]);
    int code = 100;
    try {
      code = fn();
    } catch (...) {
      code = 101;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  const auto deadline = rt::steady::now() + 60s;
  bool eof = false, reaped = false;
  int status = 0;
  while (!(eof && reaped)) {
    if (rt::steady::now() > deadline) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      reaped = true;
      break;
    }
    if (!eof) {
      pollfd p{fds[0], POLLIN, 0};
      ::poll(&p, 1, 50);
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n > 0) {
          r.err.append(buf, static_cast<std::size_t>(n));
        } else {
          if (n == 0) eof = true;
          break;
        }
      }
    } else {
      ::usleep(10'000);
    }
    if (!reaped && ::waitpid(pid, &status, WNOHANG) == pid) reaped = true;
  }
  ::close(fds[0]);
  r.exited = WIFEXITED(status);
  r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
  r.signaled = WIFSIGNALED(status);
  r.signal = r.signaled ? WTERMSIG(status) : 0;
  return r;
}

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
