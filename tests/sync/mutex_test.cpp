// mutex_test: gort::sync::mutex and rw_mutex (Go: sync.Mutex, sync.RWMutex) — mutual
// exclusion under contention from goroutines and plain threads, try_lock, the standard
// lock adaptors, unlock from another goroutine, normal-mode barging and starvation-mode
// hand-off, and rw_mutex's readers-together / writer-alone / writer-preference rules.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "chan/chan_testing.hpp"
#include "gort/gort.hpp"

using namespace std::chrono_literals;

namespace {

using chan_testing::procs_scope;

TEST(Mutex, CountsExactlyUnderContention) {
  constexpr int kGoroutines = 8, kIters = 20000;
  long counter = 0;  // plain: the mutex must order every increment
  gort::run([&] {
    procs_scope procs(2);
    gort::sync::mutex mu;
    gort::sync::wait_group wg;
    for (int i = 0; i < kGoroutines; i++)
      wg.go([&] {
        for (int j = 0; j < kIters; j++) {
          std::lock_guard lk(mu);
          counter++;
          if (j % 1000 == 0) gort::yield();  // sometimes switch while holding it
        }
      });
    wg.wait();
  });
  EXPECT_EQ(counter, long(kGoroutines) * kIters);
}

TEST(Mutex, GoroutinesAndPlainThreadsShareIt) {
  long counter = 0;
  gort::sync::mutex mu;
  std::vector<std::thread> threads;
  gort::run([&] {
    gort::sync::wait_group wg;
    for (int t = 0; t < 2; t++)
      threads.emplace_back([&] {
        for (int j = 0; j < 5000; j++) {
          std::lock_guard lk(mu);
          counter++;
        }
      });
    for (int i = 0; i < 4; i++)
      wg.go([&] {
        for (int j = 0; j < 5000; j++) {
          std::unique_lock lk(mu);
          counter++;
        }
      });
    wg.wait();
    for (auto& t : threads) t.join();
  });
  EXPECT_EQ(counter, 6L * 5000);
}

TEST(Mutex, TryLockAndScopedLock) {
  gort::run([] {
    gort::sync::mutex a, b;
    EXPECT_TRUE(a.try_lock());
    EXPECT_FALSE(a.try_lock());
    a.unlock();
    {
      std::scoped_lock both(a, b);
      EXPECT_FALSE(a.try_lock());
      EXPECT_FALSE(b.try_lock());
    }
    EXPECT_TRUE(b.try_lock());
    b.unlock();
  });
}

TEST(Mutex, AnotherGoroutineMayUnlock) {
  bool relocked = false;
  gort::run([&] {
    gort::sync::mutex mu;
    mu.lock();
    gort::sync::wait_group wg;
    wg.go([&] { mu.unlock(); });  // Go allows unlocking from another goroutine
    wg.wait();
    relocked = mu.try_lock();
  });
  EXPECT_TRUE(relocked);
}

TEST(Mutex, WaiterParksItsGoroutineNotItsThread) {
  // With one P, a goroutine blocked in lock must let others run on the same thread.
  bool other_ran = false, got_it = false;
  gort::run([&] {
    procs_scope procs(1);
    gort::sync::mutex mu;
    mu.lock();
    gort::sync::wait_group wg;
    wg.go([&] {
      mu.lock();
      got_it = true;
      mu.unlock();
    });
    wg.go([&] { other_ran = true; });
    gort::time::sleep(2ms);
    EXPECT_TRUE(other_ran);
    EXPECT_FALSE(got_it);
    mu.unlock();
    wg.wait();
  });
  EXPECT_TRUE(got_it);
}

TEST(Mutex, NormalModeLetsANewcomerBargeStarvationModeHandsOff) {
  // One P makes the interleaving deterministic. W blocks; main unlocks (waking W, who
  // cannot run yet) and at once takes the mutex again: normal mode lets it barge. W then
  // runs, has waited over 1 ms, loses, and switches the mutex to starvation mode; main's
  // next unlock must hand it straight to W, so main's own lock comes second.
  std::vector<std::string> order;
  bool barged = false;
  gort::run([&] {
    procs_scope procs(1);
    gort::sync::mutex mu;
    mu.lock();
    gort::sync::wait_group wg;
    wg.go([&] {
      mu.lock();
      order.push_back("waiter");
      gort::time::sleep(1ms);
      mu.unlock();
    });
    gort::time::sleep(3ms);  // W parks in lock and waits > 1 ms
    mu.unlock();             // wakes W into our P's run queue...
    barged = mu.try_lock();  // ...but we take it again first (normal mode)
    gort::time::sleep(3ms);  // W runs, fails, turns on starvation mode, parks again
    mu.unlock();             // starvation mode: hand-off to W
    mu.lock();
    order.push_back("main");
    mu.unlock();
    wg.wait();
  });
  EXPECT_TRUE(barged) << "normal mode: a running goroutine takes an unlocked mutex";
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], "waiter") << "starvation mode must hand the mutex to the waiter";
}

TEST(RWMutex, ReadersHoldItTogether) {
  bool both_inside = false;
  gort::run([&] {
    gort::sync::rw_mutex rw;
    auto inside = gort::make_chan<int>(2);
    auto leave = gort::make_chan<int>();
    gort::sync::wait_group wg;
    for (int i = 0; i < 2; i++)
      wg.go([&] {
        std::shared_lock lk(rw);
        inside.send(1);
        leave.recv();
      });
    inside.recv();
    inside.recv();  // both readers are inside at once
    both_inside = !rw.try_lock() && rw.try_r_lock();
    rw.r_unlock();
    leave.close();
    wg.wait();
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
  });
  EXPECT_TRUE(both_inside);
}

TEST(RWMutex, WaitingWriterStopsNewReaders) {
  std::vector<std::string> order;
  gort::run([&] {
    procs_scope procs(1);
    gort::sync::rw_mutex rw;
    gort::sync::mutex order_mu;
    auto note = [&](const char* s) {
      std::lock_guard lk(order_mu);
      order.push_back(s);
    };
    rw.r_lock();  // an active reader
    gort::sync::wait_group wg;
    wg.go([&] {
      rw.lock();  // waits for the reader
      note("writer");
      rw.unlock();
    });
    gort::time::sleep(1ms);
    EXPECT_FALSE(rw.try_r_lock()) << "a pending writer must stop new readers";
    wg.go([&] {
      rw.r_lock();  // queues behind the writer
      note("late reader");
      rw.r_unlock();
    });
    gort::time::sleep(1ms);
    note("first reader leaves");
    rw.r_unlock();
    wg.wait();
  });
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0], "first reader leaves");
  EXPECT_EQ(order[1], "writer");
  EXPECT_EQ(order[2], "late reader");
}

TEST(RWMutex, WritersSeeConsistentStateUnderStress) {
  long a = 0, b = 0;  // a writer keeps a == b; readers check it
  std::atomic<int> torn{0};
  gort::run([&] {
    procs_scope procs(2);
    gort::sync::rw_mutex rw;
    gort::sync::wait_group wg;
    for (int w = 0; w < 2; w++)
      wg.go([&] {
        for (int i = 0; i < 3000; i++) {
          std::unique_lock lk(rw);
          a++;
          if (i % 100 == 0) gort::yield();
          b++;
        }
      });
    for (int r = 0; r < 4; r++)
      wg.go([&] {
        for (int i = 0; i < 3000; i++) {
          std::shared_lock lk(rw);
          if (a != b) torn++;
        }
      });
    std::thread plain([&] {
      for (int i = 0; i < 2000; i++) {
        rw.r_lock();
        if (a != b) torn++;
        rw.r_unlock();
      }
    });
    wg.wait();
    plain.join();
  });
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(a, 6000);
  EXPECT_EQ(b, 6000);
}

}  // namespace
