// Values through channels: move-only payloads (std::unique_ptr) through every operation, and
// canal_test::tracked payloads proving that no value leaks or is duplicated.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/channels/chan_test_helpers.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using canal::chan_status;
using canal_test::in_runtime;
using canal_test::scale;
using canal_test::tracked;
using canal_test::workers;
using chan_test::eventually;
using chan_test::item;
using chan_test::nap;

using uptr = std::unique_ptr<int>;

TEST_CASE("chan.move_only.unique_ptr" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{8}}) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        canal::chan<uptr> c(cap);
        // send/recv against a greenlet.
        auto p = canal::go([c] {
          for (int i = 0; i < 50; ++i) c.send(std::make_unique<int>(i));
        });
        bool ok = true;
        for (int i = 0; i < 50; ++i) {
          std::optional<uptr> v = c.recv();
          ok = ok && v && *v && **v == i;
        }
        CHECK(ok);
        p.join();

        // try_send: on failure the pointer stays with the caller.
        uptr keep = std::make_unique<int>(11);
        int* raw = keep.get();
        if (cap == 0) {
          CHECK(c.try_send(std::move(keep)) == chan_status::would_block);
          CHECK(keep.get() == raw);
        } else {
          for (std::size_t i = 0; i < cap; ++i) {
            REQUIRE(c.try_send(std::make_unique<int>(100)) == chan_status::ok);
          }
          CHECK(c.try_send(std::move(keep)) == chan_status::would_block);
          CHECK(keep.get() == raw);
          CHECK(c.send_for(std::move(keep), 2ms) == chan_status::timeout);
          CHECK(keep.get() == raw);
          for (std::size_t i = 0; i < cap; ++i) {
            auto r = c.try_recv();
            REQUIRE(r.ok());
            CHECK(**r == 100);
          }
          // Now it fits: moved from only on ok.
          CHECK(c.try_send(std::move(keep)) == chan_status::ok);
          CHECK(keep == nullptr);
          auto r = c.try_recv();
          REQUIRE(r.ok());
          CHECK(r->get() == raw);
          keep = std::move(*r);
        }
        // send_for on timeout keeps it, also unbuffered.
        if (cap == 0) {
          CHECK(c.send_for(std::move(keep), 1ms) == chan_status::timeout);
          CHECK(keep.get() == raw);
        }
        // On a closed channel too.
        c.close();
        CHECK(c.try_send(std::move(keep)) == chan_status::closed);
        CHECK(c.send_for(std::move(keep), 1ms) == chan_status::closed);
        CHECK(keep.get() == raw);
        CHECK_THROWS_AS(c.send(std::move(keep)), canal::channel_closed);
        // send() took its parameter by value: the pointer moved into it and died with it.
        CHECK(keep == nullptr);
      });
    }
  }
}

TEST_CASE("chan.move_only.select" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<uptr> a(0), b(1);
      // on_send of a unique_ptr to a parked receiver; on_recv handing the pointer out.
      auto got = std::make_shared<std::atomic<int>>(0);
      auto r = canal::go([a, got] {
        uptr mine;
        canal::select(canal::on_recv(a, [&](std::optional<uptr> v) {
          if (v) mine = std::move(*v);
        }));
        got->store(mine ? *mine : -1);
      });
      canal::select(canal::on_send(a, std::make_unique<int>(5)));
      r.join();
      CHECK(got->load() == 5);

      // A send case that did not fire: its value is not delivered anywhere.
      b.send(std::make_unique<int>(1));
      std::size_t i = canal::select(canal::on_send(b, std::make_unique<int>(2)), canal::on_default());
      CHECK(i == 1);
      CHECK(b.size() == 1);
      uptr out;
      i = canal::select(canal::on_recv(b, [&](std::optional<uptr> v) { out = std::move(*v); }),
                        canal::on_send(a, std::make_unique<int>(3)));
      CHECK(i == 0);
      REQUIRE(out != nullptr);
      CHECK(*out == 1);
      CHECK(a.try_recv().status == chan_status::would_block);

      // Through a buffered channel with a select on each side.
      canal::chan<uptr> c(4);
      auto s = canal::go([c] {
        for (int k = 0; k < 100; ++k) canal::select(canal::on_send(c, std::make_unique<int>(k)));
        c.close();
      });
      int expect = 0;
      bool ok = true;
      for (;;) {
        bool closed = false;
        canal::select(canal::on_recv(c, [&](std::optional<uptr> v) {
          if (!v) {
            closed = true;
          } else {
            ok = ok && *v && **v == expect++;
          }
        }));
        if (closed) break;
      }
      s.join();
      CHECK(ok);
      CHECK(expect == 100);
    });
  }
}

TEST_CASE("chan.tracked.buffered_destroyed_with_items" * doctest::timeout(60)) {
  const long base = tracked::live.load();
  {
    canal::chan<item> c(16);
    for (int i = 0; i < 10; ++i) c.send(item(i));
    CHECK(tracked::live.load() == base + 10);
    CHECK(c.try_recv().ok());
    CHECK(tracked::live.load() == base + 9);
    canal::chan<item> copy = c;  // a second reference: no copies of the values
    CHECK(tracked::live.load() == base + 9);
  }
  CHECK(tracked::live.load() == base);
  {
    // Wrap-around: head moves past the end of the ring, then the channel dies non-empty.
    canal::chan<item> c(4);
    for (int i = 0; i < 3; ++i) c.send(item(i));
    for (int round = 0; round < 7; ++round) {
      c.send(item(round));
      (void)c.recv();
    }
    c.send(item(98));
    CHECK(c.size() == 4);
    CHECK(c.try_send(item(99)) == chan_status::would_block);
    CHECK(tracked::live.load() == base + 4);
    c.close();  // closed and non-empty
  }
  CHECK(tracked::live.load() == base);
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<item> c(8);
      auto p = canal::go([c] {
        for (int i = 0; i < 8; ++i) c.send(item(i));
      });
      p.join();
      CHECK(tracked::live.load() == base + 8);
    });
    CHECK(tracked::live.load() == base);
  }
}

TEST_CASE("chan.tracked.exactly_once" * doctest::timeout(120)) {
  const int per = canal_test::sanitized ? 500 : scale(5000, 50000);
  constexpr int producers = 4;
  constexpr int consumers = 4;
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{64}}) {
      CAPTURE(cap);
      in_runtime(w, [&] {
        canal::chan<item> c(cap);
        canal::chan<item> side(cap);  // a second channel, fed by select
        const int total = per * producers;
        auto seen = std::make_shared<std::vector<std::atomic<int>>>(static_cast<std::size_t>(total));
        std::vector<canal::task<void>> ps, cs;
        for (int p = 0; p < producers; ++p) {
          ps.push_back(canal::go([c, side, p, per] {
            for (int i = 0; i < per; ++i) {
              long v = static_cast<long>(p) * per + i;
              switch (i % 3) {
                case 0: c.send(item(v)); break;
                case 1: canal::select(canal::on_send(c, item(v)), canal::on_send(side, item(v))); break;
                default: {
                  item x(v);
                  while (c.try_send(std::move(x)) != chan_status::ok) canal::this_task::yield();
                }
              }
            }
          }));
        }
        for (int k = 0; k < consumers; ++k) {
          cs.push_back(canal::go([c, side, seen, k] {
            auto note = [&](std::optional<item> v) {
              if (v && v->v >= 0 && static_cast<std::size_t>(v->v) < seen->size())
                (*seen)[static_cast<std::size_t>(v->v)].fetch_add(1);
            };
            bool c_open = true, side_open = true;
            while (c_open || side_open) {
              if (k % 2 == 0) {
                canal::select(canal::on_recv(c_open ? c : canal::chan<item>(),
                                             [&](std::optional<item> v) {
                                               if (!v) c_open = false;
                                               note(std::move(v));
                                             }),
                              canal::on_recv(side_open ? side : canal::chan<item>(),
                                             [&](std::optional<item> v) {
                                               if (!v) side_open = false;
                                               note(std::move(v));
                                             }));
              } else if (c_open) {
                auto v = c.recv();
                if (!v) c_open = false;
                note(std::move(v));
              } else {
                for (auto& v : side) note(std::move(v));
                side_open = false;
              }
            }
          }));
        }
        canal::joinall(ps);
        c.close();
        side.close();
        canal::joinall(cs);
        int missing = 0, dup = 0;
        for (auto& n : *seen) {
          missing += n.load() == 0;
          dup += n.load() > 1;
        }
        CHECK(missing == 0);
        CHECK(dup == 0);
        CHECK(tracked::live.load() == base);
      });
      CHECK(tracked::live.load() == base);
    }
  }
}

// Greenlets parked in send/select with tracked values when the runtime shuts down: the values
// and the channels are destroyed (nothing leaks, nothing is destroyed twice).
TEST_CASE("chan.tracked.shutdown_with_parked_values" * doctest::timeout(60)) {
  const long base = tracked::live.load();
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<item> full(2);
      full.send(item(1));
      full.send(item(2));
      canal::chan<item> unbuf(0);
      for (int i = 0; i < 10; ++i) {
        canal::go([full] { full.send(item(10)); });
        canal::go([unbuf] { unbuf.send(item(20)); });
        canal::go([full, unbuf] {
          canal::select(canal::on_send(full, item(30)), canal::on_send(unbuf, item(31)));
        });
        canal::go([unbuf] { (void)unbuf.recv(); });  // pairs with one sender, or parks
      }
      nap(10ms);
      CHECK(tracked::live.load() > base);
    });
    CHECK(tracked::live.load() == base);
  }
}

namespace {
// Over-aligned payload. Under ASan, GCC 12 places stack objects aligned beyond 32 bytes
// misaligned (32 mod 64) once detect_stack_use_after_return=1 hands out fake-stack frames
// (seen with -fstack-protector, which Bazel's toolchain passes; no canal code involved), and
// UBSan then aborts on the first store. So ASan builds use 32-byte alignment.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t wide_align = 32;
#else
constexpr std::size_t wide_align = 64;
#endif
struct alignas(wide_align) wide {
  std::array<std::uint64_t, 64> words{};  // 512 bytes
  explicit wide(std::uint64_t seed = 0) {
    for (std::size_t i = 0; i < words.size(); ++i) words[i] = seed * 1000 + i;
  }
  bool intact(std::uint64_t seed) const {
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (words[i] != seed * 1000 + i) return false;
    }
    return true;
  }
};
}  // namespace

TEST_CASE("chan.value_types" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      // Large, over-aligned values, buffered and not.
      for (std::size_t cap : {std::size_t{0}, std::size_t{3}}) {
        canal::chan<wide> c(cap);
        auto p = canal::go([c] {
          for (std::uint64_t i = 0; i < 50; ++i) c.send(wide(i));
        });
        bool ok = true;
        for (std::uint64_t i = 0; i < 50; ++i) {
          auto v = c.recv();
          ok = ok && v && v->intact(i) &&
               reinterpret_cast<std::uintptr_t>(&*v) % alignof(wide) == 0;
        }
        CHECK(ok);
        p.join();
      }
      // std::shared_ptr: reference counts are exact (no hidden copies left behind).
      auto sp = std::make_shared<int>(3);
      {
        canal::chan<std::shared_ptr<int>> c(4);
        c.send(sp);
        c.send(sp);
        CHECK(sp.use_count() == 3);
        (void)c.recv();
        CHECK(sp.use_count() == 2);
      }
      CHECK(sp.use_count() == 1);
      // Strings and vectors keep their contents.
      canal::chan<std::vector<std::string>> vs(0);
      auto p = canal::go([vs] { vs.send({"a", "bb", std::string(1000, 'c')}); });
      auto v = vs.recv();
      REQUIRE(v.has_value());
      REQUIRE(v->size() == 3);
      CHECK((*v)[2] == std::string(1000, 'c'));
      p.join();
    });
  }
}
