// select.cc: waiting with a timeout lets the other greenlets run.
//
// canal's version of the second program of the gevent introduction, where greenlets "poll" with
// select.select([], [], [], timeout). In canal the same thing is canal::select with an
// on_timeout case: the greenlet parks until one of the cases is ready. Here each poll also
// listens on an inbox channel that nobody ever writes to, so it is always the timeout that
// fires, and while a greenlet polls, the others run.
//
// The timeline (in seconds, at CANAL_EXAMPLE_SCALE=1; one worker thread):
//   0.0  g1 prints, polls for 5 s   -> g2 prints, polls for 2 s -> g3 prints, sleeps 1 s
//   1.0  g3 wakes, prints, finishes
//   2.0  g2's poll times out; it prints and polls again for 1 s
//   3.0  g2's second poll times out; it prints and finishes
//   5.0  g1's poll times out; it prints and finishes. Total: about 5 s.
//
// Run it:   ./bazelw run //examples:select
// Faster:   CANAL_EXAMPLE_SCALE=0.05 ./bazelw run //examples:select

#include <canal/canal.hpp>  // canal::run, canal::go, canal::select, canal::on_recv, on_timeout

#include <chrono>   // durations
#include <cstdio>   // std::puts, std::fprintf
#include <cstdlib>  // std::getenv, std::strtod
#include <optional>  // a receive case hands its handler a std::optional
#include <string>   // the inbox carries strings
#include <vector>   // the task list for joinall

#include "examples/example_scale.hpp"

using namespace std::chrono_literals;

namespace {

using example::scaled;  // d x CANAL_EXAMPLE_SCALE (example_scale.hpp)

// poll_for(inbox, d): wait until a message arrives on the inbox or d has passed, whichever
// comes first.
void poll_for(const canal::chan<std::string>& inbox, std::chrono::nanoseconds d) {
  canal::select(
      canal::on_recv(inbox, [](std::optional<std::string>) { /* a message: never happens */ }),
      canal::on_timeout(scaled(d)));  // the case that fires: d has passed
}

// Each greenlet gets the (shared) inbox as an argument: canal::go(g1, inbox).
void g1(canal::chan<std::string> inbox) {
  std::puts("g1 starts...");
  poll_for(inbox, 5s);                         // parks g1 for 5 s: g2 runs now
  std::puts("g1 is DONE!");                    // t = 5 s: the last one
}

void g2(canal::chan<std::string> inbox) {
  std::puts("enters g2 while waiting for g1 polling");
  poll_for(inbox, 2s);                         // g2 polls too: g3's turn
  std::puts("g1 was probably not done, so jump to g2 again");  // t = 2 s (g1 waits until 5 s)
  poll_for(inbox, 1s);
  std::puts("g2 is DONE! Only g1 left.");      // t = 3 s
}

void g3() {
  std::puts("hits another polling, switch from g2 to g3");
  canal::this_task::sleep_for(scaled(1s));     // a plain sleep parks just the same
  std::puts("g3 is DONE! Visiting g1...");     // t = 1 s; g1 and g2 are still polling
}

}  // namespace

int main() {
  const auto start = std::chrono::steady_clock::now();
  canal::run(
      [] {
        // A channel nobody sends on: what our greenlets "poll". (The nil channel, chan<T>(),
        // would do too: select never picks it. A real but silent channel reads better.)
        canal::chan<std::string> inbox(1);
        // Spawned in this order; with one worker they start in this order (FIFO).
        std::vector<canal::task<void>> tasks = {canal::go(g1, inbox), canal::go(g2, inbox),
                                                canal::go(g3)};
        canal::joinall(tasks);
      },
      canal::options{.workers = 1});
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::fprintf(stderr, "(took %.2f s: the polls overlapped)\n", took.count());
  return 0;
}
