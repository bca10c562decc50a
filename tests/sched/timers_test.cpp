// timers_test: the per-P timer heap under addtimer / deltimer / modtimer, directly on the
// runtime's timers (the public sleep, after and ticker tests cover them through the API).
// What is checked: the heap's order and bookkeeping after any mix of operations, that due
// timers fire once each, in `when` order, never early, and that deleted timers never fire.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <random>
#include <vector>

#include "gort/gort.hpp"
#include "os/clock.hpp"
#include "sched/sched.hpp"
#include "sched/timers.hpp"

using namespace std::chrono_literals;
namespace rt = gort::rt;

namespace {

// What fired, in order, as seen by the timers' f.
struct firing_log {
  std::mutex mu;
  std::vector<std::pair<uintptr_t, int64_t>> fired;  // (timer index, nanotime when run)
};

firing_log* the_log = nullptr;

void record(void*, uintptr_t seq) {
  int64_t now = gort::os::nanotime();
  std::lock_guard<std::mutex> lk(the_log->mu);
  the_log->fired.emplace_back(seq, now);
}

}  // namespace

TEST(TimerHeap, StaysValidUnderRandomAddDeleteModify) {
  gort::run([] {
    gort::gomaxprocs(1);
    rt::p* pp = rt::current_p();
    ASSERT_NE(pp, nullptr);
    constexpr int kTimers = 3000;
    std::vector<rt::timer> timers(kTimers);
    // A failed ASSERT returns early: no timer may stay in the heap past its storage.
    gort::defer remove_all = [&] {
      for (auto& t : timers) rt::deltimer(&t);
    };
    std::vector<bool> pending(kTimers, false);
    std::mt19937_64 rng(12345);
    // Far in the future, with many equal whens: nothing fires while the test runs.
    int64_t base = gort::os::nanotime() + int64_t(3600) * 1000000000;
    auto random_when = [&] { return base + int64_t(rng() % 5000) * 1000; };
    for (int i = 0; i < kTimers; i++) {
      timers[i].f = record;
      timers[i].seq = uintptr_t(i);
    }
    for (int op = 0; op < 40000; op++) {
      int i = int(rng() % kTimers);
      switch (rng() % 3) {
        case 0:  // add (or delete, if already pending)
          if (!pending[i]) {
            timers[i].when = random_when();
            rt::addtimer(&timers[i]);
            pending[i] = true;
          } else {
            EXPECT_TRUE(rt::deltimer(&timers[i]));
            pending[i] = false;
          }
          break;
        case 1:  // delete: reports whether it was pending
          EXPECT_EQ(rt::deltimer(&timers[i]), pending[i]);
          pending[i] = false;
          break;
        default:  // move to a new when, pending or not
          EXPECT_EQ(rt::modtimer(&timers[i], random_when(), 0), pending[i]);
          pending[i] = true;
          break;
      }
      if (op % 500 == 0) {
        ASSERT_TRUE(rt::timer_heap_valid(pp)) << "after op " << op;
      }
    }
    ASSERT_TRUE(rt::timer_heap_valid(pp));
    // The heap's top is the earliest pending timer.
    int64_t earliest = INT64_MAX;
    for (int i = 0; i < kTimers; i++)
      if (pending[i]) earliest = std::min(earliest, timers[i].when);
    EXPECT_EQ(pp->timer0when.load(), earliest);
    for (int i = 0; i < kTimers; i++) EXPECT_EQ(rt::deltimer(&timers[i]), bool(pending[i]));
    EXPECT_EQ(pp->timer0when.load(), 0);
    EXPECT_TRUE(rt::timer_heap_valid(pp));
  });
}

TEST(TimerHeap, DueTimersFireOnceInWhenOrderAndDeletedOnesNever) {
  firing_log log;
  the_log = &log;
  constexpr int kTimers = 2000;
  std::vector<rt::timer> timers(kTimers);
  std::vector<bool> deleted(kTimers, false);
  gort::run([&] {
    gort::gomaxprocs(1);  // one heap, checked by one M: firing follows heap order
    std::mt19937_64 rng(777);
    // All whens lie after the adds are done, so no timer is due while others go in (the
    // margin covers sanitizer builds on a loaded machine; the check below tells if not).
    int64_t base = gort::os::nanotime() + 250 * 1000000;
    for (int i = 0; i < kTimers; i++) {
      timers[i].f = record;
      timers[i].seq = uintptr_t(i);
      timers[i].when = base + int64_t(rng() % 30000) * 1000;  // within 30 ms
      rt::addtimer(&timers[i]);
    }
    // Delete a third, and move another third (later or earlier) before any is due.
    for (int i = 0; i < kTimers; i++) {
      if (i % 3 == 0) {
        EXPECT_TRUE(rt::deltimer(&timers[i]));
        deleted[i] = true;
      } else if (i % 3 == 1) {
        EXPECT_TRUE(rt::modtimer(&timers[i], base + int64_t(rng() % 30000) * 1000, 0));
      }
    }
    ASSERT_LT(gort::os::nanotime(), base) << "adding took longer than the margin";
    ASSERT_TRUE(rt::timer_heap_valid(rt::current_p()));
    gort::time::sleep(std::chrono::nanoseconds(base + 40 * 1000000 - gort::os::nanotime()));
    for (int waited_ms = 0;; waited_ms++) {  // under sanitizers the last checks may lag
      {
        std::lock_guard<std::mutex> lk(log.mu);
        if (log.fired.size() >= size_t(kTimers - (kTimers + 2) / 3)) break;
      }
      ASSERT_LT(waited_ms, 10000) << "due timers did not fire";
      gort::time::sleep(1ms);
    }
  });
  the_log = nullptr;
  std::vector<int> times_fired(kTimers, 0);
  int64_t last_when = 0;
  for (auto [i, at] : log.fired) {
    ASSERT_LT(i, uintptr_t(kTimers));
    times_fired[i]++;
    EXPECT_FALSE(deleted[i]) << "deleted timer " << i << " fired";
    EXPECT_GE(at, timers[i].when) << "timer " << i << " fired early";
    EXPECT_GE(timers[i].when, last_when) << "timer " << i << " fired out of order";
    last_when = timers[i].when;
  }
  for (int i = 0; i < kTimers; i++) EXPECT_EQ(times_fired[i], deleted[i] ? 0 : 1) << "timer " << i;
}

TEST(TimerHeap, PeriodicTimerStaysInTheHeapAndFiresEveryPeriod) {
  firing_log log;
  the_log = &log;
  int64_t max_fires = 0;  // periods from the first when to the deltimer
  gort::run([&] {
    gort::gomaxprocs(1);
    rt::p* pp = rt::current_p();
    // Two one-shot timers far out keep the periodic one from being alone in the heap.
    rt::timer far1, far2, tick;
    gort::defer remove_all = [&] {
      for (rt::timer* t : {&far1, &far2, &tick}) rt::deltimer(t);
    };
    int64_t now = gort::os::nanotime();
    for (rt::timer* t : {&far1, &far2}) {
      t->f = record;
      t->seq = 1000;
      t->when = now + int64_t(3600) * 1000000000;
      rt::addtimer(t);
    }
    tick.f = record;
    tick.seq = 7;
    tick.when = now + 2 * 1000000;
    tick.period = 2 * 1000000;
    rt::addtimer(&tick);
    gort::time::sleep(31ms);
    EXPECT_TRUE(rt::timer_heap_valid(pp));
    EXPECT_TRUE(rt::deltimer(&tick)) << "a periodic timer stays pending";
    max_fires = (gort::os::nanotime() - (now + 2 * 1000000)) / (2 * 1000000) + 1;
    EXPECT_TRUE(rt::deltimer(&far1));
    EXPECT_TRUE(rt::deltimer(&far2));
    EXPECT_TRUE(rt::timer_heap_valid(pp));
  });
  the_log = nullptr;
  // A late check drops missed ticks, so fewer may run than periods passed, never more.
  EXPECT_GE(log.fired.size(), 3u);
  EXPECT_LE(int64_t(log.fired.size()), max_fires);
  for (auto [i, at] : log.fired) EXPECT_EQ(i, 7u);
}

// Adding a timer that is still in a heap would put it there twice (two firings, a heap
// whose positions no longer match): Go's addtimer throws, and so does ours.
TEST(TimerHeapDeathTest, AddingATimerAlreadyInAHeapIsFatal) {
  EXPECT_EXIT(gort::run([] {
                rt::timer t;
                t.f = record;
                t.when = gort::os::nanotime() + int64_t(3600) * 1000000000;
                rt::addtimer(&t);
                rt::addtimer(&t);
              }),
              testing::ExitedWithCode(2),
              "fatal error: addtimer called with initialized timer.*goroutine 1 \\[running\\]:");
}
