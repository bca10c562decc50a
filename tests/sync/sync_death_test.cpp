// sync_death_test: how sync misuse ends a program, as in Go — unlocking an unlocked mutex
// or rw_mutex is a fatal error (exit 2, Go's text, a goroutine trace), and goroutines all
// blocked on locks and conds end in the deadlock fatal error with their wait reasons.
#include <gtest/gtest.h>
#include <unistd.h>

#include <mutex>

#include "death_testing.hpp"
#include "gort/gort.hpp"

using namespace std::chrono_literals;

namespace {

using death_testing::has_all;

// A child that misses its fatal error would hang: SIGALRM ends it.
void arm_watchdog() { alarm(10); }

void unlock_unlocked_mutex() {
  arm_watchdog();
  gort::run([] {
    gort::sync::mutex mu;
    mu.unlock();
  });
}

void unlock_unlocked_rw_mutex() {
  arm_watchdog();
  gort::run([] {
    gort::sync::rw_mutex rw;
    rw.unlock();
  });
}

void r_unlock_unlocked_rw_mutex() {
  arm_watchdog();
  gort::run([] {
    gort::sync::rw_mutex rw;
    rw.r_unlock();
  });
}

void everyone_blocked_on_locks() {
  arm_watchdog();
  gort::run([] {
    static gort::sync::mutex mu;
    static gort::sync::cond c(mu);
    mu.lock();
    gort::go([] {
      std::lock_guard lk(mu);  // [semacquire]
    });
    gort::go([] {
      static gort::sync::mutex mu2;
      static gort::sync::cond c2(mu2);
      std::unique_lock lk(mu2);
      c2.wait();  // [sync.Cond.Wait], nobody will signal
    });
    gort::time::sleep(2ms);
    mu.lock();  // main: [semacquire] on a lock it holds itself
  });
}

TEST(SyncDeathTest, UnlockOfUnlockedMutexIsFatal) {
  EXPECT_EXIT(unlock_unlocked_mutex(), testing::ExitedWithCode(2),
              "^fatal error: sync: unlock of unlocked mutex\n.*goroutine 1 \\[running\\]:");
}
TEST(SyncDeathTest, UnlockOfUnlockedRWMutexIsFatal) {
  EXPECT_EXIT(unlock_unlocked_rw_mutex(), testing::ExitedWithCode(2),
              "^fatal error: sync: Unlock of unlocked RWMutex\n");
}
TEST(SyncDeathTest, RUnlockOfUnlockedRWMutexIsFatal) {
  EXPECT_EXIT(r_unlock_unlocked_rw_mutex(), testing::ExitedWithCode(2),
              "^fatal error: sync: RUnlock of unlocked RWMutex\n");
}
TEST(SyncDeathTest, DeadlockOnLocksShowsWaitReasons) {
  EXPECT_EXIT(everyone_blocked_on_locks(), testing::ExitedWithCode(2),
              has_all({"^fatal error: all goroutines are asleep - deadlock!\n",
                       "goroutine 1 \\[semacquire\\]:", "goroutine [0-9]+ \\[semacquire\\]:",
                       "goroutine [0-9]+ \\[sync.Cond.Wait\\]:"}));
}

}  // namespace
