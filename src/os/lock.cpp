// lock: slow paths of rt_mutex and timed note sleeps.
#include "os/lock.hpp"

#include <sched.h>

#include "os/clock.hpp"

namespace gort::os {

void rt_mutex::lock_slow() {
  // As Go's runtime lock: four rounds of 30 PAUSEs between attempts (polling the line more
  // often makes it bounce between cores and slows the holder), one sched_yield, then sleep.
  for (int i = 0; i < 4; i++) {
    for (int k = 0; k < 30; k++) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
    uint32_t expected = 0;
    if (state_.load(std::memory_order_relaxed) == 0 &&
        state_.compare_exchange_weak(expected, 1, std::memory_order_acquire))
      return;
  }
  {
    sched_yield();
    uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire)) return;
  }
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2);
}

bool note::sleep_for(int64_t ns) {
  if (ns < 0) {
    sleep();
    return true;
  }
  int64_t deadline = nanotime() + ns;
  while (key_.load(std::memory_order_acquire) == 0) {
    int64_t left = deadline - nanotime();
    if (left <= 0) return false;
    futex_wait(&key_, 0, left);
  }
  return true;
}

}  // namespace gort::os
