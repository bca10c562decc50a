// preempt_test: sysmon's 10 ms time slice. A goroutine that keeps running without parking
// is flagged by sysmon and yields at its next safe point (any runtime call), so with one P
// another goroutine still gets to run. A runnext ping-pong pair shares one time slice and
// is broken up the same way. Sanitizer builds make a safe point reached while the thread
// holds a runtime lock a fatal error, since a preemption there would yield with it held.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "gort/gort.hpp"
#include "os/lock.hpp"

using namespace std::chrono_literals;

namespace {

struct one_proc {
  int prev = gort::gomaxprocs(1);
  ~one_proc() { gort::gomaxprocs(prev); }
};

}  // namespace

TEST(Preempt, LongRunningGoroutineYieldsAtASafePoint) {
  one_proc guard;
  std::atomic<bool> other_ran{false};
  long safe_points = 0;
  gort::run([&] {
    gort::go([&] { other_ran = true; });
    // The other goroutine is runnable but this one never parks: only preemption lets it
    // run. time::sleep(0) is a safe point that does not yield by itself.
    while (!other_ran.load()) {
      gort::time::sleep(0ns);
      safe_points++;
    }
  });
  EXPECT_TRUE(other_ran.load());
  EXPECT_GT(safe_points, 0);
}

TEST(Preempt, SpawningIsASafePoint) {
  one_proc guard;
  std::atomic<bool> flag{false};
  std::atomic<int> spawned{0};
  gort::run([&] {
    gort::go([&] { flag = true; });
    while (!flag.load()) {
      gort::go([&] { spawned++; });  // newproc checks the preemption flag
    }
  });
  EXPECT_TRUE(flag.load());
}

void safe_point_with_a_runtime_lock_held() {
  alarm(20);  // a hang fails the test rather than the run
  gort::run([] {
    gort::os::rt_mutex mu;
    mu.lock();
    gort::time::sleep(0ns);  // a safe point
    mu.unlock();
  });
  std::_Exit(0);
}

TEST(PreemptDeathTest, ASafePointWithARuntimeLockHeldIsFatalInSanitizerBuilds) {
#if GORT_COUNT_RT_LOCKS
  EXPECT_EXIT(safe_point_with_a_runtime_lock_held(), testing::ExitedWithCode(2),
              "fatal error: runtime: safe point reached with a runtime lock held");
#else
  GTEST_SKIP() << "checked in sanitizer builds only (os/lock.hpp: rt_locks_held)";
#endif
}
