// The lock-order checker and the invariant checks, in every configuration: this binary links
// //:canal_dchecked (the library built with CANAL_DCHECKS=1, which its own translation units
// inherit), so it checks the same way under ./bazelw test //... as under --config=debug.
//
//   - the rules themselves (lock_order_check) at compile time;
//   - death tests: a forked child breaks a rule and must abort with a report that names both
//     locks and their ranks, and the greenlet it ran on;
//   - what must not fire: failed try_lock, release out of LIFO order, a parking greenlet's
//     locks released by the next context on its thread;
//   - a workload over channels, select, timers, join, kill, dispatch, foreign threads and
//     shutdown that must run clean with every check on.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "canal/canal.hpp"
#include "canal/detail/check.hpp"
#include "canal/detail/lock_rank.hpp"
#include "canal/detail/spinlock.hpp"
#include "doctest/doctest.h"
#include "runtime/lock_order.hpp"

static_assert(CANAL_DCHECK_IS_ON, "tests/checks must be built with CANAL_DCHECKS=1");

namespace {

using namespace std::chrono_literals;
using canal::detail::lock_order_check;
using canal::detail::lock_order_depth;
using canal::detail::lock_order_verdict;
using canal::detail::lock_rank;
using canal::detail::ranked_mutex;
using canal::detail::spinlock;

// ---- the rules, at compile time
constexpr std::uintptr_t A = 0x1000, B = 0x2000;
static_assert(lock_order_check(lock_rank::channel, A, lock_rank::registry, B) ==
              lock_order_verdict::ok);
static_assert(lock_order_check(lock_rank::registry, A, lock_rank::channel, B) ==
              lock_order_verdict::lower_rank);
static_assert(lock_order_check(lock_rank::channel, A, lock_rank::channel, B) ==
              lock_order_verdict::ok);  // select: increasing address
static_assert(lock_order_check(lock_rank::channel, B, lock_rank::channel, A) ==
              lock_order_verdict::decreasing_address);
static_assert(lock_order_check(lock_rank::registry, A, lock_rank::registry, B) ==
              lock_order_verdict::same_rank);  // only channel locks come several at a time
static_assert(lock_order_check(lock_rank::channel, A, lock_rank::join, B) ==
              lock_order_verdict::never_together);
static_assert(lock_order_check(lock_rank::join, A, lock_rank::channel, B) ==
              lock_order_verdict::never_together);
static_assert(lock_order_check(lock_rank::timer_heap, A, lock_rank::timer_heap, A) ==
              lock_order_verdict::recursive);
static_assert(lock_order_check(lock_rank::join, A, lock_rank::block_depot, B) ==
              lock_order_verdict::ok);
// Every rank has a name, and the ranks are dense from 1.
static_assert([] {
  for (int r = 1; r <= canal::detail::lock_rank_count; ++r)
    if (canal::detail::lock_rank_name(static_cast<lock_rank>(r))[0] == '(') return false;
  return true;
}());

// In this (DCHECK) build a spinlock carries its rank; without DCHECKs spinlock.hpp asserts it is
// one atomic<bool>.
static_assert(sizeof(spinlock) == 2);

// ---- forked children

struct child_result {
  bool signaled = false;
  int signal = 0;
  bool exited = false;
  int code = -1;
  std::string err;
};

// Runs fn() in a forked child (no runtime runs in this process at the time) with its stderr on
// a pipe; the child exits with fn()'s result, or dies. SIGALRM ends a child that hangs.
template <class Fn>
child_result in_child(Fn fn) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGALRM}) ::signal(sig, SIG_DFL);
    rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::close(fds[0]);
    ::dup2(fds[1], 2);
    ::close(fds[1]);
    const int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, 1);
    ::alarm(60);
    int code = 100;
    try {
      code = fn();
    } catch (...) {
      code = 101;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  child_result r;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      r.err.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.signaled = WIFSIGNALED(status);
  r.signal = r.signaled ? WTERMSIG(status) : 0;
  r.exited = WIFEXITED(status);
  r.code = r.exited ? WEXITSTATUS(status) : -1;
  return r;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Runs body() in a greenlet named `name` under a one-worker runtime.
template <class Body>
int on_greenlet(const char* name, Body body) {
  return canal::run(
      [&] {
        canal::go(canal::named{name}, [&] { body(); }).join();
        return 0;
      },
      canal::options{.workers = 1});
}

void check_aborted(const child_result& r) {
  INFO("child stderr:\n" << r.err);
  CHECK(r.signaled);
  CHECK(r.signal == SIGABRT);
}

}  // namespace

TEST_CASE("checks.lower_rank_after_higher_aborts_naming_both_locks") {
  const child_result r = in_child([] {
    return on_greenlet("violator", [] {
      spinlock timers{lock_rank::timer_heap};
      spinlock chan{lock_rank::channel};
      timers.lock();
      chan.lock();  // a channel lock under a timer heap lock: out of order
      chan.unlock();
      timers.unlock();
    });
  });
  check_aborted(r);
  INFO("child stderr:\n" << r.err);
  CHECK(has(r.err, "lock order violation"));
  CHECK(has(r.err, "taking  chan_core::lock_ (rank 1)"));
  CHECK(has(r.err, "holding timer_heap::lock_ (rank 6)"));
  CHECK(has(r.err, "greenlet 'violator'"));
  CHECK(has(r.err, "lock_order_test.cc"));  // the greenlet's spawn site
}

TEST_CASE("checks.channel_locks_in_decreasing_address_order_abort") {
  const child_result r = in_child([] {
    return on_greenlet("select-like", [] {
      spinlock chans[2] = {spinlock{lock_rank::channel}, spinlock{lock_rank::channel}};
      chans[0].lock();
      chans[1].lock();  // increasing: fine
      chans[1].unlock();
      chans[0].unlock();
      chans[1].lock();
      chans[0].lock();  // decreasing: a select that did this could deadlock with another
    });
  });
  check_aborted(r);
  INFO("child stderr:\n" << r.err);
  CHECK(has(r.err, "decreasing address order"));
  CHECK(has(r.err, "taking  chan_core::lock_ (rank 1)"));
  CHECK(has(r.err, "holding chan_core::lock_ (rank 1)"));
}

TEST_CASE("checks.two_locks_of_a_single_rank_abort") {
  const child_result r = in_child([] {
    spinlock a{lock_rank::registry}, b{lock_rank::registry};
    a.lock();
    b.lock();
    return 0;
  });
  check_aborted(r);
  INFO("child stderr:\n" << r.err);
  CHECK(has(r.err, "two locks of a rank that allows one at a time"));
  CHECK(has(r.err, "worker::reg_lock (rank 5)"));
  CHECK(has(r.err, "not a canal worker"));  // no greenlet: a plain thread
}

TEST_CASE("checks.channel_and_join_locks_never_together") {
  const child_result r = in_child([] {
    spinlock join{lock_rank::join}, chan{lock_rank::channel};
    join.lock();
    chan.lock();
    return 0;
  });
  check_aborted(r);
  INFO("child stderr:\n" << r.err);
  CHECK(has(r.err, "a channel lock and a join lock held together"));
  CHECK(has(r.err, "greenlet::join_lock_ (rank 2)"));
}

TEST_CASE("checks.recursive_lock_aborts_instead_of_spinning") {
  const child_result r = in_child([] {
    spinlock l{lock_rank::idle};
    l.lock();
    l.lock();
    return 0;
  });
  check_aborted(r);
  INFO("child stderr:\n" << r.err);
  CHECK(has(r.err, "already holds this lock"));
}

TEST_CASE("checks.ranked_mutex_is_checked_like_a_spinlock") {
  const child_result r = in_child([] {
    ranked_mutex pool{lock_rank::stack_pool};
    spinlock fifo{lock_rank::run_fifo};
    pool.lock();
    fifo.lock();
    return 0;
  });
  check_aborted(r);
  INFO("child stderr:\n" << r.err);
  CHECK(has(r.err, "taking  global_fifo::lock_ (overflow or inbox) (rank 7)"));
  CHECK(has(r.err, "holding stack_pool::mu_ (rank 10)"));
}

TEST_CASE("checks.release_on_another_thread_aborts") {
  const child_result r = in_child([] {
    spinlock l{lock_rank::channel};
    l.lock();
    std::thread([&] { l.unlock(); }).join();
    return 0;
  });
  check_aborted(r);
  INFO("child stderr:\n" << r.err);
  CHECK(has(r.err, "which this thread does not hold"));
  CHECK(has(r.err, "chan_core::lock_ (rank 1)"));
}

TEST_CASE("checks.failed_dcheck_reports_invariant_site_and_greenlet") {
  const child_result r = in_child([] {
    return on_greenlet("checker", [] {
      volatile int two = 2;
      CANAL_DCHECK(two + two == 5, "arithmetic is broken on purpose");
    });
  });
  check_aborted(r);
  INFO("child stderr:\n" << r.err);
  CHECK(has(r.err, "check failed: two + two == 5"));
  CHECK(has(r.err, "arithmetic is broken on purpose"));
  CHECK(has(r.err, "lock_order_test.cc:"));
  CHECK(has(r.err, "greenlet 'checker'"));
}

TEST_CASE("checks.what_must_not_fire") {
  // Out-of-LIFO release, a failed try_lock (records nothing), a successful try_lock out of
  // order (cannot deadlock: recorded, not checked), then the runtime's own park handshake.
  const child_result r = in_child([] {
    spinlock chan{lock_rank::channel}, reg{lock_rank::registry}, fifo{lock_rank::run_fifo};
    chan.lock();
    reg.lock();
    chan.unlock();  // not LIFO
    fifo.lock();
    fifo.unlock();
    reg.unlock();
    if (lock_order_depth() != 0) return 1;

    std::atomic<bool> held{false}, done{false};
    std::thread other([&] {
      fifo.lock();
      held = true;
      while (!done) std::this_thread::yield();
      fifo.unlock();
    });
    while (!held) std::this_thread::yield();
    reg.lock();
    if (fifo.try_lock()) return 2;  // held by the other thread: fails, records nothing
    if (lock_order_depth() != 1) return 3;
    reg.unlock();
    done = true;
    other.join();

    fifo.lock();
    if (!reg.try_lock()) return 4;  // lower rank, but a try_lock
    if (lock_order_depth() != 2) return 5;
    fifo.unlock();
    reg.unlock();
    return lock_order_depth() == 0 ? 0 : 6;
  });
  INFO("child stderr:\n" << r.err);
  CHECK(r.exited);
  CHECK(r.code == 0);
}

TEST_CASE("checks.real_workload_runs_clean" * doctest::timeout(300)) {
  for (std::size_t w : {std::size_t{1}, std::size_t{2}, std::size_t{4}}) {
    CAPTURE(w);
    const int sum = canal::run(
        [] {
          int total = 0;
          // Unbuffered and buffered channels between greenlets, some spawned with dispatch.
          canal::chan<int> unbuf(0), buf(8), done(0);
          std::vector<canal::task<void>> producers;
          for (int p = 0; p < 4; ++p) {
            producers.push_back(canal::go(canal::launch::dispatch, [=] {
              for (int i = 0; i < 200; ++i) (i % 2 ? unbuf : buf).send(1);
            }));
          }
          // select over several channels (several channel locks, increasing address order),
          // with a timeout case that fires once the producers are done.
          canal::chan<int> never(0);
          for (int got = 0; got < 800;) {
            canal::select(canal::on_recv(unbuf, [&](std::optional<int> v) { got += *v; }),
                          canal::on_recv(buf, [&](std::optional<int> v) { got += *v; }),
                          canal::on_recv(never), canal::on_send(never, 0),
                          canal::on_timeout(5s));
            total = got;
          }
          for (auto& t : producers) t.join();
          // Timed operations that time out (timer heap under a channel lock).
          CHECK(never.recv_for(1ms).status == canal::chan_status::timeout);
          CHECK(never.send_for(1, 1ms) == canal::chan_status::timeout);
          CHECK(canal::select(canal::on_recv(never), canal::on_timeout(1ms)) == 1);
          // A select waiting to send and to receive on one channel, served by a peer.
          canal::chan<int> both(0);
          auto peer = canal::go([both] { both.send(7); });
          int seen = 0;
          canal::select(canal::on_recv(both, [&](std::optional<int> v) { seen = *v; }),
                        canal::on_send(both, 1));
          peer.join();
          // Join with a timeout, kill of a parked greenlet, close with parked waiters.
          auto sleeper = canal::go([] { canal::this_task::sleep_for(1h); });
          CHECK_FALSE(sleeper.wait_for(1ms));
          sleeper.kill();
          sleeper.join();
          canal::chan<int> closing(0);
          auto waiter = canal::go([closing] { return closing.recv().has_value(); });
          canal::this_task::sleep_for(1ms);
          closing.close();
          CHECK_FALSE(waiter.get());
          // A foreign thread sends and receives (thread parker, inbox).
          canal::chan<int> cross(0);
          std::thread t([cross] {
            cross.send(5);
            (void)cross.recv();
          });
          total += *cross.recv();
          cross.send(0);
          t.join();
          // Left parked at the end: shutdown kills them under the registry lock.
          for (int i = 0; i < 8; ++i) canal::go([never] { (void)never.recv(); });
          for (int i = 0; i < 8; ++i) canal::go([] { canal::this_task::sleep_for(1h); });
          canal::this_task::yield();
          return total + seen;
        },
        canal::options{.workers = w});
    CHECK(sum == 800 + 5 + 7);
    CHECK(lock_order_depth() == 0);
  }
}
