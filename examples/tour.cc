// tour.cc: a guided tour of canal in one program.
//
//   ./bazelw run //examples:tour
//
// canal gives C++ the concurrency model of Go and gevent: greenlets (cheap threads with their
// own stack, switched in user space) running M:N over a few worker threads, channels to pass
// values between them, and select to wait for whichever of several things happens first.
//
// The tour visits, in order:
//   1. go() and join()            spawn a greenlet, wait for it
//   2. get()                      collect a greenlet's result
//   3. exceptions                 a greenlet's exception comes out of get()
//   4. sleeping                   sleepers overlap: the worker thread is never blocked
//   5. kill()                     stop a greenlet: canal::cancelled is thrown inside it
//   6. channels                   send, receive, close, range-for, buffering
//   7. select                     the first of several cases, with a timeout or a default
//   8. worker threads (M:N)       many greenlets, a few OS threads, real parallelism
//
// The output is the same on every run (tour.out); timings go to stderr. Set
// CANAL_EXAMPLE_SCALE=0.1 to make every sleep ten times shorter.

#include <canal/canal.hpp>  // the whole library

#include <atomic>     // counters shared between greenlets on different threads
#include <chrono>     // durations
#include <cstdio>     // std::printf / std::puts (one call = one line, even across threads)
#include <cstdlib>    // std::getenv, std::strtod
#include <mutex>      // a plain std::mutex is fine for very short critical sections
#include <optional>   // receive cases get std::optional<T>
#include <set>        // collecting distinct thread ids
#include <stdexcept>  // std::runtime_error
#include <string>     // message payloads
#include <thread>     // std::this_thread::get_id
#include <vector>     // lists of tasks

#include "examples/example_scale.hpp"

using namespace std::chrono_literals;

namespace {

using example::scaled;  // d x CANAL_EXAMPLE_SCALE (example_scale.hpp)

// The tour checks its own claims; any surprise makes the program exit with status 1.
std::atomic<int> surprises{0};
void expect(bool ok, const char* what) {
  if (!ok) {
    ++surprises;
    std::fprintf(stderr, "UNEXPECTED: %s\n", what);
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

constexpr std::size_t kWorkers = 4;  // worker OS threads for the whole tour

void tour() {
  // ---------------------------------------------------------------------------------------------
  std::puts("1. go() starts a greenlet, join() waits for it");
  // canal::go(f, args...) spawns a greenlet running f(args...) and returns a task handle.
  auto greeter = canal::go([] { std::puts("   hello from a greenlet"); });
  greeter.join();  // parks this greenlet (main) until greeter has finished
  std::puts("   main: the greeter has finished");

  // ---------------------------------------------------------------------------------------------
  std::puts("2. get() returns a greenlet's result");
  auto product = canal::go([](int a, int b) { return a * b; }, 6, 7);  // arguments are copied
  std::printf("   6 * 7 = %d\n", product.get());                       // get() = join + result

  // A greenlet per number is fine: they are cheap (a small stack, one allocation).
  std::vector<canal::task<long>> squares;
  for (long i = 1; i <= 100; ++i) squares.push_back(canal::go([i] { return i * i; }));
  long sum = 0;
  for (auto& t : squares) sum += t.get();
  std::printf("   sum of the squares of 1..100, one greenlet each: %ld\n", sum);
  expect(sum == 338350, "sum of squares");

  // ---------------------------------------------------------------------------------------------
  std::puts("3. an exception thrown in a greenlet comes out of get()");
  auto failing = canal::go([]() -> int { throw std::runtime_error("disk on fire"); });
  try {
    failing.get();
    expect(false, "get() should have thrown");
  } catch (const std::runtime_error& e) {
    std::printf("   get() rethrew: %s\n", e.what());
  }
  // join() waits without rethrowing; ready()/successful() tell what happened.
  std::printf("   ready: %s, successful: %s\n", failing.ready() ? "yes" : "no",
              failing.successful() ? "yes" : "no");

  // ---------------------------------------------------------------------------------------------
  std::puts("4. sleeping parks the greenlet, not the thread: sleepers overlap");
  {
    canal::chan<std::string> woke(3);  // a buffered channel: who woke up, in order
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<canal::task<void>> sleepers;
    for (auto [name, d] : {std::pair{"slow", 900ms}, std::pair{"medium", 600ms},
                           std::pair{"quick", 300ms}}) {
      sleepers.push_back(canal::go([woke, name = std::string(name), d = d] {
        canal::this_task::sleep_for(scaled(d));  // parks on the worker's timer
        woke.send(name);
      }));
    }
    for (int i = 0; i < 3; ++i) std::printf("   woke up: %s\n", woke.recv()->c_str());
    canal::joinall(sleepers);
    std::fprintf(stderr, "(4: three sleeps of 0.9 + 0.6 + 0.3 s (scaled) took %.2f s)\n",
                 seconds_since(t0));
    std::puts("   all three slept at the same time: about 0.9 s in total, not 1.8 s");
  }

  // ---------------------------------------------------------------------------------------------
  std::puts("5. kill() stops a greenlet: canal::cancelled is thrown where it waits");
  {
    std::atomic<int> ticks{0};
    auto ticker = canal::go([&ticks] {
      try {
        for (;;) {
          canal::this_task::sleep_for(scaled(100ms));  // every sleep is a cancellation point
          ++ticks;
        }
      } catch (const canal::cancelled&) {
        // cancelled is not a std::exception, so catch (const std::exception&) won't swallow it.
        std::puts("   ticker: caught canal::cancelled, cleaning up");
        throw;  // let it propagate: that is how the greenlet ends
      }
    });
    canal::this_task::sleep_for(scaled(350ms));
    ticker.kill();  // asks; does not wait
    ticker.join();  // waits
    try {
      ticker.get();
    } catch (const canal::cancelled&) {
      std::puts("   main: get() reports the ticker as cancelled");
    }
    expect(ticks.load() >= 1, "the ticker ticked before it was killed");
  }

  // ---------------------------------------------------------------------------------------------
  std::puts("6. channels: send, receive, close");
  {
    canal::chan<int> numbers(0);  // unbuffered (capacity 0): each send waits for its receiver
    auto producer = canal::go([numbers] {
      for (int i = 1; i <= 5; ++i) numbers.send(i * 10);
      numbers.close();  // no more values: the receiver's loop ends after the last one
    });
    int total = 0;
    for (int v : numbers) {  // receives until the channel is closed and drained
      std::printf("   received %d\n", v);
      total += v;
    }
    producer.join();
    std::printf("   channel closed; total %d\n", total);
    expect(total == 150, "channel total");

    canal::chan<std::string> mailbox(2);  // buffered: up to 2 values wait without a receiver
    mailbox.send("first");
    mailbox.send("second");
    const canal::chan_status st = mailbox.try_send(std::string("third"));  // would have to wait
    std::printf("   mailbox holds %zu of %zu; a third try_send says: %s\n", mailbox.size(),
                mailbox.capacity(), canal::to_string(st));
    std::printf("   mailbox delivers in order: %s, ", mailbox.recv()->c_str());
    std::printf("%s\n", mailbox.recv()->c_str());
  }

  // ---------------------------------------------------------------------------------------------
  std::puts("7. select: whichever case is ready first");
  {
    canal::chan<std::string> slow(0);
    auto slowpoke = canal::go([slow] {
      canal::this_task::sleep_for(scaled(500ms));
      slow.send("finally!");
    });
    // Nothing is ready yet: with on_default, select doesn't wait at all.
    canal::select(canal::on_recv(slow), canal::on_default([] {
                    std::puts("   nothing ready yet: the default case ran at once");
                  }));
    // Wait at most 0.1 s: the slowpoke needs 0.5 s, so the timeout case fires.
    canal::select(canal::on_recv(slow, [](std::optional<std::string>) {
                    expect(false, "message before the timeout");
                  }),
                  canal::on_timeout(scaled(100ms), [] {
                    std::puts("   nothing within 0.1 s: the timeout case fired");
                  }));
    // Wait up to 5 s: the message arrives first. The index says which case fired.
    const std::size_t fired = canal::select(
        canal::on_recv(slow,
                       [](std::optional<std::string> msg) {
                         std::printf("   received \"%s\"\n", msg->c_str());
                       }),
        canal::on_timeout(scaled(5s), [] { expect(false, "the slowpoke timed out"); }));
    std::printf("   select returned %zu: the receive case\n", fired);
    slowpoke.join();
  }

  // ---------------------------------------------------------------------------------------------
  std::printf("8. M:N: greenlets run on %zu worker threads at once\n", kWorkers);
  {
    // kWorkers greenlets that never yield: each waits (spinning) until all of them are running.
    // That only works if they really run at the same moment, on different OS threads.
    std::atomic<std::size_t> arrived{0};
    std::mutex mu;
    std::set<std::thread::id> threads;
    std::vector<canal::task<bool>> spinners;
    for (std::size_t i = 0; i < kWorkers; ++i) {
      spinners.push_back(canal::go([&] {
        {
          std::lock_guard<std::mutex> lock(mu);
          threads.insert(std::this_thread::get_id());
        }
        ++arrived;
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (arrived.load() < kWorkers) {  // a busy loop: this greenlet keeps its thread
          if (std::chrono::steady_clock::now() > give_up) return false;
        }
        return true;
      }));
    }
    bool all_met = true;
    for (auto& t : spinners) all_met = t.get() && all_met;
    expect(all_met && threads.size() == kWorkers, "the spinners met on separate threads");
    std::printf("   %zu greenlets were running at the same moment, on %zu different threads\n",
                kWorkers, threads.size());

    // Many more greenlets than threads: they take turns on the same few workers.
    threads.clear();
    constexpr int many = 10000;
    std::vector<canal::task<void>> crowd;
    crowd.reserve(many);
    for (int i = 0; i < many; ++i) {
      crowd.push_back(canal::go([&] {
        canal::this_task::yield();  // let others run; may resume on another worker
        std::lock_guard<std::mutex> lock(mu);
        threads.insert(std::this_thread::get_id());
      }));
    }
    canal::joinall(crowd);
    expect(threads.size() <= kWorkers, "no more threads than workers");
    std::printf("   %d greenlets shared those %zu threads\n", many, kWorkers);
  }
}

}  // namespace

int main() {
  const auto t0 = std::chrono::steady_clock::now();
  std::printf("canal tour: main() runs as a greenlet on %zu worker threads\n\n", kWorkers);
  // canal::run starts the workers, runs tour() as the first greenlet, and returns when it does.
  canal::run(tour, canal::options{.workers = kWorkers});
  std::printf("\ntour finished%s\n", surprises.load() == 0 ? "" : " WITH SURPRISES (see stderr)");
  std::fprintf(stderr, "(the tour took %.2f s)\n", seconds_since(t0));
  return surprises.load() == 0 ? 0 : 1;
}
