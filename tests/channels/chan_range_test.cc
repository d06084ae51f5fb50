// Range-for over channels: move-only values (the iterator yields T&&), and the three loop forms
// (auto, auto&, const auto&) for copyable values (the iterator yields T&).
#include <iterator>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/test_util.hpp"

using canal_test::in_runtime;
using canal_test::workers;

// What dereferencing yields.
static_assert(std::is_same_v<decltype(*std::declval<canal::chan<std::unique_ptr<int>>::iterator&>()),
                             std::unique_ptr<int>&&>);
static_assert(std::is_same_v<decltype(*std::declval<canal::chan<std::string>::iterator&>()),
                             std::string&>);
static_assert(std::input_iterator<canal::chan<int>::iterator>);
static_assert(std::input_iterator<canal::chan<std::unique_ptr<int>>::iterator>);

namespace {
// Move-construct-only.
struct only_move {
  int v;
  explicit only_move(int x) : v(x) {}
  only_move(only_move&&) noexcept = default;
  only_move(const only_move&) = delete;
  only_move& operator=(only_move&&) = delete;
  only_move& operator=(const only_move&) = delete;
};
}  // namespace

TEST_CASE("chan.range.move_only" * doctest::timeout(60)) {
  for (std::size_t w : workers()) {
    CAPTURE(w);
    in_runtime(w, [&] {
      canal::chan<std::unique_ptr<int>> ch(2);
      canal::go([ch] {
        for (int i = 0; i < 5; ++i) ch.send(std::make_unique<int>(i));
        ch.close();
      });
      std::vector<std::unique_ptr<int>> got;
      for (auto p : ch) got.push_back(std::move(p));  // p is moved out of the iterator
      REQUIRE(got.size() == 5);
      for (int i = 0; i < 5; ++i) CHECK(*got[i] == i);

      canal::chan<only_move> c2(0);
      canal::go([c2] {
        for (int i = 0; i < 3; ++i) c2.send(only_move(i));
        c2.close();
      });
      int sum = 0;
      for (auto&& m : c2) sum += m.v;  // forwarding reference binds the rvalue
      CHECK(sum == 3);

      canal::chan<std::unique_ptr<int>> c3(4);
      for (int i = 0; i < 3; ++i) c3.send(std::make_unique<int>(i + 1));
      c3.close();
      int s3 = 0;
      for (const auto& p : c3) s3 += *p;  // const lvalue reference binds the rvalue
      CHECK(s3 == 6);
      canal::recv_chan<std::unique_ptr<int>> rc = c3;
      for (auto p : rc) CHECK(p == nullptr);  // closed and drained: no iterations
    });
  }
}

TEST_CASE("chan.range.copyable_forms" * doctest::timeout(60)) {
  in_runtime(2, [&] {
    auto fill = [] {
      canal::chan<std::string> ch(4);
      for (const char* s : {"a", "bb", "ccc"}) ch.send(s);
      ch.close();
      return ch;
    };
    std::string all;
    for (auto v : fill()) all += v;
    for (auto& v : fill()) {
      v += "!";  // a mutable reference to the received value
      all += std::move(v);
    }
    for (const auto& v : fill()) all += v;
    CHECK(all == "abbccca!bb!ccc!abbccc");
  });
}
