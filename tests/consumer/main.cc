// Smallest outside user of canal: exits 0 iff a greenlet hands 42 over a channel.
#include <canal/canal.hpp>

#include <cstdio>

int main() {
  int r = canal::run(
      [] {
        canal::chan<int> ch(0);
        auto t = canal::go([ch] { ch.send(42); });
        auto v = ch.recv();
        t.join();
        return *v;
      },
      canal::options{.workers = 2});
  std::printf("consumer: received %d\n", r);
  return r == 42 ? 0 : 1;
}
