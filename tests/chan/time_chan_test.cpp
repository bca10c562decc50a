// time_chan_test: gort::time::timer, ticker, after and tick — Go ≤1.22 semantics (buffer
// of 1, non-blocking sends, Stop/Reset results, dropped ticks), panics, and races between
// firing and stop/reset/destruction (which the sanitizer builds check for use-after-free).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "chan/chan_testing.hpp"
#include "gort/gort.hpp"

using namespace std::chrono_literals;
using chan_testing::eventually;
using clk = std::chrono::steady_clock;

TEST(TimeChan, AfterFiresOnceAfterTheDuration) {
  gort::run([] {
    auto t0 = clk::now();
    auto c = gort::time::after(3ms);
    EXPECT_EQ(c.cap(), 1);
    auto when = c.recv();
    EXPECT_GE(clk::now() - t0, 3ms);
    EXPECT_GE(when - t0, 3ms);
    gort::time::sleep(5ms);
    EXPECT_FALSE(c.try_recv().has_value());  // once only
  });
}

TEST(TimeChan, TheValueWaitsInTheBuffer) {
  gort::run([] {
    gort::time::timer t(1ms);
    gort::time::sleep(5ms);
    EXPECT_EQ(t.c.len(), 1);
    EXPECT_FALSE(t.stop());  // already fired
    EXPECT_EQ(t.c.len(), 1);  // Stop does not drain (Go ≤1.22)
    t.c.recv();
  });
}

TEST(TimeChan, StopPreventsTheFiring) {
  gort::run([] {
    gort::time::timer t(30ms);  // long enough that a slow (sanitizer) start still stops it first
    EXPECT_TRUE(t.stop());
    EXPECT_FALSE(t.stop());
    gort::time::sleep(40ms);
    EXPECT_FALSE(t.c.try_recv().has_value());
  });
}

TEST(TimeChan, Reset) {
  gort::run([] {
    gort::time::timer t(1h);
    EXPECT_TRUE(t.reset(2ms));  // was pending
    auto t0 = clk::now();
    t.c.recv();
    EXPECT_LT(clk::now() - t0, 1s);
    EXPECT_FALSE(t.reset(1ms));  // had fired
    t.c.recv();
    EXPECT_FALSE(t.stop());
    // The Go idiom: stop, drain if it fired, reset.
    gort::time::timer u(1ms);
    gort::time::sleep(3ms);
    if (!u.stop()) u.c.recv();
    u.reset(1ms);
    u.c.recv();
  });
}

TEST(TimeChan, ZeroOrNegativeDurationFiresAtOnce) {
  gort::run([] {
    gort::time::timer t(0ns);
    t.c.recv();
    gort::time::after(-5s).recv();
  });
}

TEST(TimeChan, TickerTicksAndDropsMissedTicks) {
  gort::run([] {
    auto t0 = clk::now();
    gort::time::ticker tk(2ms);
    for (int i = 0; i < 5; i++) tk.c.recv();
    EXPECT_GE(clk::now() - t0, 10ms);
    // A slow receiver: ticks that find the buffer full are dropped.
    gort::time::sleep(30ms);
    EXPECT_EQ(tk.c.len(), 1);
    tk.c.recv();
    auto before = clk::now();
    tk.c.recv();  // the next one comes within about a period
    EXPECT_LT(clk::now() - before, 500ms);
    tk.stop();
    gort::time::sleep(5ms);
    while (tk.c.try_recv()) {
    }
    gort::time::sleep(10ms);
    EXPECT_FALSE(tk.c.try_recv().has_value());  // stopped for good
  });
}

TEST(TimeChan, TickerReset) {
  gort::run([] {
    gort::time::ticker tk(1h);
    tk.reset(1ms);
    tk.c.recv();
    tk.c.recv();
    tk.stop();
  });
}

TEST(TimeChan, NonPositiveTickerPanicsWithGosMessage) {
  gort::run([] {
    try {
      gort::time::ticker tk(0ms);
      ADD_FAILURE() << "no panic";
    } catch (const gort::panic_error& e) {
      EXPECT_STREQ(e.what(), "non-positive interval for NewTicker");
    }
    gort::time::ticker tk(1h);
    try {
      tk.reset(-1s);
      ADD_FAILURE() << "no panic";
    } catch (const gort::panic_error& e) {
      EXPECT_STREQ(e.what(), "non-positive interval for Ticker.Reset");
    }
    tk.stop();
    EXPECT_TRUE(gort::time::tick(0s) == nullptr);
    auto c = gort::time::tick(1ms);
    c.recv();
  });
}

TEST(TimeChan, DroppedHandlesStillFire) {
  gort::run([] {
    gort::recv_chan<gort::time::time_point> c;
    {
      gort::time::timer t(2ms);
      c = t.c;
    }
    c.recv();
  });
}

TEST(TimeChan, TimersNeedARun) {
  EXPECT_THROW(gort::time::after(1ms), gort::runtime_error);
}

// Firing races with stop, reset and the handles going away: run under ASan/TSan this
// checks that a timer function never touches a freed timer.
TEST(TimeChan, FiringRacesWithStopResetAndDestruction) {
  gort::run([] {
#if defined(GORT_TSAN)
    constexpr int kGoroutines = 8, kIters = 100;
#else
    constexpr int kGoroutines = 32, kIters = 500;
#endif
    gort::sync::wait_group wg;
    std::atomic<int> fired{0};
    for (int g = 0; g < kGoroutines; g++) {
      wg.go([&, g] {
        for (int i = 0; i < kIters; i++) {
          auto d = std::chrono::microseconds((i + g) % 7);
          switch (i % 4) {
            case 0: {
              gort::time::timer t(d);
              t.stop();
              break;
            }
            case 1: {
              gort::time::ticker tk(d + 1us);
              if (tk.c.try_recv()) fired++;
              tk.reset(d + 2us);
              gort::yield();
              tk.stop();
              break;
            }
            case 2: {
              gort::time::timer t(d);
              gort::yield();
              t.reset(d);
              break;  // dropped while pending
            }
            default:
              gort::select(gort::case_recv(gort::time::after(d), [&] { fired++; }),
                           gort::case_recv(gort::time::after(d), [&] { fired++; }));
          }
        }
      });
    }
    wg.wait();
    EXPECT_GE(fired.load(), kGoroutines * kIters / 4);
    gort::time::sleep(2ms);  // let the dropped timers fire before the run ends
  });
}

TEST(TimeChan, AfterFuncRunsInItsOwnGoroutineUnlessStopped) {
  gort::run([] {
    auto ran = gort::make_chan<int>(3);
    auto t0 = clk::now();
    auto blocker = gort::make_chan<int>();
    // f blocks on a channel: were it run on the timer's thread, nothing else would run.
    auto t = gort::time::after_func(2ms, [ran, blocker] {
      ran.send(1);
      blocker.recv();
    });
    EXPECT_EQ(t.c, nullptr) << "AfterFunc timers have no channel";
    EXPECT_EQ(ran.recv(), 1);
    EXPECT_GE(clk::now() - t0, 2ms);
    EXPECT_FALSE(t.stop()) << "already fired";
    blocker.send(0);

    auto stopped = gort::time::after_func(50ms, [ran] { ran.send(2); });
    EXPECT_TRUE(stopped.stop());
    EXPECT_TRUE(stopped.reset(1ms) == false) << "reset of a stopped timer: was not pending";
    EXPECT_EQ(ran.recv(), 2) << "reset re-arms it";
    gort::time::sleep(3ms);
    EXPECT_EQ(ran.len(), 0u) << "once per arming";
  });
}
