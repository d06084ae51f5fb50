// counter.cc: shared state versus an owner greenlet.
//
// The gevent introduction warns about shared mutable state with a little race: several workers
// update one global counter - one adds 1, one doubles it, one subtracts 1 - each reading the
// value, dawdling for a moment, then writing the new value back. With OS threads the updates
// trample each other and the answer changes from run to run.
//
// The canal way (and Go's: "do not communicate by sharing memory; share memory by
// communicating"): one greenlet owns the value. The others never touch it; they send it
// operations over channels, and the owner applies them one at a time, in the agreed order.
// The answer is the same every time: the one you get by doing the work sequentially.
//
// The job: 10 rounds of "add 1, double, subtract 1", starting from 0. Each round maps v to
// 2 * (v + 1) - 1 = 2v + 1, so the right answer is 2^10 - 1 = 1023.
//
// Run it:   ./bazelw run //examples:counter
// Output:   counter.out shows one run; the thread results vary, the canal result never does.

#include <canal/canal.hpp>

#include <atomic>     // the racy version uses atomics, so it is wrong but not undefined
#include <chrono>     // durations
#include <cstdio>     // std::printf
#include <cstdlib>    // std::getenv, std::strtod
#include <functional> // std::function: the three operations
#include <random>     // random dawdling
#include <thread>     // the racy version uses plain OS threads
#include <vector>

#include "examples/example_scale.hpp"

using namespace std::chrono_literals;

namespace {

using example::scaled;  // d x CANAL_EXAMPLE_SCALE (example_scale.hpp)

constexpr int kRounds = 10;

// The three operations, in the order each round applies them.
const std::function<long(long)> kOps[3] = {
    [](long v) { return v + 1; },  // "add 1"
    [](long v) { return v * 2; },  // "double"
    [](long v) { return v - 1; },  // "subtract 1"
};

// The answer we want: the operations applied one after another.
long sequential() {
  long v = 0;
  for (int r = 0; r < kRounds; ++r)
    for (const auto& op : kOps) v = op(v);
  return v;
}

// A random pause of 0..2 ms (scaled): the "dawdling" between reading and writing.
std::chrono::nanoseconds dawdle(std::mt19937& rng) {
  return scaled(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 2000)(rng)));
}

// ---- The racy version: three OS threads, one shared counter -----------------------------------

long with_threads(unsigned seed) {
  std::atomic<long> val{0};  // atomic: each load and store is whole, yet updates get lost
  std::vector<std::thread> threads;
  for (int k = 0; k < 3; ++k) {
    threads.emplace_back([&val, k, seed] {
      std::mt19937 rng(seed * 3 + static_cast<unsigned>(k));
      for (int r = 0; r < kRounds; ++r) {
        std::this_thread::sleep_for(dawdle(rng));
        const long seen = val.load();              // read...
        std::this_thread::sleep_for(dawdle(rng));  // ...dawdle (another thread may write now)...
        val.store(kOps[k](seen));                  // ...write back, maybe over someone's update
      }
    });
  }
  for (auto& t : threads) t.join();
  return val.load();
}

// ---- The canal version: an owner greenlet, operations sent over channels ---------------------

long with_owner(unsigned seed) {
  return canal::run(
      [seed] {
        // One channel per kind of operation; each client sends "do your operation" tokens.
        std::vector<canal::chan<int>> requests = {canal::chan<int>(0), canal::chan<int>(0),
                                                  canal::chan<int>(0)};
        // The owner: the only greenlet that ever touches v. Round by round it takes one request
        // from each channel, in order, and applies it. Requests that arrive early simply wait.
        auto owner = canal::go([requests] {
          long v = 0;
          for (int r = 0; r < kRounds; ++r)
            for (int k = 0; k < 3; ++k) {
              requests[static_cast<std::size_t>(k)].recv();  // wait for client k's request
              v = kOps[k](v);
            }
          return v;
        });
        // The clients dawdle just like the threads did, then ask the owner to do the work.
        std::vector<canal::task<void>> clients;
        for (int k = 0; k < 3; ++k) {
          clients.push_back(canal::go([req = requests[static_cast<std::size_t>(k)], k, seed] {
            std::mt19937 rng(seed * 3 + static_cast<unsigned>(k));
            for (int r = 0; r < kRounds; ++r) {
              canal::this_task::sleep_for(dawdle(rng));  // parks this greenlet only
              req.send(k);                               // "please apply operation k"
            }
          }));
        }
        canal::joinall(clients);
        return owner.get();
      },
      canal::options{.workers = 3});  // clients on several threads: parallel, still correct
}

}  // namespace

int main() {
  const long expected = sequential();
  std::printf("expected (sequential): %ld\n", expected);

  std::printf("three threads sharing one counter:");
  int wrong = 0;
  for (unsigned run = 1; run <= 5; ++run) {
    const long got = with_threads(run);
    wrong += got != expected;
    std::printf(" %ld", got);
  }
  std::printf("  (%d of 5 runs wrong)\n", wrong);

  std::printf("canal, one owner greenlet:         ");
  bool all_right = true;
  for (unsigned run = 1; run <= 5; ++run) {
    const long got = with_owner(run);
    all_right = all_right && got == expected;
    std::printf(" %ld", got);
  }
  std::printf("  (%s)\n", all_right ? "always right" : "WRONG");
  return all_right ? 0 : 1;  // the threads may be lucky; the owner must never be wrong
}
