// select_test: gort::select — fairness among ready cases, default, nil channels, send and
// receive cases on one channel, wake-up by send, receive and close, move-only values,
// blocking from a plain thread, and the panics of Go's select.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chan/chan_testing.hpp"
#include "gort/gort.hpp"

using namespace std::chrono_literals;
using chan_testing::eventually;
using chan_testing::procs_scope;

TEST(Select, TwoAlwaysReadyCasesAreChosenFairly) {
  gort::run([] {
    constexpr int kRounds = 100000;
    // Closed channels are always ready.
    auto a = gort::make_chan<int>();
    auto b = gort::make_chan<int>();
    a.close();
    b.close();
    int wins[2] = {0, 0};
    for (int i = 0; i < kRounds; i++)
      gort::select(gort::case_recv(a, [&] { wins[0]++; }), gort::case_recv(b, [&] { wins[1]++; }));
    EXPECT_EQ(wins[0] + wins[1], kRounds);
    EXPECT_GE(wins[0], kRounds * 45 / 100);
    EXPECT_LE(wins[0], kRounds * 55 / 100);

    // Buffered channels kept non-empty, and a send case against a receive case.
    auto c = gort::make_chan<int>(1);
    auto d = gort::make_chan<int>(1);
    c.send(0);
    int sends = 0, recvs = 0;
    for (int i = 0; i < kRounds; i++) {
      int n = gort::select(gort::case_recv(c, [&](int v) { recvs++, c.send(v); }),
                           gort::case_send(d, i, [&] { sends++, d.recv(); }));
      ASSERT_TRUE(n == 0 || n == 1);
    }
    EXPECT_GE(recvs, kRounds * 45 / 100);
    EXPECT_LE(recvs, kRounds * 55 / 100);
    EXPECT_EQ(sends + recvs, kRounds);
  });
}

TEST(Select, ReturnsThePositionOfTheCaseThatRan) {
  gort::run([] {
    auto a = gort::make_chan<int>(1);
    auto b = gort::make_chan<int>(1);
    b.send(5);
    int got = 0;
    EXPECT_EQ(gort::select(gort::case_recv(a), gort::case_default(), gort::case_recv(b, [&](int v) {
                             got = v;
                           })),
              2);
    EXPECT_EQ(got, 5);
    EXPECT_EQ(gort::select(gort::case_recv(a), gort::case_default()), 1);
    EXPECT_EQ(gort::select(gort::case_default()), 0);
  });
}

TEST(Select, DefaultNeverBlocks) {
  gort::run([] {
    auto unbuffered = gort::make_chan<int>();
    auto full = gort::make_chan<int>(1);
    full.send(1);
    gort::chan<int> nil;
    int defaults = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10000; i++) {
      gort::select(gort::case_recv(unbuffered), gort::case_send(unbuffered, 1),
                   gort::case_send(full, 2), gort::case_recv(nil), gort::case_send(nil, 3),
                   gort::case_default([&] { defaults++; }));
    }
    EXPECT_EQ(defaults, 10000);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_EQ(full.recv(), 1);
  });
}

TEST(Select, NilChannelsNeverFire) {
  gort::run([] {
    chan_testing::goroutines gs;
    gort::chan<int> nil;
    auto c = gort::make_chan<int>();
    gs.go([c] {
      gort::time::sleep(2ms);
      c.send(9);
    });
    int got = 0;
    for (int i = 0; i < 1; i++) {
      int n = gort::select(gort::case_recv(nil, [&] { got = -1; }), gort::case_send(nil, 1),
                           gort::case_recv(c, [&](int v) { got = v; }));
      EXPECT_EQ(n, 2);
    }
    EXPECT_EQ(got, 9);
  });
}

TEST(Select, BlocksUntilASendArrives) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto a = gort::make_chan<std::string>();
    auto b = gort::make_chan<std::string>();
    gs.go([b] {
      gort::time::sleep(3ms);
      b.send("hello");
    });
    std::string got;
    int n = gort::select(gort::case_recv(a, [&](std::string s) { got = "a:" + s; }),
                         gort::case_recv(b, [&](std::string s) { got = "b:" + s; }));
    EXPECT_EQ(n, 1);
    EXPECT_EQ(got, "b:hello");
    // The losing case's waiter was dequeued: a later sender on a finds no stale receiver.
    EXPECT_FALSE(a.try_send("x"));
  });
}

// More cases than the runtime keeps on the stack (8): the poll/lock orders and the waiters
// of a blocking select come from the heap, and every case still works.
TEST(Select, TenCasesBlockAndWakeOnTheLastOne) {
  gort::run([] {
    chan_testing::goroutines gs;
    std::vector<gort::chan<int>> cs;
    for (int i = 0; i < 10; i++) cs.push_back(gort::make_chan<int>());
    for (int round = 0; round < 10; round++) {
      gs.go([c = cs[size_t(round)], round] {
        gort::time::sleep(1ms);
        c.send(100 + round);
      });
      int got = -1;
      auto on = [&](int v) { got = v; };
      int n = gort::select(gort::case_recv(cs[0], on), gort::case_recv(cs[1], on),
                           gort::case_recv(cs[2], on), gort::case_recv(cs[3], on),
                           gort::case_recv(cs[4], on), gort::case_recv(cs[5], on),
                           gort::case_recv(cs[6], on), gort::case_recv(cs[7], on),
                           gort::case_recv(cs[8], on), gort::case_recv(cs[9], on));
      EXPECT_EQ(n, round);
      EXPECT_EQ(got, 100 + round);
    }
    // Every losing waiter was dequeued: no channel has a stale receiver left.
    for (auto& c : cs) EXPECT_FALSE(c.try_send(1));
  });
}

TEST(Select, BlockedSendCaseIsTakenByAReceiver) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto a = gort::make_chan<std::unique_ptr<int>>();
    auto b = gort::make_chan<std::unique_ptr<int>>();
    auto pa = std::make_unique<int>(1);
    auto pb = std::make_unique<int>(2);
    gs.go([b] {
      gort::time::sleep(2ms);
      auto p = b.recv();
      EXPECT_EQ(*p, 2);
    });
    int n = gort::select(gort::case_send(a, std::move(pa)), gort::case_send(b, std::move(pb)));
    EXPECT_EQ(n, 1);
    // Only the value that was sent was moved from.
    ASSERT_NE(pa, nullptr);
    EXPECT_EQ(*pa, 1);
    EXPECT_EQ(pb, nullptr);
  });
}

TEST(Select, SendAndReceiveOnTheSameChannel) {
  gort::run([] {
    chan_testing::goroutines gs;
    // Buffered: an empty buffer admits the send, a full one the receive.
    auto c = gort::make_chan<int>(1);
    for (int i = 0; i < 100; i++) {
      bool had = c.len() == 1;
      int n = gort::select(gort::case_send(c, i), gort::case_recv(c));
      EXPECT_EQ(n, had ? 1 : 0);
    }
    // Unbuffered: a select blocked on both sides of one channel is matched by a partner's
    // receive or send, never by itself.
    auto u = gort::make_chan<int>();
    std::atomic<int> partner_got{0};
    gs.go([u, &partner_got] {
      for (int i = 0; i < 100; i++) {
        if (i % 2 == 0)
          partner_got += u.recv();
        else
          u.send(1000);
      }
    });
    int sent = 0, received = 0;
    for (int i = 0; i < 100; i++) {
      gort::select(gort::case_send(u, 1, [&] { sent++; }),
                   gort::case_recv(u, [&](int v) {
                     EXPECT_EQ(v, 1000);
                     received++;
                   }));
    }
    EXPECT_EQ(sent, 50);
    EXPECT_EQ(received, 50);
    eventually([&] { return partner_got.load() == 50; });
  });
}

TEST(Select, SameChannelInSeveralCases) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto c = gort::make_chan<int>();
    int hits[3] = {0, 0, 0};
    gs.go([c] {
      for (int i = 0; i < 3000; i++) c.send(i);
    });
    for (int i = 0; i < 3000; i++) {
      gort::select(gort::case_recv(c, [&] { hits[0]++; }), gort::case_recv(c, [&] { hits[1]++; }),
                   gort::case_recv(c, [&] { hits[2]++; }));
    }
    EXPECT_EQ(hits[0] + hits[1] + hits[2], 3000);
    for (int h : hits) EXPECT_GT(h, 600);
  });
}

TEST(Select, CloseWakesAReceiveCase) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto a = gort::make_chan<int>();
    auto done = gort::make_chan<int>();
    gs.go([done] {
      gort::time::sleep(2ms);
      done.close();
    });
    bool ok = true;
    int v = -1;
    int n = gort::select(gort::case_recv(a),
                         gort::case_recv(done, [&](int x, bool o) { v = x, ok = o; }));
    EXPECT_EQ(n, 1);
    EXPECT_FALSE(ok);
    EXPECT_EQ(v, 0);
  });
}

TEST(Select, SendCaseOnClosedChannelPanics) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto c = gort::make_chan<int>(1);
    auto other = gort::make_chan<int>();
    c.close();
    try {
      gort::select(gort::case_send(c, 1), gort::case_recv(other));
      ADD_FAILURE() << "no panic";
    } catch (const gort::runtime_error& e) {
      EXPECT_STREQ(e.what(), "send on closed channel");
    }
    // A send case parked when the close comes panics too.
    auto d = gort::make_chan<int>();
    gs.go([d] {
      gort::time::sleep(2ms);
      d.close();
    });
    try {
      gort::select(gort::case_send(d, 1), gort::case_recv(other));
      ADD_FAILURE() << "no panic";
    } catch (const gort::runtime_error& e) {
      EXPECT_STREQ(e.what(), "send on closed channel");
    }
  });
}

TEST(Select, TimersInSelect) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto never = gort::make_chan<int>();
    auto t0 = std::chrono::steady_clock::now();
    bool timed_out = false;
    gort::select(gort::case_recv(never), gort::case_recv(gort::time::after(5ms), [&] {
                   timed_out = true;
                 }));
    EXPECT_TRUE(timed_out);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);

    // A value that arrives first beats the timer.
    auto c = gort::make_chan<int>();
    gs.go([c] { c.send(1); });
    int n = gort::select(gort::case_recv(c), gort::case_recv(gort::time::after(10s)));
    EXPECT_EQ(n, 0);

    // A ticker in a loop: five ticks come, however loaded the machine (a fixed window
    // failed under a parallel ctest), and no faster than one per period.
    auto start = std::chrono::steady_clock::now();
    gort::time::ticker tk(1ms);
    int ticks = 0;
    bool gave_up = false;
    auto stop = gort::time::after(10s);
    while (ticks < 5 && !gave_up) {
      gort::select(gort::case_recv(tk.c, [&] { ticks++; }),
                   gort::case_recv(stop, [&] { gave_up = true; }));
    }
    tk.stop();
    EXPECT_EQ(ticks, 5);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 5ms);
  });
}

TEST(Select, FromAPlainThread) {
  gort::run([] {
    auto a = gort::make_chan<int>();
    auto b = gort::make_chan<int>();
    std::atomic<int> got{0};
    std::thread t([&] {
      // Blocks the thread (not a goroutine) until a goroutine sends.
      gort::select(gort::case_recv(a, [&](int v) { got = v; }),
                   gort::case_recv(b, [&](int v) { got = -v; }));
    });
    gort::time::sleep(2ms);
    b.send(7);
    t.join();
    EXPECT_EQ(got.load(), -7);
  });
}

TEST(Select, ManySelectorsAndSenders) {
  gort::run([] {
    procs_scope procs(4);
    constexpr int kChans = 4, kPerChan = 20000;
    gort::chan<int> chans[kChans];
    for (auto& c : chans) c = gort::make_chan<int>(int(&c - chans) % 2);  // mixed capacities
    std::atomic<long> sum{0};
    std::atomic<int> count{0};
    gort::sync::wait_group senders, receivers;
    for (int k = 0; k < kChans; k++) {
      senders.go([&, k] {
        for (int i = 1; i <= kPerChan; i++) chans[k].send(i);
      });
    }
    auto quit = gort::make_chan<int>();
    for (int r = 0; r < 3; r++) {
      receivers.go([&] {
        for (bool done = false; !done;) {
          auto add = [&](int v) { sum += v, count++; };
          gort::select(gort::case_recv(chans[0], add), gort::case_recv(chans[1], add),
                       gort::case_recv(chans[2], add), gort::case_recv(chans[3], add),
                       gort::case_recv(quit, [&] { done = true; }));
        }
      });
    }
    senders.wait();
    eventually([&] { return count.load() == kChans * kPerChan; });
    quit.close();
    receivers.wait();
    EXPECT_EQ(sum.load(), long(kChans) * kPerChan * (kPerChan + 1) / 2);
  });
}
