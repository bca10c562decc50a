// fp_control_test: each goroutine keeps its own floating-point control state (the SSE
// MXCSR's control bits and the x87 control word, which the x86-64 ABI makes callee-saved)
// across every switch, whichever thread resumes it, and a goroutine that ends does not
// pass its state on to the next one to run on its thread (src/sched/context_x86_64.S).
#include <gtest/gtest.h>
#include <xmmintrin.h>

#include <atomic>
#include <cfenv>
#include <cstdint>

#include "gort/gort.hpp"
#include "procs_guard.hpp"

using namespace std::chrono_literals;

namespace {

// MXCSR without its sticky exception flags (bits 0-5, caller-saved by the ABI).
constexpr std::uint32_t kMxcsrControl = 0xFFC0;
constexpr std::uint32_t kDefaultMxcsr = 0x1F80;  // all masked, round to nearest
constexpr std::uint16_t kDefaultX87 = 0x037F;    // all masked, extended precision, nearest
constexpr std::uint32_t kFlushToZero = 0x8000;
constexpr std::uint16_t kX87SinglePrecision = kDefaultX87 & ~0x0300;  // precision bits 8-9: 00

std::uint32_t mxcsr_control() { return _mm_getcsr() & kMxcsrControl; }

std::uint16_t x87_control() {
  std::uint16_t cw;
  __asm__ volatile("fnstcw %0" : "=m"(cw));
  return cw;
}

void set_x87_control(std::uint16_t cw) { __asm__ volatile("fldcw %0" : : "m"(cw)); }

// 1/3 in float, rounded by the current SSE rounding mode.
float third() {
  volatile float one = 1.0f, three = 3.0f;
  return one / three;
}

}  // namespace

TEST(FloatingPointControl, EachGoroutineKeepsItsRoundingModeAcrossSwitches) {
  procs_guard pg;
  std::atomic<int> wrong{0};
  gort::run([&] {
    gort::gomaxprocs(2);
    constexpr int kModes[] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
    gort::chan<int> baton = gort::make_chan<int>();
    gort::sync::wait_group wg;
    for (int i = 0; i < 8; i++) {
      wg.go([&, i, mode = kModes[i % 4], relay = i < 2] {
        std::fesetround(mode);
        std::uint32_t mx = mxcsr_control();
        std::uint16_t cw = x87_control();
        float expect = third();
        for (int k = 0; k < 2000; k++) {
          if (k % 64 == 0) {
            gort::time::sleep(10us);  // parked, maybe resumed on the other thread
          } else if (relay) {
            // Two goroutines (round to nearest and downward) hand a value back and forth:
            // each parks on the channel and is readied by the other.
            if (i == 0) baton.send(k); else baton.recv();
          } else {
            gort::yield();
          }
          if (std::fegetround() != mode || mxcsr_control() != mx || x87_control() != cw ||
              third() != expect)
            wrong++;
        }
      });
    }
    wg.wait();
    // The main goroutine never changed its own.
    EXPECT_EQ(mxcsr_control(), kDefaultMxcsr);
    EXPECT_EQ(x87_control(), kDefaultX87);
  });
  EXPECT_EQ(wrong.load(), 0);
}

TEST(FloatingPointControl, AnEndedGoroutinesStateDoesNotPassToTheNext) {
  procs_guard pg;
  std::atomic<int> wrong{0};
  gort::run([&] {
    gort::gomaxprocs(1);
    for (int round = 0; round < 100; round++) {
      gort::sync::wait_group wg;
      wg.add(2);
      // Ends with rounding upward, flush-to-zero and single precision set, half of them
      // through goexit. The goroutine it starts last thing runs next on the one P, on the
      // same thread, straight after it ends.
      gort::go([&, exit_early = round % 2 == 1] {
        gort::defer done = [&] { wg.done(); };
        std::fesetround(FE_UPWARD);
        _mm_setcsr(_mm_getcsr() | kFlushToZero);
        set_x87_control(kX87SinglePrecision);
        gort::go([&] {
          if (mxcsr_control() != kDefaultMxcsr || x87_control() != kDefaultX87) wrong++;
          wg.done();
        });
        if (exit_early) gort::goexit();
      });
      wg.wait();
      if (mxcsr_control() != kDefaultMxcsr || x87_control() != kDefaultX87) wrong++;
    }
  });
  EXPECT_EQ(wrong.load(), 0);
}
