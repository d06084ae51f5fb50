// sieve.cc: the concurrent prime sieve from the Go tour, with greenlets and channels.
//
// A generator greenlet sends 2, 3, 4, 5, ... down a channel. The first number that comes out
// is prime; we start a filter greenlet that passes on only the numbers it does not divide, and
// read the next prime from the end of that filter. Each new prime adds one more filter to the
// chain, so after n primes a number travels through n greenlets - a daisy chain of filters.
//
//   generate -> filter(2) -> filter(3) -> filter(5) -> ... -> main
//
// When main has its 20 primes it simply returns. The generator and the filters are still
// parked in send(); canal::run cancels them (canal::cancelled is thrown at their send) and
// cleans up. Nothing needs to be closed or joined by hand.
//
// Run it:   ./bazelw run //examples:sieve

#include <canal/canal.hpp>

#include <cstdio>
#include <vector>

namespace {

// Send 2, 3, 4, ... to `out` forever (until cancelled at shutdown).
void generate(canal::send_chan<int> out) {
  for (int i = 2;; ++i) out.send(i);
}

// Copy values from `in` to `out`, dropping the multiples of `prime`.
void filter(canal::recv_chan<int> in, canal::send_chan<int> out, int prime) {
  for (;;) {
    const int i = *in.recv();  // `in` is never closed here, so there is always a value
    if (i % prime != 0) out.send(i);
  }
}

// The boring check: is n prime?
bool is_prime(int n) {
  if (n < 2) return false;
  for (int d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

}  // namespace

int main() {
  const std::vector<int> primes = canal::run(
      [] {
        std::vector<int> found;
        canal::chan<int> ch(0);   // the end of the chain main reads from
        canal::go(generate, ch);  // start the generator; the task handle is dropped (detached)
        for (int n = 0; n < 20; ++n) {
          const int prime = *ch.recv();  // whatever survives all filters so far is prime
          found.push_back(prime);
          canal::chan<int> next(0);
          canal::go(filter, ch, next, prime);  // a new filter at the end of the chain
          ch = next;                           // main now reads after that filter
        }
        return found;  // main returns: run() cancels the generator and the 20 filters
      },
      canal::options{.workers = 2});

  bool ok = primes.size() == 20;
  int expect = 1;
  for (int p : primes) {
    std::printf("%d\n", p);
    do ++expect; while (!is_prime(expect));  // the next prime, the boring way
    ok = ok && p == expect;
  }
  return ok ? 0 : 1;
}
