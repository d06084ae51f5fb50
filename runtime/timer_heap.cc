// timer_heap.cc: binary min-heap of deadlines; see timer_heap.hpp for the locking argument.
#include "runtime/timer_heap.hpp"

#include <mutex>

#include "runtime/worker.hpp"

namespace canal::detail {

void timer_heap::sift_up(std::size_t i) noexcept {
  timer_node* n = h_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (h_[parent]->deadline <= n->deadline) break;
    h_[i] = h_[parent];
    h_[i]->index = static_cast<std::int32_t>(i);
    i = parent;
  }
  h_[i] = n;
  n->index = static_cast<std::int32_t>(i);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  const std::size_t size = h_.size();
  timer_node* n = h_[i];
  for (;;) {
    std::size_t l = 2 * i + 1;
    if (l >= size) break;
    std::size_t c = (l + 1 < size && h_[l + 1]->deadline < h_[l]->deadline) ? l + 1 : l;
    if (n->deadline <= h_[c]->deadline) break;
    h_[i] = h_[c];
    h_[i]->index = static_cast<std::int32_t>(i);
    i = c;
  }
  h_[i] = n;
  n->index = static_cast<std::int32_t>(i);
}

void timer_heap::remove_at(std::size_t i) noexcept {
  timer_node* gone = h_[i];
  timer_node* last = h_.back();
  h_.pop_back();
  gone->index = -1;
  if (gone != last) {
    h_[i] = last;
    last->index = static_cast<std::int32_t>(i);
    sift_down(i);
    sift_up(static_cast<std::size_t>(last->index));
  }
}

void timer_heap::add(timer_node* n) {
  std::lock_guard<spinlock> lk(lock_);
  n->owner = this;
  h_.push_back(n);
  sift_up(h_.size() - 1);
  publish();
}

void timer_heap::cancel(timer_node* n) noexcept {
  std::lock_guard<spinlock> lk(lock_);
  if (n->index < 0) return;
  remove_at(static_cast<std::size_t>(n->index));
  publish();
}

std::size_t timer_heap::fire_due(std::int64_t now) {
  std::size_t total = 0;
  for (;;) {
    parker* woken[64];
    std::size_t n = 0;
    {
      std::lock_guard<spinlock> lk(lock_);
      while (n < 64 && !h_.empty() && h_[0]->deadline <= now) {
        timer_node* t = h_[0];
        remove_at(0);
        if (try_claim(t->p, t->epoch, parker::tok_timeout)) woken[n++] = t->p;
      }
      publish();
    }
    for (std::size_t i = 0; i < n; ++i) ready_timer(woken[i]->g);
    total += n;
    if (n < 64) return total;
  }
}

}  // namespace canal::detail
