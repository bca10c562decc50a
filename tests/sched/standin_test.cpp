// standin_test: a goroutine that computes without ever reaching a safe point does not
// starve the others (src/sched/standin.hpp). sysmon lends a stand-in P while such a hog
// keeps its P and work waits for it: goroutines in the hog's queue, its due timers, the
// global queue. When the hog reaches a safe point the stand-in retires, and GOMAXPROCS Ps
// are left. Go 1.14+ gets the same effect by preempting the loop with a signal.
//
// Each hog spins on an atomic with no runtime call at all; a 20 s deadline turns a hang
// (the behaviour without stand-ins) into a failure instead.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sched/sched.hpp"
#include "sched/standin.hpp"
#include "../procs_guard.hpp"

using namespace std::chrono_literals;

namespace {

constexpr auto kHangDeadline = 20s;

// Spins, with no runtime call, until flag is set; false if the deadline passed first.
bool spin_until(const std::atomic<bool>& flag) {
  auto deadline = std::chrono::steady_clock::now() + kHangDeadline;
  while (!flag.load(std::memory_order_acquire))
    if (std::chrono::steady_clock::now() > deadline) return false;
  return true;
}

// Keeps the thread busy for d, with no runtime call.
void spin_for(std::chrono::microseconds d) {
  auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

// Waits (parked, so the hog's P is free again) until the stand-ins have retired; false if
// they had not after 5 s.
bool standins_retire() {
  for (int i = 0; i < 5000; i++) {
    if (gort::rt::sched.nstandins.load() == 0 &&
        gort::rt::sched.nprocs.load() == gort::rt::sched.gomaxprocs.load())
      return true;
    gort::time::sleep(1ms);
  }
  return false;
}

}  // namespace

TEST(Standin, AGoroutineSpinningWithoutSafePointsDoesNotStarveTheOneP) {
  procs_guard guard;
  gort::gomaxprocs(1);
  std::atomic<bool> ran{false};
  bool spun = false, retired = false;
  gort::run([&] {
    gort::go([&] { ran.store(true, std::memory_order_release); });  // in the hog's runnext
    spun = spin_until(ran);
    gort::time::sleep(0ns);  // a safe point: the hog yields, its stand-in retires
    retired = standins_retire();
  });
  EXPECT_TRUE(spun) << "the goroutine queued behind the spinning one never ran";
  EXPECT_TRUE(retired);
  EXPECT_EQ(gort::rt::sched.nprocs.load(), 1);
}

// In a child process: GODEBUG=asyncpreemptoff=1 (read when the runtime starts) lends no
// stand-in, so the goroutine queued behind a 30 ms spin waits for it, as in Go with its
// asynchronous preemption off. Exits 0 if so, 3 if a stand-in was lent, 4 if the goroutine
// ran during a spin. A round whose goroutine ran before the spin says nothing (main, slow to
// start on a loaded machine, was flagged and yielded at the go statement, a safe point).
void spin_with_asyncpreemptoff_and_exit() {
  setenv("GODEBUG", "asyncpreemptoff=1", 1);
  gort::gomaxprocs(1);
  int ran_during_spin = 0;
  for (int round = 0; round < 3; round++) {
    std::atomic<bool> ran{false};
    gort::run([&] {
      gort::go([&] { ran.store(true, std::memory_order_release); });
      if (ran.load(std::memory_order_acquire)) return;
      spin_for(30ms);
      if (ran.load(std::memory_order_acquire)) ran_during_spin++;
    });
  }
  if (gort::rt::standins_lent.load() != 0) std::exit(3);
  std::exit(ran_during_spin == 0 ? 0 : 4);
}

TEST(StandinDeathTest, GodebugAsyncpreemptoffLendsNone) {
  EXPECT_EXIT(spin_with_asyncpreemptoff_and_exit(), testing::ExitedWithCode(0), "");
}

TEST(Standin, AGoroutineWokenByATimerStartsAWholeTimeSlice) {
  // The one P sits idle while main sleeps; main wakes into runnext and inherits the time
  // slice. sysmon times slices by the P's scheduling tick, so the tick must move when a
  // thread takes the idle P again (acquirep): otherwise sysmon counts the idle spell as
  // main's, flags main at once after the wake, and lends a stand-in within a short spin.
  // The tick is checked directly; the spin after it (1 ms, against the 11 ms a hog needs)
  // checks that no stand-in came. A round in which main really held the P for 10 ms (the
  // loaded machine took its thread away mid-spin) proves nothing either way and is skipped.
  procs_guard guard;
  gort::gomaxprocs(1);
  for (int round = 0; round < 3; round++) {
    std::atomic<bool> ran{false};
    bool ran_during_spin = true;
    uint32_t tick_before = 0, tick_after = 0;
    std::chrono::steady_clock::duration held{};
    uint64_t lent_before = gort::rt::standins_lent.load();
    gort::run([&] {
      tick_before = gort::rt::current_p()->schedtick.load();
      gort::time::sleep(50ms);
      auto woke = std::chrono::steady_clock::now();
      tick_after = gort::rt::current_p()->schedtick.load();
      gort::go([&] { ran.store(true, std::memory_order_release); });
      spin_for(1ms);
      ran_during_spin = ran.load(std::memory_order_acquire);
      held = std::chrono::steady_clock::now() - woke;
    });
    EXPECT_NE(tick_after, tick_before) << "round " << round;
    if (held >= 10ms) continue;  // a hog's slice after all: a stand-in may come, rightly
    EXPECT_FALSE(ran_during_spin) << "round " << round;
    EXPECT_EQ(gort::rt::standins_lent.load(), lent_before) << "round " << round;
  }
}

TEST(Standin, ACallThatBlocksWithoutTheSyscallBracketDoesNotStallTheP) {
  // A goroutine blocked in the OS without gort::syscall keeps its P, as a spin loop does:
  // the goroutine queued behind it runs on a stand-in while the call still sleeps.
  procs_guard guard;
  gort::gomaxprocs(1);
  std::atomic<bool> ran{false};
  bool ran_during_call = false;
  gort::run([&] {
    gort::go([&] { ran.store(true, std::memory_order_release); });
    ::usleep(300'000);  // no gort::syscall: the P stays with this thread
    ran_during_call = ran.load(std::memory_order_acquire);
  });
  EXPECT_TRUE(ran_during_call);
}

TEST(Standin, TheHoggedPsTimersFire) {
  procs_guard guard;
  gort::gomaxprocs(1);
  std::atomic<bool> woke{false};
  bool spun = false;
  gort::run([&] {
    gort::go([&] {
      gort::time::sleep(30ms);  // its timer is in the one P's heap
      woke.store(true, std::memory_order_release);
    });
    gort::time::sleep(1ms);  // the sleeper parks first
    spun = spin_until(woke);
  });
  EXPECT_TRUE(spun) << "a timer in the hogged P's heap never fired";
}

TEST(Standin, EveryPHoggedStillRunsTheOthers) {
  // Two hogs on two Ps wait for a chain of goroutines that hand a token on through
  // channels and sleeps: each link needs a P that the hogs never give up.
  procs_guard guard;
  gort::gomaxprocs(2);
  constexpr int kLinks = 50;
  std::atomic<bool> done{false};
  std::atomic<int> hogs_started{0};
  bool spun[2] = {false, false};
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.add(2);
    for (int h = 0; h < 2; h++)
      gort::go([&, h] {
        hogs_started++;
        spun[h] = spin_until(done);
        wg.done();
      });
    while (hogs_started.load() < 2) gort::yield();
    gort::go([&] {
      auto token = gort::make_chan<int>();
      for (int i = 0; i < kLinks; i++)
        gort::go([token, i] {
          if (i % 10 == 0) gort::time::sleep(1ms);
          token.send(i);
        });
      int sum = 0;
      for (int i = 0; i < kLinks; i++) sum += token.recv();
      EXPECT_EQ(sum, kLinks * (kLinks - 1) / 2);
      done.store(true, std::memory_order_release);
    });
    wg.wait();
    EXPECT_TRUE(standins_retire());
  });
  EXPECT_TRUE(spun[0]);
  EXPECT_TRUE(spun[1]);
}

TEST(Standin, ABusyStandinRetiresAtItsGoroutinesNextSafePoint) {
  // The goroutine the stand-in took keeps running (with safe points) after the hog has
  // parked: the stand-in asks it to yield, and retires at that scheduling decision, so
  // the goroutine goes on on the one P.
  procs_guard guard;
  gort::gomaxprocs(1);
  std::atomic<bool> started{false}, stop{false};
  bool spun = false, retired = false;
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.add(1);
    gort::go([&] {
      started.store(true, std::memory_order_release);
      while (!stop.load()) gort::time::sleep(0ns);  // a safe point, never a park
      wg.done();
    });
    spun = spin_until(started);
    retired = standins_retire();  // parks main: the worker is the only runner
    stop = true;
    wg.wait();
  });
  EXPECT_TRUE(spun);
  EXPECT_TRUE(retired) << "the stand-in kept running its goroutine after the hog parked";
}

TEST(Standin, AStandinRunningAPingPongPairRetires) {
  // After the hog parks, the stand-in runs two goroutines that hand a value back and forth
  // for ever: direct switches that never go through g0 by themselves. The stand-in must
  // still retire (the pair moves to the one P).
  procs_guard guard;
  gort::gomaxprocs(1);
  std::atomic<bool> started{false}, stop{false};
  bool spun = false, retired = false;
  gort::run([&] {
    auto ping = gort::make_chan<int>();
    auto pong = gort::make_chan<int>();
    auto done = gort::make_chan<int>();
    gort::go([&, ping, pong] {
      for (;;) {
        int v = ping.recv();
        pong.send(v + 1);
        if (v < 0) return;
      }
    });
    gort::go([&, ping, pong, done] {
      started.store(true, std::memory_order_release);
      int v = 0;
      while (!stop.load()) {
        ping.send(v);
        v = pong.recv();
      }
      ping.send(-1);
      pong.recv();
      done.send(v);
    });
    spun = spin_until(started);
    retired = standins_retire();
    stop = true;
    EXPECT_GT(done.recv(), 0);
  });
  EXPECT_TRUE(spun);
  EXPECT_TRUE(retired) << "the stand-in kept running its ping-pong pair after the hog parked";
}

TEST(Standin, GomaxprocsChangeWhileAStandinIsLentRetiresIt) {
  // A goroutine on the stand-in frees the hog and then changes GOMAXPROCS: the stop of
  // the world counts the stand-in, waits for the hog's next safe point, and procresize
  // retires the stand-in.
  procs_guard guard;
  gort::gomaxprocs(1);
  std::atomic<bool> go_on{false};
  std::atomic<int> prev{0};
  bool spun = false;
  gort::run([&] {
    gort::go([&] {
      go_on.store(true, std::memory_order_release);
      prev = gort::gomaxprocs(2);
    });
    spun = spin_until(go_on);
    while (prev.load() == 0) gort::yield();  // a safe point each round
    EXPECT_EQ(gort::rt::sched.nstandins.load(), 0);
    EXPECT_EQ(gort::rt::sched.nprocs.load(), 2);
  });
  EXPECT_TRUE(spun);
  EXPECT_EQ(prev.load(), 1);
}

TEST(Standin, ARunEndingWithAStandinLentLeavesGomaxprocsPs) {
  procs_guard guard;
  gort::gomaxprocs(1);
  for (int round = 0; round < 3; round++) {
    std::atomic<bool> ran{false};
    bool spun = false;
    gort::run([&] {
      gort::go([&] { ran.store(true, std::memory_order_release); });
      spun = spin_until(ran);
      // Returns at once: the stand-in may still be lent when the run ends.
    });
    EXPECT_TRUE(spun) << "round " << round;
    EXPECT_EQ(gort::rt::sched.nstandins.load(), 0) << "round " << round;
    EXPECT_EQ(gort::rt::sched.nprocs.load(), 1) << "round " << round;
  }
}

TEST(StandinStress, HogsComeAndGoWhileGoroutinesPingPongSleepAndSpawn) {
  // Rounds of hogs that spin for random spells without a safe point, on random
  // GOMAXPROCS, while workers ping-pong on channels, sleep and spawn. Every worker must
  // finish each round, and the stand-ins must all retire after it.
  procs_guard guard;
  std::mt19937 rng(42);
  uint64_t lent_before = gort::rt::standins_lent.load();
  for (int round = 0; round < 12; round++) {
    int procs = 1 + int(rng() % 3);
    int hogs = 1 + int(rng() % uint32_t(procs));
    gort::gomaxprocs(procs);
    std::atomic<int> finished{0};
    constexpr int kWorkers = 40;
    unsigned seed = unsigned(rng());
    bool retired = false;
    gort::run([&] {
      gort::sync::wait_group wg;
      wg.add(hogs + kWorkers);
      for (int h = 0; h < hogs; h++)
        gort::go([&, h] {
          spin_for(std::chrono::milliseconds(30 + (seed >> h) % 40));
          wg.done();
        });
      for (int w = 0; w < kWorkers; w++)
        gort::go([&, w] {
          auto ping = gort::make_chan<int>();
          auto pong = gort::make_chan<int>();
          gort::go([ping, pong] {
            for (int i = 0; i < 20; i++) pong.send(ping.recv() + 1);
          });
          int v = 0;
          for (int i = 0; i < 20; i++) {
            ping.send(v);
            v = pong.recv();
            if ((w + i) % 7 == 0) gort::time::sleep(std::chrono::microseconds(200));
          }
          EXPECT_EQ(v, 20);
          finished++;
          wg.done();
        });
      wg.wait();
      retired = standins_retire();
    });
    EXPECT_EQ(finished.load(), kWorkers) << "round " << round;
    EXPECT_TRUE(retired) << "round " << round << " procs " << procs;
    EXPECT_LE(gort::rt::sched.nprocs.load(), procs);
  }
  // The hogs keep workers waiting in most rounds; the stand-ins must have been exercised.
  EXPECT_GT(gort::rt::standins_lent.load(), lent_before);
}

TEST(StandinStress, RunsEndWhileSysmonLendsAndRetakes) {
  // Short runs that end while sysmon is busy with them: a hog gets a stand-in in most
  // rounds, and goroutines keep making blocking calls that sysmon retakes Ps from, when the
  // main goroutine returns. A run's end must wait for sysmon to finish what it started
  // (handing a P to an M, lending or retiring a stand-in): one that straddles the end
  // would act on the next run's processors.
  procs_guard guard;
  std::mt19937 rng(7);
#if defined(GORT_TSAN) || defined(GORT_ASAN)
  constexpr int kRounds = 60;
#else
  constexpr int kRounds = 200;
#endif
  for (int round = 0; round < kRounds; round++) {
    int procs = 1 + int(rng() % 2);
    gort::gomaxprocs(procs);
    unsigned seed = unsigned(rng());
    bool done = false;
    std::atomic<bool> stop{false};  // outlives the run: goroutines still read it as it ends
    gort::run([&] {
      for (int c = 0; c < 4; c++)
        gort::go([&stop, c, seed] {
          for (int i = 0; !stop.load(std::memory_order_relaxed); i++)
            gort::syscall([&] { return usleep(useconds_t(20 + (seed >> (c + i % 8)) % 200)); });
        });
      auto hog_done = gort::make_chan<int>(1);
      gort::go([&, hog_done] {
        spin_for(std::chrono::microseconds(10'500 + (seed % 2'000)));
        hog_done.send(1);
      });
      hog_done.recv();
      stop.store(true, std::memory_order_relaxed);
      done = true;
    });
    ASSERT_TRUE(done) << "round " << round;
    ASSERT_EQ(gort::rt::sched.nstandins.load(), 0) << "round " << round;
    ASSERT_EQ(gort::rt::sched.nprocs.load(), procs) << "round " << round;
  }
}
