// wait_group_test: gort::sync::wait_group (Go: sync.WaitGroup) — add/done/wait, several
// waiters released together, wait on a zero counter, wg.go, reuse once wait has returned,
// the negative-counter panic, and waiting or signalling from plain threads.
//
// Invariants checked: wait returns only once the counter is zero, and everything done
// before each done() is visible after wait returns; every waiter is released when the
// counter reaches zero; a counter below zero panics with Go's exact message.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"

using namespace std::chrono_literals;

namespace {

TEST(WaitGroup, WaitReturnsAfterEveryDone) {
  constexpr int kN = 100;
  std::vector<int> slots(kN, 0);  // plain ints: wait must order the writes before it
  bool all_set = false;
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.add(kN);
    for (int i = 0; i < kN; i++) {
      gort::go([&, i] {
        if (i % 3 == 0) gort::time::sleep(1ms);
        if (i % 3 == 1) gort::yield();
        slots[size_t(i)] = i + 1;
        wg.done();
      });
    }
    wg.wait();
    all_set = true;
    for (int i = 0; i < kN; i++) all_set = all_set && slots[size_t(i)] == i + 1;
  });
  EXPECT_TRUE(all_set);
}

TEST(WaitGroup, WaitBlocksWhileTheCounterIsPositive) {
  std::atomic<int> stage{0};
  int seen_at_wake = -1;
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.add(2);
    gort::go([&] {
      gort::time::sleep(20ms);
      stage = 1;
      wg.done();
      gort::time::sleep(20ms);
      stage = 2;
      wg.done();
    });
    wg.wait();
    seen_at_wake = stage.load();
  });
  EXPECT_EQ(seen_at_wake, 2) << "wait returned before the counter reached zero";
}

TEST(WaitGroup, AddWithLargerDeltasAndMixedSigns) {
  bool ok = false;
  gort::run([&] {
    gort::sync::wait_group wg;
    std::atomic<int> ran{0};
    wg.add(5);
    wg.add(-2);  // 3
    for (int i = 0; i < 3; i++) gort::go([&] { ran++; wg.done(); });
    wg.wait();
    ok = ran.load() == 3;
  });
  EXPECT_TRUE(ok);
}

TEST(WaitGroup, AllWaitersAreReleased) {
  constexpr int kWaiters = 50;
  std::atomic<int> released{0};
  int released_before_done = -1;
  gort::run([&] {
    gort::sync::wait_group gate, waiters_started, waiters_done;
    gate.add(1);
    for (int i = 0; i < kWaiters; i++) {
      waiters_started.add(1);
      waiters_done.go([&] {
        waiters_started.done();
        gate.wait();
        released++;
      });
    }
    waiters_started.wait();
    gort::time::sleep(10ms);  // let them all park on gate
    released_before_done = released.load();
    gate.done();
    waiters_done.wait();
  });
  EXPECT_EQ(released_before_done, 0);
  EXPECT_EQ(released.load(), kWaiters);
}

TEST(WaitGroup, WaitOnZeroCounterReturnsAtOnce) {
  bool returned = false;
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.wait();
    wg.add(3);
    wg.add(-3);
    wg.wait();
    returned = true;
  });
  EXPECT_TRUE(returned);
  // Outside any gort::run, from a plain thread, too.
  gort::sync::wait_group wg;
  auto t0 = std::chrono::steady_clock::now();
  wg.wait();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(WaitGroup, GoRunsEachFunctionAndWaitsForIt) {
  constexpr int kN = 1000;
  std::atomic<int> ran{0};
  long sum = 0;
  gort::run([&] {
    gort::sync::wait_group wg;
    std::vector<int> out(kN, 0);
    for (int i = 0; i < kN; i++) {
      wg.go([&, i] {
        if (i % 7 == 0) gort::yield();
        out[size_t(i)] = i;
        ran++;
      });
    }
    wg.wait();
    for (int v : out) sum += v;
  });
  EXPECT_EQ(ran.load(), kN);
  EXPECT_EQ(sum, long(kN) * (kN - 1) / 2);
}

TEST(WaitGroup, GoCallsDoneWhenTheFunctionGoexits) {
  // wg.go's done() runs as the goroutine unwinds, so goexit (like return) releases wait.
  bool unwound = false, waited = false;
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.go([&] {
      GORT_DEFER(unwound = true);
      gort::goexit();
    });
    wg.wait();
    waited = true;
  });
  EXPECT_TRUE(unwound);
  EXPECT_TRUE(waited);
}

TEST(WaitGroup, ReusableOnceWaitHasReturned) {
  constexpr int kRounds = 200;
  int bad_rounds = 0;
  gort::run([&] {
    gort::sync::wait_group wg;
    for (int round = 0; round < kRounds; round++) {
      int n = 1 + round % 17;
      std::atomic<int> ran{0};
      // Some rounds with extra waiters parked, so the release-and-reset path runs.
      gort::sync::wait_group extra_waiters;
      if (round % 4 == 0) {
        for (int k = 0; k < 3; k++) extra_waiters.go([&] { wg.wait(); });
      }
      wg.add(n);
      for (int i = 0; i < n; i++) {
        gort::go([&] {
          if (ran.load() % 2 == 0) gort::yield();
          ran++;
          wg.done();
        });
      }
      wg.wait();
      if (ran.load() != n) bad_rounds++;
      extra_waiters.wait();
    }
  });
  EXPECT_EQ(bad_rounds, 0);
}

TEST(WaitGroup, NegativeCounterPanicsWithGosMessage) {
  std::string what_zero, what_after_done;
  bool wrong_type = false;
  gort::run([&] {
    gort::sync::wait_group done;
    done.go([&] {
      gort::sync::wait_group wg;
      try {
        wg.add(-1);
      } catch (const gort::panic_error& e) {
        what_zero = e.what();
      } catch (...) {
        wrong_type = true;
      }
    });
    done.go([&] {
      gort::sync::wait_group wg;
      wg.add(1);
      wg.done();
      try {
        wg.done();
      } catch (const gort::panic_error& e) {
        what_after_done = e.what();
      } catch (...) {
        wrong_type = true;
      }
    });
    done.wait();
  });
  EXPECT_FALSE(wrong_type) << "expected gort::panic_error";
  EXPECT_EQ(what_zero, "sync: negative WaitGroup counter");
  EXPECT_EQ(what_after_done, "sync: negative WaitGroup counter");
}

// Go's Wait panics when, between the release of its waiters and a waiter's return, the
// counter went up again (the wait group was reused too early). On one P the released waiter
// cannot run before the add that follows the done, so the reuse is seen every time; a
// round in which the waiter had not parked yet just waits for the second done.
TEST(WaitGroup, ReuseBeforeWaitReturnedPanicsWithGosMessage) {
  constexpr int kRounds = 20;
  int panics = 0;
  std::vector<std::string> whats;
  gort::run([&] {
    int prev = gort::gomaxprocs(1);
    for (int round = 0; round < kRounds; round++) {
      gort::sync::wait_group wg;
      wg.add(1);
      auto result = gort::make_chan<std::string>(1);
      gort::go([&] {
        try {
          wg.wait();
          result.send("returned");
        } catch (const gort::panic_error& e) {
          result.send(e.what());
        }
      });
      gort::yield();  // the waiter runs until it parks in wait
      wg.done();      // releases it: runnable, not running yet
      wg.add(1);      // reused before its wait returned
      gort::yield();
      wg.done();
      std::string what = result.recv();
      if (what != "returned") {
        panics++;
        whats.push_back(what);
      }
    }
    gort::gomaxprocs(prev);
  });
  EXPECT_EQ(panics, kRounds) << "one P: the waiter parks at the first yield every round";
  for (const std::string& w : whats)
    EXPECT_EQ(w, "sync: WaitGroup is reused before previous Wait has returned");
}

TEST(WaitGroup, PlainThreadWaitsWhileGoroutinesCallDone) {
  constexpr int kN = 200;
  std::atomic<int> finished{0};
  std::atomic<int> seen_by_thread{-1};
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.add(kN);
    std::thread waiter([&] {
      wg.wait();  // blocks the thread, not a goroutine
      seen_by_thread = finished.load();
    });
    gort::sync::wait_group all;
    for (int i = 0; i < kN; i++) {
      all.go([&, i] {
        gort::time::sleep(std::chrono::microseconds(100 * (i % 20)));
        finished++;
        wg.done();
      });
    }
    all.wait();
    gort::blocking([&] { waiter.join(); });
  });
  EXPECT_EQ(seen_by_thread.load(), kN);
}

TEST(WaitGroup, GoroutineWaitsWhilePlainThreadsCallDone) {
  constexpr int kThreads = 8;
  std::atomic<int> finished{0};
  int seen = -1;
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.add(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; i++) {
      threads.emplace_back([&, i] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1 + i));
        finished++;
        wg.done();
      });
    }
    wg.wait();  // parks the main goroutine; woken from plain threads
    seen = finished.load();
    gort::blocking([&] {
      for (auto& t : threads) t.join();
    });
  });
  EXPECT_EQ(seen, kThreads);
}

TEST(WaitGroup, PlainThreadsOnlyWithNoRunActive) {
  constexpr int kThreads = 6;
  gort::sync::wait_group wg;
  std::atomic<int> finished{0};
  std::atomic<int> seen{-1};
  wg.add(kThreads);
  std::thread waiter([&] {
    wg.wait();
    seen = finished.load();
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) {
    threads.emplace_back([&, i] {
      std::this_thread::sleep_for(std::chrono::milliseconds(2 * i));
      finished++;
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(finished.load(), kThreads);
  for (auto& t : threads) t.join();
  waiter.join();
  EXPECT_EQ(seen.load(), kThreads);
}

}  // namespace
