// chan_death_test: how channel misuse ends a program, as in Go — the global deadlock
// (exit 2, "fatal error: all goroutines are asleep - deadlock!", each goroutine with its
// channel wait reason) and unrecovered channel panics. Each body runs a whole gort::run in
// the death test's child process.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "death_testing.hpp"
#include "gort/gort.hpp"

using namespace std::chrono_literals;

namespace {

using death_testing::has_all;

// A child that should report a deadlock but misses it would hang: SIGALRM ends it.
void arm_watchdog() { alarm(10); }

void recv_on_nil_channel() {
  arm_watchdog();
  gort::run([] {
    gort::chan<int> nil;
    nil.recv();
  });
}

void send_on_nil_channel() {
  arm_watchdog();
  gort::run([] {
    gort::chan<int> nil;
    nil.send(1);
  });
}

void empty_select() {
  arm_watchdog();
  gort::run([] {
    gort::select();
  });
}

void everyone_blocked_on_channels() {
  arm_watchdog();
  gort::run([] {
    auto a = gort::make_chan<int>();
    auto b = gort::make_chan<int>(1);
    auto d = gort::make_chan<int>();
    b.send(1);
    gort::go([a] { a.recv(); });     // [chan receive]
    gort::go([b] { b.send(2); });    // [chan send]: the buffer is full
    gort::go([b, d] { gort::select(gort::case_recv(d), gort::case_send(b, 3)); });  // [select]
    gort::time::sleep(2ms);
    gort::make_chan<int>().send(0);  // main: [chan send], nobody to pair with
  });
}

void unrecovered_send_on_closed_channel() {
  gort::debug::set_max_stack(1 << 20);  // room for the traceback (see fatal_test.cpp)
  gort::run([] {
    auto c = gort::make_chan<int>(1);
    c.close();
    gort::go([c] { c.send(1); });
    gort::time::sleep(5s);
  });
}

void unrecovered_close_of_nil_channel() {
  gort::run([] {
    gort::chan<int> nil;
    nil.close();
  });
}

}  // namespace

TEST(ChanDeathTest, DeadlockOnNilChannelReceive) {
  EXPECT_EXIT(recv_on_nil_channel(), testing::ExitedWithCode(2),
              "^fatal error: all goroutines are asleep - deadlock!\n.*"
              "goroutine 1 \\[chan receive \\(nil chan\\)\\]:");
}

TEST(ChanDeathTest, DeadlockOnNilChannelSend) {
  EXPECT_EXIT(send_on_nil_channel(), testing::ExitedWithCode(2),
              "^fatal error: all goroutines are asleep - deadlock!\n.*"
              "goroutine 1 \\[chan send \\(nil chan\\)\\]:");
}

TEST(ChanDeathTest, DeadlockInSelectWithNoCases) {
  EXPECT_EXIT(empty_select(), testing::ExitedWithCode(2),
              "^fatal error: all goroutines are asleep - deadlock!\n.*"
              "goroutine 1 \\[select \\(no cases\\)\\]:");
}

TEST(ChanDeathTest, DeadlockShowsEachGoroutinesChannelWait) {
  EXPECT_EXIT(everyone_blocked_on_channels(), testing::ExitedWithCode(2),
              has_all({"^fatal error: all goroutines are asleep - deadlock!\n",
                       "goroutine 1 \\[chan send\\]:",
                       "goroutine [0-9]+ \\[chan receive\\]:",
                       "goroutine [0-9]+ \\[chan send\\]:(.|\n)*goroutine [0-9]+ \\[chan send\\]:",
                       "goroutine [0-9]+ \\[select\\]:"}));
}

TEST(ChanDeathTest, UnrecoveredSendOnClosedChannel) {
  EXPECT_EXIT(unrecovered_send_on_closed_channel(), testing::ExitedWithCode(2),
              "^panic: send on closed channel\n\ngoroutine [0-9]+ \\[running\\]:");
}

TEST(ChanDeathTest, UnrecoveredCloseOfNilChannel) {
  EXPECT_EXIT(unrecovered_close_of_nil_channel(), testing::ExitedWithCode(2),
              "^panic: close of nil channel\n\ngoroutine 1 \\[running\\]:");
}
