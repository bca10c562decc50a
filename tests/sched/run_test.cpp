// run_test: gort::run, gort::go, the main goroutine's exit, and calls from threads that are
// not goroutines.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "gort/gort.hpp"

using namespace std::chrono_literals;

TEST(Run, ReturnsTheMainGoroutinesExitCode) {
  EXPECT_EQ(gort::run([] { return 7; }), 7);
  EXPECT_EQ(gort::run([] {}), 0);
}

TEST(Run, RunsGoroutinesToCompletion) {
  std::atomic<int> ran{0};
  gort::run([&] {
    gort::sync::wait_group wg;
    for (int i = 0; i < 10000; i++) {
      wg.add(1);
      gort::go([&] {
        ran++;
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(ran.load(), 10000);
}

TEST(Run, ArgumentsAreCopiedAtTheGoStatement) {
  std::atomic<long> sum{0};
  gort::run([&] {
    gort::sync::wait_group wg;
    for (int i = 0; i < 100; i++) {
      wg.add(1);
      gort::go([&](int v, std::string s) { sum += v + long(s.size()); wg.done(); }, i,
               std::string(size_t(i), 'x'));
    }
    wg.wait();
  });
  EXPECT_EQ(sum.load(), 2 * (99 * 100 / 2));
}

TEST(Run, MoveOnlyAndLargeClosures) {
  std::atomic<int> got{0};
  gort::run([&] {
    gort::sync::wait_group wg;
    auto p = std::make_unique<int>(41);
    wg.add(2);
    gort::go([&, p = std::move(p)] { got += *p + 1; wg.done(); });
    std::array<char, 4096> big{};  // larger than the inline closure area: boxed
    big[4095] = 1;
    gort::go([&, big] { got += big[4095]; wg.done(); });
    wg.wait();
  });
  EXPECT_EQ(got.load(), 43);
}

TEST(Run, ProgramEndsWhenMainReturnsEvenWithParkedGoroutines) {
  std::atomic<bool> reached{false};
  int rc = gort::run([&] {
    gort::sync::wait_group never;
    never.add(1);
    gort::go([&] { never.wait(); });  // parked forever
    gort::go([&] { gort::time::sleep(1h); });
    gort::time::sleep(1ms);
    reached = true;
    return 5;
  });
  EXPECT_EQ(rc, 5);
  EXPECT_TRUE(reached);
  // The next run starts clean.
  EXPECT_EQ(gort::run([] { return gort::num_goroutine(); }), 1);
}

TEST(Run, ManyRunsInSequence) {
  for (int i = 0; i < 20; i++) {
    int rc = gort::run([i] {
      gort::sync::wait_group wg;
      for (int k = 0; k < 50; k++) wg.go([] { gort::yield(); });
      wg.wait();
      return i;
    });
    ASSERT_EQ(rc, i);
  }
}

TEST(Run, GoOutsideRunIsAClearError) {
  EXPECT_THROW(gort::go([] {}), gort::runtime_error);
  try {
    gort::go([] {});
  } catch (const gort::runtime_error& e) {
    EXPECT_STREQ(e.what(), "gort::go called while no gort::run is active");
  }
}

TEST(Run, NestedRunIsAClearError) {
  gort::run([] { EXPECT_THROW(gort::run([] {}), gort::runtime_error); });
}

TEST(Run, GoexitOutsideAGoroutineIsAClearError) {
  EXPECT_THROW(gort::goexit(), gort::runtime_error);
}

TEST(Run, PlainThreadsCanUseTheApi) {
  // yield, sleep and num_goroutine work (as thread operations) on a plain thread, and a
  // plain thread can start goroutines into an active run.
  gort::yield();
  gort::time::sleep(1ms);
  EXPECT_EQ(gort::num_goroutine(), 0);
  std::atomic<int> ran{0};
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.add(1);
    std::thread t([&] { gort::go([&] { ran = 1; wg.done(); }); });
    wg.wait();
    t.join();
  });
  EXPECT_EQ(ran.load(), 1);
}

TEST(Run, NumGoroutineCountsLiveGoroutines) {
  gort::run([] {
    EXPECT_EQ(gort::num_goroutine(), 1);
    gort::sync::wait_group started, release;
    release.add(1);
    for (int i = 0; i < 10; i++) {
      started.add(1);
      gort::go([&] {
        started.done();
        release.wait();
      });
    }
    started.wait();
    EXPECT_EQ(gort::num_goroutine(), 11);
    release.done();
    while (gort::num_goroutine() > 1) gort::yield();
    EXPECT_EQ(gort::num_goroutine(), 1);
  });
}
