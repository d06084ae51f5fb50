// pipeline.cc: stages connected by channels.
//
// A pipeline is a chain of greenlets where each stage receives values from the previous stage,
// does one small job, and sends the results on to the next. Closing a channel is how a stage
// says "that was everything": the next stage's range-for ends, it closes its own output, and the
// shutdown ripples down the chain.
//
//   numbers(1..12) -> square -> keep_odd -> add_index -> main prints
//
// Each stage takes a recv_chan (it may only receive) and a send_chan (it may only send): the
// types document the direction of the data flow, as Go's <-chan and chan<- do.
//
// Run it:   ./bazelw run //examples:pipeline

#include <canal/canal.hpp>

#include <cstdio>
#include <string>

namespace {

// Stage 1: emit 1..n, then close.
void numbers(int n, canal::send_chan<int> out) {
  for (int i = 1; i <= n; ++i) out.send(i);
  out.close();  // tells the next stage: no more values
}

// Stage 2: square every value.
void square(canal::recv_chan<int> in, canal::send_chan<int> out) {
  for (int v : in) out.send(v * v);  // the loop ends when `in` is closed and drained
  out.close();
}

// Stage 3: drop the even ones.
void keep_odd(canal::recv_chan<int> in, canal::send_chan<int> out) {
  for (int v : in)
    if (v % 2 != 0) out.send(v);
  out.close();
}

// Stage 4: turn each value into a line of text, numbered. Stages may change the type.
void describe(canal::recv_chan<int> in, canal::send_chan<std::string> out) {
  int index = 0;
  for (int v : in) out.send("#" + std::to_string(++index) + ": " + std::to_string(v));
  out.close();
}

}  // namespace

int main() {
  const bool ok = canal::run(
      [] {
        // The channels between the stages. Unbuffered: a value moves on only when the next
        // stage is ready for it, so at most one value waits between two stages.
        canal::chan<int> naturals(0), squares(0), odd_squares(0);
        canal::chan<std::string> lines(0);

        // Wire the stages together. Each runs in its own greenlet; the tasks are dropped at once
        // (the greenlets run on, detached - closing the channels is all the coordination needed).
        canal::go(numbers, 12, naturals);
        canal::go(square, naturals, squares);
        canal::go(keep_odd, squares, odd_squares);
        canal::go(describe, odd_squares, lines);

        // main is the last stage: print every line, until the chain has shut down.
        int count = 0;
        bool right = true;
        for (const std::string& line : lines) {
          std::printf("%s\n", line.c_str());
          ++count;
          // Check against the boring way: the count-th odd number, squared.
          const int odd = 2 * count - 1;
          right = right && line == "#" + std::to_string(count) + ": " + std::to_string(odd * odd);
        }
        std::printf("%d odd squares of 1..12 made it through 4 stages\n", count);
        return right && count == 6;
      },
      canal::options{.workers = 2});
  return ok ? 0 : 1;
}
