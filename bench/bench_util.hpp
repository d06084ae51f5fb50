// bench/bench_util.hpp: helpers shared by canal_bench and micro_bench.
//
// Output lines follow bench/peers/README.md ("Output line format"):
//   bench=<name> peer=canal workers=<n> value=<number> unit=<unit> n=<size>
// Sizes come from environment variables; a wrong answer prints to stderr and exits 1 at once
// (std::_Exit: no static destructors run while worker threads are still alive).
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace canal_bench {

using clock = std::chrono::steady_clock;

// env_size(name, fallback): a non-negative integer from the environment, else fallback.
inline long env_size(const char* name, long fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0) {
    std::fprintf(stderr, "canal_bench: ignoring bad %s=%s\n", name, s);
    return fallback;
  }
  return v;
}

inline double elapsed_ns(clock::time_point since) {
  return std::chrono::duration<double, std::nano>(clock::now() - since).count();
}

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "canal_bench: FAILED: %s\n", what.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(1);
}

inline void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

// One result line. extra (optional) is appended verbatim, e.g. "note=..." or "p50=...".
inline void report(const char* bench, int workers, double value, const char* unit, long n,
                   const std::string& extra = {}) {
  std::printf("bench=%s peer=canal workers=%d value=%.6g unit=%s n=%ld%s%s\n", bench, workers,
              value, unit, n, extra.empty() ? "" : " ", extra.c_str());
  std::fflush(stdout);
}

inline void report_na(const char* bench, int workers, const char* unit, const char* note) {
  std::printf("bench=%s peer=canal workers=%d value=NA unit=%s note=%s\n", bench, workers, unit,
              note);
  std::fflush(stdout);
}

// Current resident set size in bytes (/proc/self/statm, second field).
inline long rss_now() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) fail("cannot open /proc/self/statm");
  long total = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &total, &resident);
  std::fclose(f);
  if (got != 2) fail("cannot parse /proc/self/statm");
  return resident * sysconf(_SC_PAGESIZE);
}

// Peak resident set size of the process in bytes (getrusage; ru_maxrss is in KiB on Linux).
inline long rss_peak() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss * 1024L;
}

}  // namespace canal_bench
