// dispatch_test.cc: canal::launch::dispatch runs the new greenlet at once; the spawner resumes
// as soon as the child first suspends or ends.
#include <string>
#include <vector>

#include "tests/test_util.hpp"

using namespace canal_test;

TEST_CASE("runtime.launch.dispatch_runs_child_first" * doctest::timeout(30)) {
  auto log = in_runtime(1, [] {
    std::vector<std::string> out;
    auto post = canal::go([&] { out.push_back("posted"); });
    auto child = canal::go(canal::launch::dispatch, [&] {
      out.push_back("child starts");
      canal::this_task::yield();
      out.push_back("child resumes");
    });
    out.push_back("spawner continues");
    child.join();
    post.join();
    return out;
  });
  // The dispatched child ran before the spawner continued; the posted one ran when the
  // spawner blocked, in FIFO order with the yielded child.
  CHECK(log == std::vector<std::string>{"child starts", "spawner continues", "posted",
                                        "child resumes"});
}

namespace {
void tree(canal::chan<long> out, long num, long size) {
  if (size == 1) {
    out.send(num);
    return;
  }
  canal::chan<long> rc(0);
  const long sub = size / 10;
  for (long i = 0; i < 10; ++i) canal::go(canal::launch::dispatch, tree, rc, num + i * sub, sub);
  long sum = 0;
  for (int i = 0; i < 10; ++i) sum += *rc.recv();
  out.send(sum);
}
}  // namespace

TEST_CASE("runtime.launch.dispatch_skynet" * doctest::timeout(60)) {
  const long n = sanitized ? 1000 : scale(10000L, 1000000L);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    long got = in_runtime(w, [n] {
      canal::chan<long> c(0);
      canal::go(canal::launch::dispatch, tree, c, 0L, n);
      return *c.recv();
    });
    CHECK(got == n * (n - 1) / 2);
  }
}
