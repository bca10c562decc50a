// gort/time_chan.hpp — timers and tickers that deliver on channels (Go ≤1.22: time.NewTimer,
// time.After, time.NewTicker, time.Tick in time/sleep.go and time/tick.go).
//
//   using namespace std::chrono_literals;
//   gort::select(gort::case_recv(results, [&](int v) { use(v); }),
//                gort::case_recv(gort::time::after(100ms), [&] { timed_out = true; }));
//
//   gort::time::ticker tk(10ms);                 // t := time.NewTicker(10 * time.Millisecond)
//   for (int i = 0; i < 3; i++) tk.c.recv();     // <-t.C
//   tk.stop();
//
//   gort::time::timer t(1s);                     // t := time.NewTimer(time.Second)
//   if (!t.stop()) t.c.recv();                   // if !t.Stop() { <-t.C }
//   t.reset(2s);
//
// The semantics are Go's up to 1.22 (before the 1.23 timer changes): the channel c has a
// buffer of 1 and the runtime timer's function does a non-blocking send of the current time
// (gort::time::now()), so a tick that finds the buffer full is dropped, and a value already
// buffered stays after stop() or reset(). stop() returns true if it prevented the firing;
// reset() returns whether the timer was still pending. A ticker drops missed ticks (the
// next tick is the first multiple of the period after now); ticker(d) with d <= 0 panics
// with "non-positive interval for NewTicker" (a gort::panic_error), reset(d) with
// "non-positive interval for Ticker.Reset".
//
// timer and ticker objects are handles, like Go's *Timer: copies share one timer. As in Go,
// dropping the last handle does not stop anything: a timer still fires once (its channel is
// kept alive by the runtime until then) and a ticker ticks until stop() — call stop() when
// done with a ticker. Timers run on the runtime's per-P timer heaps, so they need an active
// gort::run (creating or resetting one outside throws gort::runtime_error); they may be
// used from plain threads within a run. A run that ends drops its pending timers: they
// never fire, and their memory is released.
#pragma once
#include <chrono>
#include <functional>
#include <cstdint>

#include "gort/chan.hpp"
#include "gort/time.hpp"

namespace gort::time {

// The values timer channels carry (Go: time.Time; here the runtime's monotonic clock).
using time_point = std::chrono::steady_clock::time_point;

namespace detail {
struct timer_state;
// A started timer (period 0) or ticker; the caller holds one reference.
timer_state* start_timer(int64_t ns, int64_t period_ns);
// A one-shot timer that starts a goroutine running f instead of sending (time.AfterFunc).
timer_state* start_func_timer(int64_t ns, std::function<void()> f);
recv_chan<time_point> timer_chan(const timer_state* s);
void retain(timer_state* s);
void release(timer_state* s);
bool stop_timer(timer_state* s);
bool reset_timer(timer_state* s, int64_t ns, int64_t period_ns);
// Held across fork() (src/sched/fork.hpp): the registry's lock, then every timer's.
void lock_timers_for_fork();
void unlock_timers_after_fork();

template <class Rep, class Period>
int64_t to_ns(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<duration>(d).count();
}

class timer_handle {
 public:
  explicit timer_handle(timer_state* adopt) noexcept : s_(adopt) {}
  timer_handle(const timer_handle& o) noexcept : s_(o.s_) { retain(s_); }
  timer_handle& operator=(const timer_handle& o) noexcept {
    retain(o.s_);
    release(s_);
    s_ = o.s_;
    return *this;
  }
  ~timer_handle() { release(s_); }
  timer_state* get() const noexcept { return s_; }

 private:
  timer_state* s_;
};
}  // namespace detail

// time.Timer: sends the time on c once, after d (at once if d <= 0).
class timer {
  detail::timer_handle s_;
  template <class Rep, class Period, class F>
  friend timer after_func(std::chrono::duration<Rep, Period> d, F f);
  explicit timer(detail::timer_state* adopt) : s_(adopt) {}

 public:
  template <class Rep, class Period>
  explicit timer(std::chrono::duration<Rep, Period> d)
      : s_(detail::start_timer(detail::to_ns(d), 0)), c(detail::timer_chan(s_.get())) {}

  // t.C
  recv_chan<time_point> c;

  // t.Stop(): true if the call stopped the timer before it fired.
  bool stop() { return detail::stop_timer(s_.get()); }
  // t.Reset(d): re-arms the timer to fire after d; true if it had been pending. As in Go,
  // reset only a stopped or fired timer whose channel was drained.
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) {
    return detail::reset_timer(s_.get(), detail::to_ns(d), 0);
  }
};

// time.AfterFunc: after d, runs f in its own goroutine. The returned timer's c is nil;
// stop() returns true if it kept f from being started, reset(d) arms it again.
//
//   auto t = gort::time::after_func(50ms, [] { std::puts("late"); });
//   if (t.stop()) std::puts("cancelled in time");
template <class Rep, class Period, class F>
timer after_func(std::chrono::duration<Rep, Period> d, F f) {
  return timer(detail::start_func_timer(detail::to_ns(d), std::function<void()>(std::move(f))));
}

// time.Ticker: sends the time on c every d, dropping ticks a slow receiver misses.
class ticker {
  detail::timer_handle s_;

 public:
  template <class Rep, class Period>
  explicit ticker(std::chrono::duration<Rep, Period> d)
      : s_(new_ticker(detail::to_ns(d))), c(detail::timer_chan(s_.get())) {}

  // t.C
  recv_chan<time_point> c;

  // t.Stop(): no more ticks are sent (one already in flight may still arrive).
  void stop() { detail::stop_timer(s_.get()); }
  // t.Reset(d): stops the ticker and restarts it with period d; d <= 0 panics.
  template <class Rep, class Period>
  void reset(std::chrono::duration<Rep, Period> d) {
    int64_t ns = detail::to_ns(d);
    if (ns <= 0) gort::panic("non-positive interval for Ticker.Reset");
    detail::reset_timer(s_.get(), ns, ns);
  }

 private:
  static detail::timer_state* new_ticker(int64_t ns) {
    if (ns <= 0) gort::panic("non-positive interval for NewTicker");
    return detail::start_timer(ns, ns);
  }
};

// time.After(d): timer(d).c.
template <class Rep, class Period>
recv_chan<time_point> after(std::chrono::duration<Rep, Period> d) {
  return timer(d).c;
}

// time.Tick(d): ticker(d).c, never stopped; the nil channel if d <= 0.
template <class Rep, class Period>
recv_chan<time_point> tick(std::chrono::duration<Rep, Period> d) {
  if (detail::to_ns(d) <= 0) return nullptr;
  return ticker(d).c;
}

}  // namespace gort::time
