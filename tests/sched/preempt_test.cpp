// preempt_test: sysmon's 10 ms time slice. A goroutine that keeps running without parking
// is flagged by sysmon and yields at its next safe point (any runtime call), so with one P
// another goroutine still gets to run. A runnext ping-pong pair shares one time slice and
// is broken up the same way. Sanitizer builds make a safe point reached while the thread
// holds a runtime lock a fatal error, since a preemption there would yield with it held.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "gort/gort.hpp"
#include "os/lock.hpp"
#include "sched/sched.hpp"
#include "sched/standin.hpp"

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

// An unlock is a safe point, as a lock is in Go: a loop of uncontended lock/unlock yields
// its one P at sysmon's request, and the goroutine queued behind it runs on the same
// thread. (Before, the loop kept running and the goroutine ran beside it on a stand-in,
// and every lock/unlock loop longer than 11 ms then contended with what the stand-in ran:
// the mutex workload at GOMAXPROCS=1 took 34 ns per op instead of 22.) A round in which
// the machine kept the loop's thread from its next unlock for the stand-in's 1 ms grace
// gets a stand-in anyway, so one round of three on the same thread is enough; without the
// safe point none is.
TEST(Preempt, AMutexUnlockIsASafePoint) {
  one_proc guard;
  int same_thread_rounds = 0;
  for (int round = 0; round < 3 && same_thread_rounds == 0; round++) {
    std::atomic<bool> other_ran{false};
    std::atomic<pthread_t> loop_thread{}, other_thread{};
    uint64_t lent_before = gort::rt::standins_lent.load();
    gort::run([&] {
      gort::sync::mutex mu;
      long counter = 0;
      gort::go([&] {
        other_thread = pthread_self();
        other_ran = true;
      });
      while (!other_ran.load(std::memory_order_relaxed)) {
        mu.lock();
        counter++;
        loop_thread.store(pthread_self(), std::memory_order_relaxed);
        mu.unlock();
      }
      EXPECT_GT(counter, 0);
    });
    if (pthread_equal(loop_thread.load(), other_thread.load()) &&
        gort::rt::standins_lent.load() == lent_before)
      same_thread_rounds++;
  }
  EXPECT_EQ(same_thread_rounds, 1) << "the goroutine ran on a stand-in in every round";
}

// Inside gort::syscall (or gort::blocking) the goroutine is in a blocking call, not at a
// safe point: an unlock there leaves a pending preemption for the call's end, where it is
// honoured, instead of yielding with the P in status syscall.
TEST(Preempt, AnUnlockInsideABlockingCallDoesNotYield) {
  one_proc guard;
  bool after = false, still_in_call = false;
  gort::run([&] {
    gort::sync::mutex mu;
    mu.lock();
    gort::syscall([&] {
      gort::rt::current_g()->preempt.store(true);  // as sysmon flags a goroutine
      gort::detail::preempt_hint.store(true);
      pthread_t before = pthread_self();
      mu.unlock();
      still_in_call = gort::rt::current_g()->status.load() == gort::rt::gstatus::syscall &&
                      pthread_equal(before, pthread_self());
      return 0;
    });
    after = true;
  });
  EXPECT_TRUE(after);
  EXPECT_TRUE(still_in_call) << "the unlock yielded inside the blocking call";
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
