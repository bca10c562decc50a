// Tests of the runtime's own thread lock (os/lock.hpp): mutual exclusion through its spin,
// yield and futex stages, and the calibration of a spin round.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "os/clock.hpp"
#include "os/lock.hpp"

namespace {

using gort::os::nanotime;
using gort::os::rt_mutex;

TEST(RtMutex, ExcludesThreadsThroughSpinYieldAndSleep) {
  rt_mutex mu;
  int64_t counter = 0;  // plain: only the lock orders the increments
  constexpr int kThreads = 4, kIters = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIters; i++) {
        mu.lock();
        int64_t v = counter;
        // Now and then hold the lock for a few microseconds, past the spinning, so that
        // waiters go on to sched_yield and to sleeping on the futex.
        if ((i + t) % 1000 == 0) gort::os::procyield(500);
        counter = v + 1;
        mu.unlock();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter, int64_t{kThreads} * kIters);
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

TEST(RtMutex, SpinRoundIsCalibratedToAboutAMicrosecond) {
  uint32_t n = gort::os::spin_round_pauses();
  EXPECT_GE(n, 30u);  // never below Go's count
  EXPECT_LE(n, 240u);
  EXPECT_EQ(gort::os::spin_round_pauses(), n);  // calibrated once
  // The fastest of a few rounds: being descheduled only makes a round look longer. A round
  // lasts about 1 us; only a count clamped at the top may be shorter.
  int64_t best = INT64_MAX;
  for (int i = 0; i < 5; i++) {
    int64_t t0 = nanotime();
    gort::os::spin_round();
    best = std::min(best, nanotime() - t0);
  }
  if (n < 240) {
    EXPECT_GE(best, 500) << n << " pauses";
  }
}

}  // namespace
