// Tests of the runtime's own thread lock (os/lock.hpp): mutual exclusion through its spin,
// yield and futex stages, sleepers woken by an unlock that is a plain store (the
// asymmetric fences of os/membarrier.hpp), and the calibration of a spin round.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <vector>

#include "os/clock.hpp"
#include "os/lock.hpp"
#include "os/membarrier.hpp"

namespace {

using gort::os::nanotime;

// Both locks: rt_mutex (an exchange unlocks it) and light_rt_mutex (where membarrier
// works, a plain store unlocks it, paired with its sleepers' process-wide fence).
template <class Mutex>
class RtMutex : public ::testing::Test {};
using LockTypes = ::testing::Types<gort::os::rt_mutex, gort::os::light_rt_mutex>;
TYPED_TEST_SUITE(RtMutex, LockTypes);

TYPED_TEST(RtMutex, ExcludesThreadsThroughSpinYieldAndSleep) {
  TypeParam mu;
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

// Holders that keep the lock past the waiters' spin (tens of microseconds, now and then)
// send the waiters to sleep over and over, each woken by an unlock (for light_rt_mutex,
// where membarrier works, a plain store followed by a look at the sleeper count). An
// unlock that missed a sleeper would leave it asleep for good: a watchdog fails the test
// when no thread makes progress for 20 s instead of letting it hang.
TYPED_TEST(RtMutex, EverySleeperIsWokenByALaterUnlock) {
  TypeParam mu;
  int64_t counter = 0;
  constexpr int kThreads = 6, kIters = 20000;
  std::atomic<int64_t> progress{0};
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    int64_t last = -1, since = nanotime();
    while (!done.load()) {
      int64_t now = progress.load();
      if (now != last) {
        last = now;
        since = nanotime();
      } else if (nanotime() - since > 20'000'000'000) {
        std::fprintf(stderr, "rt_mutex: no progress for 20 s at %lld: a sleeper was not woken\n",
                     static_cast<long long>(now));
        std::abort();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      uint32_t seed = 0x9e3779b9u * uint32_t(t + 1);
      for (int i = 0; i < kIters; i++) {
        seed = seed * 1664525u + 1013904223u;
        mu.lock();
        counter++;
        if (seed >> 28 == 0) gort::os::procyield(2000);  // 1 in 16: long enough to sleep on
        mu.unlock();
        progress.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& th : threads) th.join();
  done.store(true);
  watchdog.join();
  EXPECT_EQ(counter, int64_t{kThreads} * kIters);
  // The process registered for expedited barriers at start-up where the kernel has them
  // (Linux 4.14 and later), so light_rt_mutex's unlocks here took the plain-store path;
  // ctest runs this test again with GORT_NO_MEMBARRIER=1, where they fence.
  EXPECT_EQ(gort::os::light_fences_ok(), gort::os::register_membarrier());
  const char* off = std::getenv("GORT_NO_MEMBARRIER");
  if (off != nullptr && std::string_view(off) == "1") {
    EXPECT_FALSE(gort::os::light_fences_ok());
  }
}

// A lock that the next holder frees as soon as it has it, with nothing making it wait (a
// cond's, destroyed by the waiter it woke while the park's commit on another thread still
// unlocks it). rt_mutex's unlock must not touch the lock after releasing it: ASan and TSan
// report it if it does (TSan did, for a plain-store unlock, in the scheduler stress test).
TEST(RtMutexLifetime, TheNextHolderMayFreeTheLockAtOnce) {
  constexpr int kRounds = 20000;
  std::atomic<gort::os::rt_mutex*> shared{nullptr};
  std::thread freer([&] {
    for (int i = 0; i < kRounds; i++) {
      gort::os::rt_mutex* mu;
      while ((mu = shared.load(std::memory_order_acquire)) == nullptr) gort::os::procyield(1);
      shared.store(nullptr, std::memory_order_relaxed);
      mu->lock();  // waits for the other thread's unlock, then frees at once
      mu->unlock();
      delete mu;
    }
  });
  for (int i = 0; i < kRounds; i++) {
    auto* mu = new gort::os::rt_mutex;
    mu->lock();
    while (shared.load(std::memory_order_relaxed) != nullptr) gort::os::procyield(1);
    shared.store(mu, std::memory_order_release);
    gort::os::procyield(uint32_t(i % 8));  // vary where the freer's lock lands
    mu->unlock();
  }
  freer.join();
}

TEST(RtMutexSpin, SpinRoundIsCalibratedToAboutAMicrosecond) {
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
