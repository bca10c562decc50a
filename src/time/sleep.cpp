// sleep: time.Sleep on the runtime timers (Go: timeSleep in time.go). The goroutine's
// cached timer is armed in the park hook, after the goroutine is switched out, so the
// wake-up can never race the park; the timer readies it into the runnext of the P that ran
// the timer.
#include <chrono>
#include <thread>

#include "gort/time.hpp"
#include "os/clock.hpp"
#include "sched/sched.hpp"
#include "sched/timers.hpp"

namespace gort::time {
namespace {

void wake_sleeper(void* arg, uintptr_t) { rt::goready(static_cast<rt::g*>(arg)); }

bool arm_sleep_timer(rt::g* gp, void*) {
  rt::addtimer(&gp->sleep_timer);
  return true;
}

}  // namespace

void detail::sleep_ns(int64_t ns) {
  rt::g* gp = rt::current_g();
  if (gp == nullptr) {
    if (ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
    return;
  }
  if (ns <= 0) {
    rt::check_preempt();
    return;
  }
  rt::timer& t = gp->sleep_timer;
  int64_t when = os::nanotime() + ns;
  t.when = when < 0 ? INT64_MAX : when;  // overflow: sleep "forever"
  t.period = 0;
  t.f = wake_sleeper;
  t.arg = gp;
  rt::gopark(arm_sleep_timer, nullptr, rt::wait_reason::sleep);
}

std::chrono::steady_clock::time_point now() {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(os::nanotime()));
}

}  // namespace gort::time
