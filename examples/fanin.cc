// fanin.cc: merge several channels into one with select, and stop listening on a timeout.
//
// Two chatty greenlets talk on their own channels: alice sends 5 messages quickly and then
// closes her channel; bob sends 3 messages slowly and then goes quiet without closing his.
// A merge greenlet "fans in" both channels into one with select: whichever has a message
// first gets forwarded. A closed channel is replaced by the nil channel (canal::chan<T>()),
// which select never picks - the Go idiom for "stop listening to this one".
//
// main reads the merged channel with a select that also has a timeout: after 1 s of silence
// it decides that the conversation is over. Returning from main then cancels bob and the merger,
// who are still waiting.
//
// Run it:   ./bazelw run //examples:fanin

#include <canal/canal.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "examples/example_scale.hpp"

using namespace std::chrono_literals;

namespace {

using example::scaled;  // d x CANAL_EXAMPLE_SCALE (example_scale.hpp)

struct message {
  std::string from;
  int seq;
};

// alice: 5 messages, 20 ms apart, then she closes her channel.
void alice(canal::send_chan<message> out) {
  for (int i = 0; i < 5; ++i) {
    canal::this_task::sleep_for(scaled(20ms));
    out.send(message{"alice", i});
  }
  out.close();
}

// bob: 3 messages, 70 ms apart, then he just stops talking (his channel stays open).
void bob(canal::send_chan<message> out) {
  for (int i = 0; i < 3; ++i) {
    canal::this_task::sleep_for(scaled(70ms));
    out.send(message{"bob", i});
  }
  canal::this_task::sleep_for(1h);  // silent; cancelled when main returns
}

// merge: forward whatever arrives on a or b to out, until both are closed.
void merge(canal::chan<message> a, canal::chan<message> b, canal::send_chan<message> out) {
  while (!a.is_nil() || !b.is_nil()) {
    // One select waits on both inputs. The handler of the case that fired runs afterwards;
    // std::nullopt means that channel was closed: swap in the nil channel to ignore it.
    canal::select(canal::on_recv(a,
                                 [&](std::optional<message> m) {
                                   if (m) out.send(std::move(*m));
                                   else a = canal::chan<message>();  // nil: never picked again
                                 }),
                  canal::on_recv(b, [&](std::optional<message> m) {
                    if (m) out.send(std::move(*m));
                    else b = canal::chan<message>();
                  }));
  }
  out.close();  // both inputs closed (never happens here: bob keeps his channel open)
}

}  // namespace

int main() {
  const bool ok = canal::run(
      [] {
        canal::chan<message> from_alice(0), from_bob(0), merged(0);
        canal::go(alice, from_alice);
        canal::go(bob, from_bob);
        canal::go(merge, from_alice, from_bob, merged);

        // Listen to the merged channel until it has been quiet for 1 s.
        std::vector<int> heard_alice, heard_bob;
        bool listening = true;
        while (listening) {
          canal::select(canal::on_recv(merged,
                                       [&](std::optional<message> m) {
                                         if (!m) {  // merged closed: everybody is done
                                           listening = false;
                                         } else {
                                           (m->from == "alice" ? heard_alice : heard_bob)
                                               .push_back(m->seq);
                                         }
                                       }),
                        canal::on_timeout(scaled(1s), [&] { listening = false; }));
        }

        // Messages from different senders interleave differently on every run; each sender's
        // own messages always arrive in the order they were sent.
        auto show = [](const char* who, const std::vector<int>& seqs) {
          std::printf("%s:", who);
          for (int s : seqs) std::printf(" %d", s);
          std::printf("\n");
        };
        show("heard from alice", heard_alice);
        show("heard from bob  ", heard_bob);
        std::printf("then 1 s of silence: stopped listening\n");
        return heard_alice == std::vector<int>{0, 1, 2, 3, 4} &&
               heard_bob == std::vector<int>{0, 1, 2};
      },
      canal::options{.workers = 2});
  return ok ? 0 : 1;
}
