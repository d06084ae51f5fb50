// producer_consumer.cc: a bounded buffer is just a buffered channel.
//
// A producer makes items faster than a consumer can handle them. Between them sits a channel
// with room for 3 items: when it is full, the producer's send() parks the producer until the
// consumer takes something out. No locks, no condition variables, no busy waiting - and the
// buffer can never grow beyond its capacity, however fast the producer is.
//
// Part 1: one producer, one consumer: items arrive in order.
// Part 2: three producers, four consumers on four worker threads: every item is consumed
//         exactly once.
//
// Run it:   ./bazelw run //examples:producer_consumer

#include <canal/canal.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "examples/example_scale.hpp"

using namespace std::chrono_literals;

namespace {

using example::scaled;  // d x CANAL_EXAMPLE_SCALE (example_scale.hpp)

bool part1() {
  std::puts("part 1: one producer, one slow consumer, a buffer of 3");
  canal::chan<int> buffer(3);       // the bounded buffer: at most 3 items in flight
  std::size_t fullest = 0;          // the most items the producer ever saw waiting

  // The producer: sends 1..10 as fast as it can, then closes the channel ("no more items").
  // Its send() parks whenever the buffer is full. canal::send_chan is the send-only view.
  auto producer = canal::go([&fullest](canal::send_chan<int> out) {
    for (int i = 1; i <= 10; ++i) {
      out.send(i);                                 // parks while 3 items are waiting
      if (out.size() > fullest) fullest = out.size();
    }
    out.close();
  }, buffer);

  // The consumer (main itself): slow, 20 ms per item. The range-for receives until the
  // channel is closed and empty.
  int expected = 1;
  bool in_order = true;
  for (int item : buffer) {
    std::printf("  consumed %d\n", item);
    in_order = in_order && item == expected++;
    canal::this_task::sleep_for(scaled(20ms));    // slow work; the producer gets ahead
  }
  producer.join();
  // The slow consumer let the producer fill the buffer - but never beyond its capacity.
  std::printf("  the producer filled the buffer up to %zu items, its capacity\n", fullest);
  const bool ok = in_order && expected == 11 && fullest == buffer.capacity();
  if (!ok) std::fprintf(stderr, "part 1 went wrong (fullest = %zu)\n", fullest);
  return ok;
}

bool part2() {
  std::puts("part 2: three producers, four consumers, a buffer of 5");
  constexpr int kProducers = 3, kConsumers = 4, kPerProducer = 100;
  canal::chan<int> buffer(5);
  std::vector<std::atomic<int>> seen(kProducers * kPerProducer);  // how often each item came

  // Producers: producer p makes items p*100 .. p*100+99.
  std::vector<canal::task<void>> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(canal::go([buffer, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        buffer.send(p * kPerProducer + i);
        if (i % 10 == 0) canal::this_task::sleep_for(scaled(1ms));  // bursts
      }
    }));
  }
  // Consumers: take items until the channel is closed; report how many each handled.
  std::vector<canal::task<int>> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.push_back(canal::go([buffer, &seen] {
      int handled = 0;
      while (auto item = buffer.recv()) {  // std::nullopt once closed and drained
        ++seen[static_cast<std::size_t>(*item)];
        ++handled;
        if (handled % 7 == 0) canal::this_task::sleep_for(scaled(1ms));
      }
      return handled;
    }));
  }
  // When every producer is done, close the channel: the consumers drain it, then stop.
  canal::joinall(producers);
  buffer.close();
  int total = 0;
  for (auto& c : consumers) total += c.get();

  bool exactly_once = true;
  for (auto& s : seen) exactly_once = exactly_once && s.load() == 1;
  std::printf("  %d items produced, %d consumed, each exactly once: %s\n",
              kProducers * kPerProducer, total, exactly_once ? "yes" : "NO");
  return exactly_once && total == kProducers * kPerProducer;
}

}  // namespace

int main() {
  const bool ok1 = canal::run(part1, canal::options{.workers = 1});
  const bool ok2 = canal::run(part2, canal::options{.workers = 4});
  return ok1 && ok2 ? 0 : 1;
}
