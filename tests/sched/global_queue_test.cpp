// global_queue_test: the order in which the global run queue hands out goroutines, seen from
// programs (sched/runq.hpp has the rule; tests/stress/runq_test.cpp checks the rings alone).
//
// Covers: goroutines woken by their timers run before a burst of goroutines that have not
// started yet, even when a full local queue spills them to the global queue behind that
// burst (gort's goroutines take their stack on the first run, so a first run is the costly
// part of a burst); and a goroutine that yields goes behind the global queue, as Go's
// Gosched does, so a loop that creates goroutines and yields is paced by them.
// One P in both and no stand-in P (GODEBUG=asyncpreemptoff=1's setting), so that the order is
// the scheduler's alone: on a loaded machine main can keep the P past the 11 ms after which
// a stand-in would come, and a second P breaks the one-P order legitimately.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "gort/gort.hpp"
#include "../procs_guard.hpp"

using namespace std::chrono_literals;

namespace {

struct one_proc {
  int prev = gort::gomaxprocs(1);
  no_standins off;
  ~one_proc() { gort::gomaxprocs(prev); }
};

// Keeps the processor for d without any runtime call (no safe point, no preemption).
void spin_for(std::chrono::microseconds d) {
  auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

}  // namespace

TEST(GlobalQueue, WokenGoroutinesRunBeforeABurstOfGoroutinesNotYetStarted) {
  // 1,000 goroutines sleep 5 ms; meanwhile 10,000 goroutines that each keep the one P for
  // 20 us are created, most of them waiting in the global queue. The sleepers wake within
  // a few ms of each other, more than the local queue holds, so most of them spill to the
  // global queue. Each records how many of the burst had started when it ran again: with
  // one FIFO queue a spilled sleeper waits for nearly the whole burst (200 ms).
  constexpr int kSleepers = 1000;
  constexpr int kBurst = 10000;
  one_proc guard;
  std::vector<int> burst_started_when_woken(kSleepers, -1);
  gort::run([&] {
    std::atomic<int> burst_started{0};
    gort::sync::wait_group asleep, all;
    asleep.add(kSleepers);
    for (int i = 0; i < kSleepers; i++)
      all.go([&, i] {
        asleep.done();
        gort::time::sleep(5ms);
        burst_started_when_woken[size_t(i)] = burst_started.load();
      });
    asleep.wait();  // one P: the last sleeper is parked in its sleep when main runs again
    for (int j = 0; j < kBurst; j++)
      all.go([&] {
        burst_started++;
        spin_for(20us);
      });
    all.wait();
  });
  int worst = *std::max_element(burst_started_when_woken.begin(), burst_started_when_woken.end());
  EXPECT_LT(worst, kBurst / 4) << "a woken goroutine waited until " << worst << " of the "
                               << kBurst << " goroutines created after it had started";
}

TEST(GlobalQueue, AYieldingGoroutineGoesBehindTheGlobalQueue) {
  // Go: Gosched puts the goroutine at the global queue's tail. With one P, main creates
  // 2,000 goroutines (runnext and 256 in the local queue; the rest spill to the global
  // queue) and yields: every goroutine in the global queue starts before main runs again.
  // Those still in the local queue may not (Go's every-61st-tick check of the global queue
  // can reach main first), so at most 257 remain.
  constexpr int kCreated = 2000;
  constexpr int kLocalRoom = 256 + 1;  // the local ring and runnext
  one_proc guard;
  int started_before_main_resumed = -1;
  gort::run([&] {
    std::atomic<int> started{0};
    gort::sync::wait_group wg;
    for (int i = 0; i < kCreated; i++) wg.go([&] { started++; });
    gort::yield();
    started_before_main_resumed = started.load();
    wg.wait();
  });
  EXPECT_GE(started_before_main_resumed, kCreated - kLocalRoom);
}
