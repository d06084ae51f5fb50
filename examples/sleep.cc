// sleep.cc: greenlets take turns whenever one of them sleeps.
//
// This is canal's version of the first program of the gevent introduction: three greenlets,
// foo, bar and baz, print their progress. None of them ever waits for another one explicitly;
// they only sleep. Every sleep hands the worker thread to the next greenlet that is ready, so the
// printed lines come out in a fixed order (see sleep.out) even though nothing "calls" anybody.
//
// Two rules explain the whole output:
//   1. With one worker thread, spawned greenlets wait in a FIFO queue and start when the one
//      running now blocks (here: main blocks in joinall).
//   2. sleep_for(0) is gevent.sleep(0): "let everybody who is ready run first". The sleeper goes
//      to the back of the queue.
//
// The timeline (in seconds, at CANAL_EXAMPLE_SCALE=1):
//   0.0  foo prints, sleeps 0       -> bar runs, prints, sleeps 1 -> baz runs, sleeps 3
//        -> foo is at the front again and finishes
//   1.0  bar wakes, prints, sleeps 4 more
//   3.0  baz wakes, prints, finishes
//   5.0  bar wakes, prints twice, finishes; joinall returns; the program ends after ~5 s.
//
// Run it:   ./bazelw run //examples:sleep
// Faster:   CANAL_EXAMPLE_SCALE=0.05 ./bazelw run //examples:sleep   (every sleep x 0.05)

#include <canal/canal.hpp>  // everything: canal::run, canal::go, canal::joinall, this_task, ...

#include <chrono>   // std::chrono::seconds and friends
#include <cstdio>   // std::puts, std::fprintf
#include <cstdlib>  // std::getenv, std::strtod
#include <vector>   // the list of tasks for joinall

#include "examples/example_scale.hpp"

using namespace std::chrono_literals;  // lets us write 1s, 250ms, ...

namespace {

using example::scaled;  // d x CANAL_EXAMPLE_SCALE (example_scale.hpp)

void foo() {
  std::puts("foo is running");                     // foo is first in the queue, so it starts first
  canal::this_task::sleep_for(scaled(0s));         // sleep(0): step aside; bar and baz go first
  std::puts("baz is blocking, switch back to foo...DONE!");  // bar and baz are asleep: back to foo
}

void bar() {
  std::puts("context switch from foo to bar, still blocking...jump to baz");
  canal::this_task::sleep_for(scaled(1s));         // parks bar for 1 s: baz gets the thread
  std::puts("visiting bar...");                    // t = 1 s: bar's timer fired first
  canal::this_task::sleep_for(scaled(4s));         // still blocking: asleep until t = 5 s
  std::puts("visiting bar again...");              // t = 5 s: everybody else is done
  std::puts("Finally, bar is DONE!");
}

void baz() {
  canal::this_task::sleep_for(scaled(3s));         // baz blocks at once, until t = 3 s
  std::puts("visited bar, still blocking, back to baz...DONE!");
}

}  // namespace

int main() {
  const auto start = std::chrono::steady_clock::now();

  // canal::run starts the runtime, runs this lambda as the first ("main") greenlet and returns
  // when it is done. One worker thread makes the interleaving deterministic, as in gevent.
  canal::run(
      [] {
        // canal::go spawns a greenlet. It does not run yet: main is still running.
        std::vector<canal::task<void>> tasks = {canal::go(foo), canal::go(bar), canal::go(baz)};
        // joinall blocks main until all three have finished. Blocking is what lets them run.
        canal::joinall(tasks);
      },
      canal::options{.workers = 1});

  // The timing goes to stderr: stdout stays identical from run to run (sleep.out).
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::fprintf(stderr, "(took %.2f s; the sleeps add up to 0 + 1 + 4 + 3 = 8 s)\n", took.count());
  return 0;
}
