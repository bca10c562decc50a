// preempt_test: sysmon's 10 ms time slice. A goroutine that keeps running without parking
// is flagged by sysmon and yields at its next safe point (any runtime call), so with one P
// another goroutine still gets to run. A runnext ping-pong pair shares one time slice and
// is broken up the same way.
#include <gtest/gtest.h>

#include <atomic>

#include "gort/gort.hpp"

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
