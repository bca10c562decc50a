// time_chan: time.NewTimer / time.NewTicker on the runtime timers (Go ≤1.22: time/sleep.go,
// time/tick.go and sendTime). See include/gort/time_chan.hpp for the user-visible rules.
//
// A timer_state holds the runtime timer, its channel (buffer 1) and a reference count. The
// timer's function (fire) runs on a scheduler thread after the timer has left its heap, and
// may still be running after deltimer returned false, so the state must outlive it: every
// arming of the runtime timer (addtimer) holds one reference, released by whoever ends that
// arming — deltimer returning true (stop/reset), or fire once it is done.
//
// Tickers re-arm from fire instead of using the runtime's periodic timers: a periodic timer
// stays in its heap while its function runs, so nothing would hold a reference for that
// call. Re-arming keeps Go's rule of dropping missed ticks (next = when + period * (1 +
// (now - when) / period)). A generation number, bumped by every stop and reset, tells a
// firing that was overtaken by one (its own arming ended) not to re-arm; mu orders fire's
// re-arm against stop and reset, so the timer is never in two heaps.
//
// A gort::run that ends drops the timers still in its heaps (cleartimers). Their armings
// would never end, so every state is also on a registry list, and a run-end hook releases
// the references of the armings left over (armings counts them).
//
// Locks: timer_state::mu, then a P's timers_lock (inside addtimer and deltimer) and
// sched.lock (addtimer may wake a P); the registry lock is never held with another, except
// across fork(), when it is taken before every timer's (so that a forked child's run-end
// hook and timers find them free). fire is called with no lock held; its non-blocking send
// takes only the channel's lock.
#include <functional>
#include <new>
#include <vector>

#include "chan/chan.hpp"
#include "gort/errors.hpp"
#include "gort/runtime.hpp"
#include "gort/time_chan.hpp"
#include "os/clock.hpp"
#include "os/lock.hpp"
#include "sched/fork.hpp"
#include "sched/sched.hpp"
#include "sched/timers.hpp"

namespace gort::time::detail {

struct timer_state {
  std::atomic<int64_t> refs{1};
  os::rt_mutex mu;
  rt::timer t;
  chan<time_point> c = make_chan<time_point>(1);
  int64_t period = 0;   // 0: a one-shot timer; mu
  uintptr_t gen = 0;    // the current arming's number (t.seq); mu
  int64_t armings = 0;  // armings not yet ended, each holding a reference; mu
  std::function<void()> fn;  // set for time::after_func: started instead of a send
  timer_state* prev = nullptr;  // registry list; registry lock
  timer_state* next = nullptr;
};

namespace {

// Every live timer_state, for the run-end hook.
os::light_rt_mutex registry_lock;
timer_state* registry = nullptr;

void registry_add(timer_state* s) {
  os::rt_lock_guard lk(registry_lock);
  s->next = registry;
  if (registry != nullptr) registry->prev = s;
  registry = s;
}

void registry_remove(timer_state* s) {
  os::rt_lock_guard lk(registry_lock);
  if (s->prev != nullptr)
    s->prev->next = s->next;
  else
    registry = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
}

// The run has ended and its heaps were cleared: no timer function runs now or later for
// these armings, so drop their references.
void release_orphaned_armings() {
  std::vector<timer_state*> held;
  {
    os::rt_lock_guard lk(registry_lock);
    for (timer_state* s = registry; s != nullptr; s = s->next) {
      int64_t r = s->refs.load(std::memory_order_relaxed);
      while (r > 0 && !s->refs.compare_exchange_weak(r, r + 1, std::memory_order_relaxed)) {
      }
      if (r > 0) held.push_back(s);  // else it is being deleted
    }
  }
  for (timer_state* s : held) {
    int64_t n = 0;
    {
      os::rt_lock_guard lk(s->mu);
      if (s->t.pp.load(std::memory_order_acquire) == nullptr) {
        n = s->armings;
        s->armings = 0;
        s->gen++;
      }
    }
    for (; n > 0; n--) release(s);
    release(s);
  }
}

[[maybe_unused]] const bool registered = (rt::on_run_end(release_orphaned_armings), true);
[[maybe_unused]] const bool fork_registered = (rt::on_fork(lock_timers_for_fork, unlock_timers_after_fork), true);

// Go: time.when — the absolute time d from now; overflow means "never".
int64_t when_after(int64_t ns) {
  int64_t now = os::nanotime();
  if (ns <= 0) return now;
  int64_t t = now + ns;
  return t < 0 ? INT64_MAX : t;
}

void fire(void* arg, uintptr_t seq);

// Arms s->t (in no heap) for `when`, taking a reference for the arming. mu held.
void arm(timer_state* s, int64_t when, bool take_ref) {
  s->t.when = when;
  s->t.period = 0;
  s->t.f = fire;
  s->t.arg = s;
  s->t.seq = ++s->gen;
  if (take_ref) {
    retain(s);
    s->armings++;
  }
  rt::addtimer(&s->t);
}

// Go: sendTime — a non-blocking send of the current time; then a ticker re-arms.
void fire(void* arg, uintptr_t seq) {
  auto* s = static_cast<timer_state*>(arg);
  time_point now = gort::time::now();
  if (s->fn)
    gort::go(s->fn);  // Go: goFunc — f runs in a goroutine of its own
  else
    rt::chansend(s->c.raw(), &now, false);

  s->mu.lock();
  if (s->period > 0 && seq == s->gen) {
    // Still the current arming: schedule the next tick, dropping missed ones. Our
    // reference passes to the new arming.
    int64_t p = s->period;
    int64_t w = s->t.when;
    int64_t n = now.time_since_epoch().count();
    int64_t next = n >= w ? w + p * (1 + (n - w) / p) : w + p;
    if (next < 0) next = INT64_MAX;
    arm(s, next, false);
    s->mu.unlock();
    return;
  }
  s->armings--;
  s->mu.unlock();
  release(s);
}

}  // namespace

timer_state* start_timer(int64_t ns, int64_t period_ns) {
  if (!rt::sched.running.load(std::memory_order_acquire))
    throw runtime_error("gort::time timers need an active gort::run");
  auto* s = new timer_state;
  registry_add(s);
  os::rt_lock_guard lk(s->mu);
  s->period = period_ns;
  arm(s, when_after(ns), true);
  return s;
}

timer_state* start_func_timer(int64_t ns, std::function<void()> f) {
  if (!rt::sched.running.load(std::memory_order_acquire))
    throw runtime_error("gort::time timers need an active gort::run");
  auto* s = new timer_state;
  s->c = chan<time_point>();  // AfterFunc timers have no channel
  s->fn = std::move(f);
  registry_add(s);
  os::rt_lock_guard lk(s->mu);
  arm(s, when_after(ns), true);
  return s;
}

recv_chan<time_point> timer_chan(const timer_state* s) { return s->c; }

void retain(timer_state* s) { s->refs.fetch_add(1, std::memory_order_relaxed); }

void release(timer_state* s) {
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    registry_remove(s);
    delete s;
  }
}

bool stop_timer(timer_state* s) {
  bool pending;
  {
    os::rt_lock_guard lk(s->mu);
    s->gen++;  // a firing in flight must not re-arm
    pending = rt::deltimer(&s->t);
    if (pending) s->armings--;
  }
  if (pending) release(s);  // the arming's reference; the caller still holds one
  return pending;
}

// While registry_lock is held, no state joins or leaves the registry, nor is deleted.
void lock_timers_for_fork() {
  registry_lock.lock();
  for (timer_state* s = registry; s != nullptr; s = s->next) s->mu.lock();
}

void unlock_timers_after_fork() {
  for (timer_state* s = registry; s != nullptr; s = s->next) s->mu.unlock();
  registry_lock.unlock();
}

bool reset_timer(timer_state* s, int64_t ns, int64_t period_ns) {
  if (!rt::sched.running.load(std::memory_order_acquire))
    throw runtime_error("gort::time timers need an active gort::run");
  os::rt_lock_guard lk(s->mu);
  bool pending = rt::deltimer(&s->t);
  s->period = period_ns;
  arm(s, when_after(ns), !pending);  // a removed arming's reference passes to the new one
  return pending;
}

}  // namespace gort::time::detail
