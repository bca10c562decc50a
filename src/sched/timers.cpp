// timers: 4-ary min-heap per P, ordered by when; parent of i is (i-1)/4, children 4i+1..4i+4.
// Each timer records its heap (pp) and position (heap_index) so deletion is O(log n); each
// slot carries a copy of its timer's when (timer_slot), so sifting reads only the heap.
#include "sched/timers.hpp"

#include "os/clock.hpp"
#include "sched/fatal.hpp"
#include "sched/sched.hpp"

namespace gort::rt {
namespace {

void set_at(p* pp, size_t i, timer_slot x) {
  pp->timers[i] = x;
  x.t->heap_index = int32_t(i);
}

void siftup(p* pp, size_t i) {
  auto& h = pp->timers;
  timer_slot x = h[i];
  while (i > 0) {
    size_t parent = (i - 1) / 4;
    if (x.when >= h[parent].when) break;
    set_at(pp, i, h[parent]);
    i = parent;
  }
  set_at(pp, i, x);
}

void siftdown(p* pp, size_t i) {
  auto& h = pp->timers;
  size_t n = h.size();
  timer_slot x = h[i];
  for (;;) {
    size_t c = 4 * i + 1;
    if (c >= n) break;
    size_t best = c;
    int64_t best_when = h[c].when;
    size_t end = c + 4 < n ? c + 4 : n;
    for (size_t k = c + 1; k < end; k++) {
      if (h[k].when < best_when) {
        best = k;
        best_when = h[k].when;
      }
    }
    if (best_when >= x.when) break;
    set_at(pp, i, h[best]);
    i = best;
  }
  set_at(pp, i, x);
}

void update_timer0(p* pp) {
  pp->timer0when.store(pp->timers.empty() ? 0 : pp->timers[0].when, std::memory_order_release);
}

// Removes the timer at index i. timers_lock held.
void remove_at(p* pp, size_t i) {
  auto& h = pp->timers;
  timer* t = h[i].t;
  timer_slot last = h.back();
  h.pop_back();
  if (i < h.size()) {
    set_at(pp, i, last);
    siftdown(pp, i);
    siftup(pp, size_t(last.t->heap_index));
  }
  t->heap_index = -1;
  t->pp.store(nullptr, std::memory_order_release);
}

void push(p* pp, timer* t) {
  pp->timers.push_back(timer_slot{t->when, t});
  t->pp.store(pp, std::memory_order_release);
  siftup(pp, pp->timers.size() - 1);
}

p* timer_home() {
  if (p* pp = current_p()) return pp;
  // Not on a P (a plain thread): any live P will do.
  int32_t n = sched.gomaxprocs.load(std::memory_order_acquire);
  return sched.allp[n > 0 ? int32_t(fastrand() % uint32_t(n)) : 0];
}

}  // namespace

void addtimer(timer* t) {
  // A timer in a heap added again would sit there twice and fire twice; Go throws too.
  if (t->pp.load(std::memory_order_relaxed) != nullptr) fatal("addtimer called with initialized timer");
  if (t->when < 0) t->when = INT64_MAX;
  for (;;) {
    p* pp = timer_home();
    pp->timers_lock.lock();
    if (pp->status.load(std::memory_order_acquire) == pstatus::dead) {
      pp->timers_lock.unlock();
      continue;
    }
    push(pp, t);
    bool first = pp->timers[0].t == t;
    int64_t when = t->when;  // once unlocked, t may fire and be re-armed at once
    if (first) update_timer0(pp);
    pp->timers_lock.unlock();
    if (first) wake_netpoller(when);
    return;
  }
}

bool deltimer(timer* t) {
  for (;;) {
    p* pp = t->pp.load(std::memory_order_acquire);
    if (pp == nullptr) return false;
    pp->timers_lock.lock();
    if (t->pp.load(std::memory_order_relaxed) != pp) {
      pp->timers_lock.unlock();
      continue;
    }
    remove_at(pp, size_t(t->heap_index));
    update_timer0(pp);
    pp->timers_lock.unlock();
    return true;
  }
}

bool modtimer(timer* t, int64_t when, int64_t period) {
  bool pending = deltimer(t);
  t->when = when;
  t->period = period;
  addtimer(t);
  return pending;
}

int64_t checktimers(p* pp, int64_t now, int64_t* next, bool* ran) {
  *ran = false;
  int64_t first = pp->timer0when.load(std::memory_order_acquire);
  if (first == 0) {
    *next = 0;
    return now;
  }
  if (now == 0) now = os::nanotime();
  if (now < first) {
    *next = first;
    return now;
  }
  pp->timers_lock.lock();
  while (!pp->timers.empty()) {
    if (pp->timers[0].when > now) break;
    timer* t = pp->timers[0].t;
    auto f = t->f;
    void* arg = t->arg;
    uintptr_t seq = t->seq;
    if (t->period > 0) {
      // Drop missed ticks: when += period * (1 + (now - when) / period).
      t->when += t->period * (1 + (now - t->when) / t->period);
      if (t->when < 0) t->when = INT64_MAX;  // overflow
      pp->timers[0].when = t->when;
      siftdown(pp, 0);
    } else {
      remove_at(pp, 0);
    }
    update_timer0(pp);
    pp->timers_lock.unlock();
    f(arg, seq);
    *ran = true;
    pp->timers_lock.lock();
  }
  update_timer0(pp);
  *next = pp->timer0when.load(std::memory_order_relaxed);
  pp->timers_lock.unlock();
  return now;
}

void movetimers(p* from, p* to) {
  // Both heaps locked (lower id first), so a concurrent deltimer finds each timer in one of
  // them, never in neither.
  os::light_rt_mutex& first = from->id < to->id ? from->timers_lock : to->timers_lock;
  os::light_rt_mutex& second = from->id < to->id ? to->timers_lock : from->timers_lock;
  first.lock();
  second.lock();
  std::vector<timer_slot> moving;
  moving.swap(from->timers);
  for (const timer_slot& x : moving) push(to, x.t);
  update_timer0(from);
  update_timer0(to);
  second.unlock();
  first.unlock();
}

void cleartimers(p* pp) {
  pp->timers_lock.lock();
  for (const timer_slot& x : pp->timers) {
    x.t->heap_index = -1;
    x.t->pp.store(nullptr, std::memory_order_relaxed);
  }
  pp->timers.clear();
  update_timer0(pp);
  pp->timers_lock.unlock();
}

bool timer_heap_valid(p* pp) {
  os::rt_lock_guard lk(pp->timers_lock);
  const auto& h = pp->timers;
  for (size_t i = 0; i < h.size(); i++) {
    const timer* t = h[i].t;
    if (t->when != h[i].when || t->heap_index != int32_t(i) ||
        t->pp.load(std::memory_order_relaxed) != pp)
      return false;
    if (i > 0 && h[(i - 1) / 4].when > h[i].when) return false;
  }
  return pp->timer0when.load(std::memory_order_relaxed) == (h.empty() ? 0 : h[0].when);
}

}  // namespace gort::rt
