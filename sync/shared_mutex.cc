// shared_mutex.cc: canal::shared_mutex (sync/DESIGN.md, "shared_mutex").
//
// Everything under lk_: writer_, readers_, wq_ (writers), rq_ (readers). A waiter that is
// claimed has been granted its lock by the claimant (readers_ incremented or writer_ set for it).
#include "canal/errors.hpp"
#include "canal/sync.hpp"
#include "sync/wait.hpp"

namespace canal {

namespace {
using detail::parker;
using detail::wait_entry;
using detail::wake_list;
}  // namespace

// dispatch(): grant what the state allows, after any change. readers_first: a writer just
// unlocked, so the readers that queued behind it go before the next writer (Go's RWMutex).
// Otherwise a waiting writer blocks new readers, and gets the lock when the readers drain.
static void sm_dispatch(bool& writer, std::uint32_t& readers, detail::wait_queue& wq,
                        detail::wait_queue& rq, wake_list& wl, bool readers_first) {
  if (writer) return;
  if (readers_first) {
    readers += static_cast<std::uint32_t>(detail::claim_all(rq, wl, parker::tok_signal));
    if (readers > 0) return;
  }
  if (readers == 0) {
    if (wait_entry* e = detail::claim_one(wq, parker::tok_signal)) {
      writer = true;
      wl.add(e);
      return;
    }
  }
  if (wq_empty(wq))
    readers += static_cast<std::uint32_t>(detail::claim_all(rq, wl, parker::tok_signal));
}

shared_mutex::~shared_mutex() {
  if (!wq_empty(wq_) || !wq_empty(rq_))
    detail::sync_fatal("canal::shared_mutex destroyed while parties wait on it");
}

bool shared_mutex::lock_impl(std::int64_t deadline) {
  lk_.lock();
  if (!writer_ && readers_ == 0) {
    writer_ = true;
    lk_.unlock();
    return true;
  }
  if (deadline == detail::try_now) {
    lk_.unlock();
    return false;
  }
  wait_entry e;
  const std::uint32_t tok =
      detail::park_in(wq_, lk_, e, false, deadline, "shared_mutex lock", [this](wake_list& wl) {
        // A writer that gives up may have been what held readers back.
        sm_dispatch(writer_, readers_, wq_, rq_, wl, false);
      });
  if (tok >= parker::tok_signal) return true;
  if (tok == parker::tok_cancel) detail::throw_cancelled();
  return false;
}

bool shared_mutex::lock_shared_impl(std::int64_t deadline) {
  lk_.lock();
  if (!writer_ && wq_empty(wq_)) {
    ++readers_;
    lk_.unlock();
    return true;
  }
  if (deadline == detail::try_now) {
    lk_.unlock();
    return false;
  }
  wait_entry e;
  const std::uint32_t tok = detail::park_in(rq_, lk_, e, deadline, "shared_mutex lock_shared");
  if (tok >= parker::tok_signal) return true;
  if (tok == parker::tok_cancel) detail::throw_cancelled();
  return false;
}

void shared_mutex::unlock() {
  wake_list wl;
  lk_.lock();
  if (!writer_) {
    lk_.unlock();
    throw error("canal::shared_mutex::unlock: not locked exclusively");
  }
  writer_ = false;
  sm_dispatch(writer_, readers_, wq_, rq_, wl, true);
  lk_.unlock();
  wl.wake_all();
}

void shared_mutex::unlock_shared() {
  wake_list wl;
  lk_.lock();
  if (readers_ == 0) {
    lk_.unlock();
    throw error("canal::shared_mutex::unlock_shared: not locked shared");
  }
  --readers_;
  sm_dispatch(writer_, readers_, wq_, rq_, wl, false);
  lk_.unlock();
  wl.wake_all();
}

}  // namespace canal
