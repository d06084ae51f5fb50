// hub.cc: the only file that includes <uv.h>. See hub.hpp.
#include "runtime/hub.hpp"

#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace canal::detail {

struct hub::impl {
  uv_loop_t loop{};
  uv_async_t doorbell{};
  uv_poll_t timer_watch{};
  int tfd = -1;
  std::int64_t armed = INT64_MAX;  // deadline programmed into tfd
  bool open = false;
};

hub::hub() : p_(std::make_unique<impl>()) {}
hub::~hub() { close(); }

static void check_uv(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "canal: %s failed: %s\n", what, uv_strerror(rc));
    throw std::runtime_error(std::string("canal hub: ") + what + ": " + uv_strerror(rc));
  }
}

void hub::open() {
  check_uv(uv_loop_init(&p_->loop), "uv_loop_init");
  check_uv(uv_async_init(&p_->loop, &p_->doorbell, [](uv_async_t*) {}), "uv_async_init");
  p_->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (p_->tfd < 0) throw std::runtime_error(std::string("canal hub: timerfd_create: ") + std::strerror(errno));
  check_uv(uv_poll_init(&p_->loop, &p_->timer_watch, p_->tfd), "uv_poll_init");
  p_->timer_watch.data = p_.get();
  check_uv(uv_poll_start(&p_->timer_watch, UV_READABLE,
                         [](uv_poll_t* h, int, int) {
                           auto* self = static_cast<impl*>(h->data);
                           std::uint64_t expirations;
                           ssize_t r = read(self->tfd, &expirations, sizeof(expirations));
                           (void)r;
                           self->armed = INT64_MAX;
                         }),
           "uv_poll_start");
  p_->open = true;
}

void hub::close() noexcept {
  if (!p_ || !p_->open) return;
  p_->open = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&p_->doorbell), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&p_->timer_watch), nullptr);
  uv_run(&p_->loop, UV_RUN_NOWAIT);
  uv_loop_close(&p_->loop);
  ::close(p_->tfd);
  p_->tfd = -1;
}

void hub::sleep(std::int64_t deadline) noexcept {
  if (deadline != p_->armed) {
    itimerspec its{};
    if (deadline != INT64_MAX) {
      std::int64_t d = deadline <= 0 ? 1 : deadline;
      // The kernel rejects absolute times near KTIME_MAX (a saturated "practically never"
      // deadline): wake after at most a day instead; the worker looks and sleeps again.
      constexpr std::int64_t day = 86'400'000'000'000;
      if (d > INT64_MAX - day) d = INT64_MAX - day;
      its.it_value.tv_sec = d / 1000000000;
      its.it_value.tv_nsec = d % 1000000000;
    }
    timerfd_settime(p_->tfd, TFD_TIMER_ABSTIME, &its, nullptr);
    p_->armed = deadline;
  }
  uv_run(&p_->loop, UV_RUN_ONCE);
}

void hub::wake() noexcept { uv_async_send(&p_->doorbell); }

}  // namespace canal::detail
