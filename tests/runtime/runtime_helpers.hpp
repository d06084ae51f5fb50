// tests/runtime/runtime_helpers.hpp: small helpers shared by the runtime tests.
//
//   rt::elapsed(t0)              time since t0 (steady_clock)
//   rt::poll_until(pred, limit)  greenlet-friendly wait: sleeps 1 ms between checks
//   rt::stderr_capture           redirects fd 2 into a temporary file (dup2) and reads it back
//   rt::rss_bytes()              resident set size from /proc/self/statm
//   rt::cpu_seconds()            user + sys CPU time of the whole process (getrusage)
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <canal/canal.hpp>

namespace rt {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

inline steady::duration elapsed(steady::time_point t0) { return steady::now() - t0; }

inline double ms(steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Waits (sleeping 1 ms at a time, so it works on a greenlet and on a plain thread) until pred()
// is true or `limit` has passed; returns pred().
template <class Pred>
bool poll_until(Pred pred, steady::duration limit = std::chrono::seconds(30)) {
  const auto deadline = steady::now() + limit;
  while (!pred()) {
    if (steady::now() > deadline) return pred();
    canal::this_task::sleep_for(1ms);
  }
  return true;
}

// Everything written to file descriptor 2 between construction and finish() lands in a temporary
// file instead of the terminal; finish() restores fd 2 and returns the captured text.
class stderr_capture {
 public:
  stderr_capture() {
    std::fflush(stderr);
    std::cerr.flush();
    tmp_ = std::tmpfile();
    saved_ = ::dup(2);
    if (tmp_ != nullptr && saved_ >= 0) ::dup2(::fileno(tmp_), 2);
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;
  ~stderr_capture() { (void)finish(); }

  std::string finish() {
    if (done_) return text_;
    done_ = true;
    std::fflush(stderr);
    std::cerr.flush();
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
    }
    if (tmp_ != nullptr) {
      std::rewind(tmp_);
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, tmp_)) > 0) text_.append(buf, n);
      std::fclose(tmp_);
    }
    // Show what was captured, so that a failing test still has the report in its log.
    std::fprintf(stderr, "---- captured stderr (%zu bytes) ----\n%s", text_.size(), text_.c_str());
    std::fprintf(stderr, "---- end of captured stderr ----\n");
    return text_;
  }

 private:
  std::FILE* tmp_ = nullptr;
  int saved_ = -1;
  bool done_ = false;
  std::string text_;
};

inline long rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

inline double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

}  // namespace rt
