// timer_heap.cc: an intrusive pairing heap of deadlines; see timer_heap.hpp for the locking
// argument.
#include "runtime/timer_heap.hpp"

#include <mutex>

#include "runtime/park.hpp"
#include "runtime/worker.hpp"

namespace canal::detail {

// meld(a, b): two heap roots (sibling and prev null) -> one root. Ties keep `a` on top.
timer_node* timer_heap::meld(timer_node* a, timer_node* b) noexcept {
  if (b->deadline < a->deadline) {
    timer_node* t = a;
    a = b;
    b = t;
  }
  b->prev = a;
  b->sibling = a->child;
  if (a->child) a->child->prev = b;
  a->child = b;
  return a;
}

// merge_pairs(first): the two-pass pairing of a sibling list into one root.
timer_node* timer_heap::merge_pairs(timer_node* first) noexcept {
  if (!first) return nullptr;
  // Pass 1, left to right: meld neighbours in pairs; collect the results in reverse order.
  timer_node* pairs = nullptr;
  while (first) {
    timer_node* a = first;
    timer_node* b = a->sibling;
    a->prev = nullptr;
    if (!b) {
      a->sibling = pairs;
      pairs = a;
      break;
    }
    first = b->sibling;
    a->sibling = nullptr;
    b->sibling = nullptr;
    b->prev = nullptr;
    timer_node* m = meld(a, b);
    m->sibling = pairs;
    pairs = m;
  }
  // Pass 2, right to left (the list is reversed): meld each into the accumulated root.
  timer_node* root = pairs;
  pairs = pairs->sibling;
  root->sibling = nullptr;
  while (pairs) {
    timer_node* nx = pairs->sibling;
    pairs->sibling = nullptr;
    root = meld(root, pairs);
    pairs = nx;
  }
  root->prev = nullptr;
  return root;
}

timer_node* timer_heap::pop_min() noexcept {
  timer_node* r = root_;
  CANAL_DCHECK(r != nullptr && r->prev == nullptr && r->sibling == nullptr,
               "timer_heap: the root has no parent and no siblings");
  root_ = merge_pairs(r->child);
  r->child = r->sibling = r->prev = nullptr;
  r->linked = false;
  size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  return r;
}

void timer_heap::remove(timer_node* n) noexcept {
  if (n == root_) {
    pop_min();
    return;
  }
  CANAL_DCHECK(n->linked && n->prev != nullptr, "timer_heap::remove: a linked non-root node");
  // Cut n's subtree out of its sibling list, pair its children, meld them back at the root.
  if (n->prev->child == n) n->prev->child = n->sibling; else n->prev->sibling = n->sibling;
  if (n->sibling) n->sibling->prev = n->prev;
  n->sibling = n->prev = nullptr;
  timer_node* sub = merge_pairs(n->child);
  n->child = nullptr;
  n->linked = false;
  if (sub) root_ = meld(root_, sub);
  size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void timer_heap::add(timer_node* n) noexcept {
  CANAL_DCHECK(!n->linked, "timer_heap::add: the node is already armed");
  n->child = n->sibling = n->prev = nullptr;
  std::lock_guard<spinlock> lk(lock_);
  n->owner = this;
  n->linked = true;
  root_ = root_ ? meld(root_, n) : n;
  size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  publish();
}

void timer_heap::cancel(timer_node* n) noexcept {
  std::lock_guard<spinlock> lk(lock_);
  if (!n->linked) return;
  remove(n);
  publish();
}

std::size_t timer_heap::fire_due(std::int64_t now, bool by_owner) noexcept {
  std::size_t total = 0;
  for (;;) {
    parker* woken[64];
    std::uint32_t epochs[64];
    std::size_t n = 0;
    {
      std::lock_guard<spinlock> lk(lock_);
      while (n < 64 && root_ && root_->deadline <= now) {
        timer_node* t = pop_min();
        if (try_claim(t->p, t->epoch, parker::tok_timeout)) {
          epochs[n] = t->epoch;
          woken[n++] = t->p;
        }
      }
      publish();
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!by_owner) wait_parked(woken[i]->g, epochs[i]);
      ready_timer(woken[i]->g);
    }
    total += n;
    if (n < 64) return total;
  }
}

}  // namespace canal::detail
