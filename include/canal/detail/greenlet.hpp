// canal/detail/greenlet.hpp: the greenlet control block, which is also the shared state behind
// canal::task<R>. Public only because task<R> and go() allocate the block together with the
// user's callable (one allocation per spawn); every field is owned by runtime/ and documented in
// runtime/DESIGN.md. User code must not touch anything in this header.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "canal/detail/source_location.hpp"

#include "canal/detail/spinlock.hpp"

namespace canal::detail {

struct wait_entry;

// wait_queue: an intrusive FIFO of wait_entry (operations in runtime/park.hpp).
struct wait_queue {
  wait_entry* head = nullptr;
  wait_entry* tail = nullptr;
};

// exec_context: one machine context (a greenlet's, or a worker's scheduler loop on its thread
// stack) with what the sanitizers need to know about its stack.
struct exec_context {
  void* ctx = nullptr;          // saved Boost.Context fcontext; nullptr until first run
  void* stack_lo = nullptr;     // lowest usable stack address (ASan)
  std::size_t stack_size = 0;   // usable bytes (ASan)
  void* tsan_fiber = nullptr;   // TSan builds only
  void* asan_fake = nullptr;    // ASan builds only: fake stack saved while switched out
  // The C++ runtime's per-thread exception state (caught-exception stack, uncaught count),
  // saved while switched out: a greenlet parked inside a catch block or a destructor during
  // unwinding may resume on another thread, and `throw;` / std::uncaught_exceptions() must
  // still see its own state.
  void* eh_caught = nullptr;
  unsigned eh_uncaught = 0;
};

// parker: how a blocked party (a greenlet, or an OS thread through a thread_local parker) is
// claimed and woken exactly once. word = epoch << 32 | token.
//   token 0 (idle): not waiting; 1 (open): waiting, claimable; >= 2: claimed by the party whose
//   token it is (timeout, cancel, or a signal/select case). Wakers CAS open -> token; exactly one
//   wins (Go's selectDone), then wakes the party.
struct parker {
  static constexpr std::uint32_t tok_idle = 0;
  static constexpr std::uint32_t tok_open = 1;
  static constexpr std::uint32_t tok_timeout = 2;
  static constexpr std::uint32_t tok_cancel = 3;
  static constexpr std::uint32_t tok_signal = 4;  // tok_signal + k: select case k fired

  std::atomic<std::uint64_t> word{0};
  std::atomic<std::uint32_t> futex{0};  // OS threads only: set to 1 when woken
  struct greenlet* g = nullptr;          // nullptr: an OS thread
};

// Life-cycle of a greenlet, written by its worker only.
enum class life : std::uint8_t { created = 0, started = 1, done = 2 };

struct worker;  // runtime/worker.hpp

// greenlet_name: an owned C string in one pointer (most greenlets have no name, and every byte
// of the control block counts when a million greenlets wait).
class greenlet_name {
 public:
  greenlet_name() = default;
  greenlet_name(const greenlet_name&) = delete;
  greenlet_name& operator=(const greenlet_name&) = delete;
  ~greenlet_name() { delete[] p_; }

  void assign(std::string_view s) {
    char* n = nullptr;
    if (!s.empty()) {
      n = new char[s.size() + 1];
      std::memcpy(n, s.data(), s.size());
      n[s.size()] = '\0';
    }
    delete[] p_;
    p_ = n;
  }
  bool empty() const noexcept { return p_ == nullptr; }
  const char* c_str() const noexcept { return p_ ? p_ : ""; }
  std::string str() const { return p_ ? std::string(p_) : std::string(); }

 private:
  char* p_ = nullptr;
};

struct greenlet {
  explicit greenlet(canal::source_location where) noexcept : where_(where) {}
  greenlet(const greenlet&) = delete;
  greenlet& operator=(const greenlet&) = delete;
  virtual ~greenlet();

  // invoke() runs the user's callable and stores its result or exception; it never throws.
  virtual void invoke() noexcept = 0;
  // discard() destroys the callable without running it (a greenlet killed before it started).
  virtual void discard() noexcept = 0;
  // drop_result() destroys a result nobody can observe any more (no task<R> handle is left),
  // on the greenlet's own stack: a result's destructor may block.
  virtual void drop_result() noexcept {}

  // ---- scheduling: touched by the worker that runs it, handed over through run queues
  greenlet* next_ = nullptr;      // intrusive link in run queues
  greenlet* prev_ = nullptr;      // back link, used only on a worker's dispatch stack
  exec_context ec_;               // machine context, valid while the greenlet is switched out
  void* stack_ = nullptr;         // stack block (runtime/stack.hpp), assigned at first run
  // The epoch of the last wait whose park completed (context saved, locks released). kill(),
  // the one waker that does not hold a lock the parker releases after its switch, waits for it.
  std::atomic<std::uint32_t> parked_epoch_{0};
  life life_ = life::created;
  std::atomic<bool> cancel_{false};  // kill() requested and not yet delivered
  std::atomic<bool> nocancel_{false};  // parked while unwinding: kill() must not wake it
  // 1 + index of the worker whose ring it was yielded into, while it waits there (0: not a
  // yielded greenlet, or a worker index above 254). Yielded greenlets are CPU work that any
  // idle worker may take (runtime/DESIGN.md, "Affinity before balance").
  std::uint8_t yield_home_ = 0;
  // The callable and its arguments are trivially destructible: a greenlet killed before it
  // started may be finished without running (no stack). Otherwise it runs once, on its own
  // stack, only to destroy them (their destructors may block: join, receive, ...).
  bool trivial_discard_ = false;
  // Set once the callable returned (or was never run): destroying its captures and an
  // unobservable result is cleanup, not work, so waits in those destructors are not
  // cancellation points (like waits during unwinding).
  bool discarding_ = false;

  // ---- waiting
  parker parker_;
  // What it is parked on ("chan receive", ...). Written by park.cc, read by nothing yet (no
  // dump of parked greenlets exists).
  const char* wait_reason_ = nullptr;

  // ---- identity
  std::uint64_t id_ = 0;
  greenlet_name name_;
  canal::source_location where_;

  // ---- registry of live greenlets (runtime/scheduler.cc), guarded by the owner's registry lock
  greenlet* reg_prev_ = nullptr;
  greenlet* reg_next_ = nullptr;
  worker* reg_owner_ = nullptr;

  // ---- task state, guarded by join_lock_
  spinlock join_lock_{lock_rank::join};
  bool done_ = false;
  std::atomic<bool> done_flag_{false};  // mirror of done_ for lock-free ready()
  bool observed_ = false;               // get() saw the outcome
  wait_queue joiners_;                  // parties blocked in join()
  std::exception_ptr error_;

  // ---- references: handles (task<R>) + 1 while not finished
  std::atomic<std::uint32_t> refs_{1};
};

// ---- runtime entry points used by the public templates (runtime/*.cc)
// spawn() makes g runnable (from a greenlet or from a foreign OS thread while a runtime runs).
// Takes over the reference the caller holds for the running greenlet. Throws canal::error when
// no runtime is running.
void spawn(greenlet* g);
// spawn_dispatch() runs g at once on this worker; the spawner continues right after g first
// suspends or ends (Boost.Fiber's launch::dispatch). Same as spawn() off a greenlet.
void spawn_dispatch(greenlet* g);
void add_ref(greenlet* g) noexcept;
void release(greenlet* g) noexcept;
void join(greenlet* g);                                     // may throw cancelled
bool join_until(greenlet* g, std::int64_t deadline_ns);     // steady_clock ns; may throw cancelled
void kill(greenlet* g) noexcept;
bool is_done(const greenlet* g) noexcept;
void mark_observed(greenlet* g) noexcept;
greenlet* current() noexcept;  // the running greenlet, nullptr on a foreign thread

// Control-block memory: per-thread free lists by 8-byte size class (up to 1 KiB), so spawning
// does not go through malloc's slow paths. Larger blocks use operator new.
void* block_alloc(std::size_t size);
void block_free(void* p, std::size_t size) noexcept;

}  // namespace canal::detail
