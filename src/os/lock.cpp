// lock: slow paths of rt_mutex and light_rt_mutex, and timed note sleeps.
#include "os/lock.hpp"

#include <sched.h>

#include <cstdint>

#include "os/clock.hpp"
#include "os/membarrier.hpp"

namespace gort::os {

#if GORT_COUNT_RT_LOCKS
thread_local uint32_t rt_locks_held [[gnu::tls_model("initial-exec")]] = 0;
#endif

namespace {

constexpr uint32_t kGoSpinPauses = 30;  // Go: active_spin_cnt
constexpr uint32_t kMaxSpinPauses = 240;
constexpr int64_t kSpinRoundNs = 1000;

std::atomic<uint32_t> spin_pauses{0};  // 0 until calibrated

// Times 128 PAUSEs three times and keeps the fastest (a trial the thread was descheduled
// in only looks slower, which the floor of 30 catches).
uint32_t calibrate_spin() {
  int64_t best = INT64_MAX;
  for (int trial = 0; trial < 3; trial++) {
    int64_t t0 = nanotime();
    procyield(128);
    int64_t dt = nanotime() - t0;
    if (dt < best) best = dt;
  }
  int64_t per_round = best > 0 ? kSpinRoundNs * 128 / best : kMaxSpinPauses;
  if (per_round < int64_t(kGoSpinPauses)) return kGoSpinPauses;
  if (per_round > int64_t(kMaxSpinPauses)) return kMaxSpinPauses;
  return uint32_t(per_round);
}

}  // namespace

uint32_t spin_round_pauses() {
  uint32_t n = spin_pauses.load(std::memory_order_relaxed);
  if (__builtin_expect(n != 0, 1)) return n;
  n = calibrate_spin();  // racing first callers each calibrate; any result will do
  spin_pauses.store(n, std::memory_order_relaxed);
  return n;
}

bool spin_to_acquire(std::atomic<uint32_t>& state) {
  // As Go's runtime lock: four spin rounds between attempts (polling the line more often
  // makes it bounce between cores and slows the holder), one sched_yield, then sleep.
  for (int i = 0; i < 4; i++) {
    spin_round();
    uint32_t expected = 0;
    if (state.load(std::memory_order_relaxed) == 0 &&
        state.compare_exchange_weak(expected, 1, std::memory_order_acquire))
      return true;
  }
  sched_yield();
  uint32_t expected = 0;
  return state.compare_exchange_strong(expected, 1, std::memory_order_acquire);
}

void rt_mutex::lock_slow() {
  if (spin_to_acquire(state_)) return;
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2);
}

void light_rt_mutex::lock_slow() {
  if (spin_to_acquire(state_)) return;
  // Sleep, on waiters_ rather than on the lock word. Each round first ends any wake in
  // flight (so the next unlock wakes again) and publishes that, and this thread's count,
  // with a heavy fence: an unlocker looks at waiters_ after its store without a fence of its
  // own, so either its store is visible to the exchange below, or its load sees this
  // thread's write and it wakes a sleeper. The futex wait sleeps only while waiters_ is
  // unchanged since then, so a wake whose flag was set after this thread's write, and
  // whose system call came too early to find it asleep, is not lost either.
  waiters_.fetch_add(kSleeper, std::memory_order_seq_cst);
  for (;;) {
    uint32_t w = waiters_.fetch_and(~kWakeInFlight, std::memory_order_seq_cst) & ~kWakeInFlight;
    heavy_fence();
    if (state_.exchange(1, std::memory_order_seq_cst) == 0) break;
    futex_wait(&waiters_, w);
  }
  // Holding the lock now: no longer a sleeper. A wake that was on its way to this thread
  // ends here, so that the next unlock wakes another sleeper (if the wake was another's,
  // that one ends its own: one wake too many, never one too few).
  waiters_.fetch_sub(kSleeper, std::memory_order_relaxed);
  waiters_.fetch_and(~kWakeInFlight, std::memory_order_relaxed);
}

void light_rt_mutex::wake_one() {
  if (waiters_.fetch_or(kWakeInFlight, std::memory_order_seq_cst) & kWakeInFlight) return;
  futex_wake(&waiters_, 1);
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
