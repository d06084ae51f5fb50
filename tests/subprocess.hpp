// tests/subprocess.hpp: run a scenario in a forked child with a bounded time, for symptoms a
// test cannot survive in-process (a hang, a crash, an abort, a sanitizer report).
//
//   canal_test::child_result r = canal_test::run_in_child([] { ...; return 0; }, 30s);
//   CHECK(r.ok());          // exited with 0 within the time
//   CHECK(r.contains("..."));
//
// The child's stderr is collected (stdout goes to /dev/null); it dies the default way on a
// signal (doctest's crash handlers are undone, no core file). Fork only while no runtime is
// running in the parent (the child must start single-threaded): between canal::run() calls.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace canal_test {

struct child_result {
  bool exited = false;
  int exit_code = -1;
  bool signaled = false;
  int signal = 0;
  bool timed_out = false;
  std::string err;
  bool ok() const { return exited && exit_code == 0 && !timed_out; }
  bool contains(const std::string& s) const { return err.find(s) != std::string::npos; }
};

// run_in_child(fn, limit): fork; the child runs fn() (an int-returning callable: its exit
// code; an escaping exception exits 101) and _exit()s. The parent waits at most `limit`, then
// kills the child (timed_out).
template <class Fn>
child_result run_in_child(Fn fn, std::chrono::steady_clock::duration limit = std::chrono::seconds(60)) {
  child_result r;
  int fds[2];
  if (::pipe(fds) != 0) {
    r.err = "pipe() failed";
    return r;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    r.err = "fork() failed";
    return r;
  }
  if (pid == 0) {
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTERM, SIGINT}) ::signal(sig, SIG_DFL);
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
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: exception: %s\n", e.what());
      code = 101;
    } catch (...) {
      std::fprintf(stderr, "child: unknown exception\n");
      code = 101;
    }
    std::fflush(stderr);
    ::_exit(code);
  }
  ::close(fds[1]);
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool eof = false, reaped = false;
  int status = 0;
  while (!(eof && reaped)) {
    if (std::chrono::steady_clock::now() > deadline) {
      r.timed_out = true;
      if (!reaped) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        reaped = true;
      }
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

}  // namespace canal_test
