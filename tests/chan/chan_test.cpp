// chan_test: gort::chan — send/receive, buffering and FIFO order, close, nil channels, the
// v, ok forms, directional views, range-for, move-only and empty element types, value
// lifetimes, and channels used from plain threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chan/chan_testing.hpp"
#include "gort/gort.hpp"

using namespace std::chrono_literals;
using chan_testing::eventually;
using chan_testing::procs_scope;

namespace {

// Counts live objects so that tests can check every value is destroyed exactly once.
struct tracked {
  static inline std::atomic<int> live{0};
  static inline std::atomic<int> destroyed{0};
  int v = 0;
  bool moved_from = false;
  tracked() { live++; }
  explicit tracked(int x) : v(x) { live++; }
  tracked(const tracked& o) : v(o.v) { live++; }
  tracked(tracked&& o) noexcept : v(o.v) {
    o.moved_from = true;
    live++;
  }
  tracked& operator=(const tracked&) = default;
  tracked& operator=(tracked&&) = default;
  ~tracked() {
    live--;
    destroyed++;
  }
};

struct empty {};

template <class C>
concept can_send = requires(C c) { c.send(1); };
template <class C>
concept can_recv = requires(C c) { c.recv(); };
template <class C>
concept can_close = requires(C c) { c.close(); };

std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const gort::runtime_error& e) {
    return e.what();
  }
  return "(no panic)";
}

}  // namespace

TEST(Chan, UnbufferedHandoff) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto c = gort::make_chan<int>();
    EXPECT_EQ(c.cap(), 0);
    gs.go([c] {
      for (int i = 0; i < 1000; i++) c.send(i);
    });
    for (int i = 0; i < 1000; i++) ASSERT_EQ(c.recv(), i);
  });
}

TEST(Chan, BufferedValuesComeOutInFifoOrder) {
  gort::run([] {
    auto c = gort::make_chan<int>(100);
    for (int i = 0; i < 100; i++) c.send(i);
    EXPECT_EQ(c.len(), 100);
    EXPECT_EQ(c.cap(), 100);
    for (int i = 0; i < 50; i++) ASSERT_EQ(c.recv(), i);
    // Wrap around the ring.
    for (int i = 100; i < 150; i++) c.send(i);
    for (int i = 50; i < 150; i++) ASSERT_EQ(c.recv(), i);
    EXPECT_EQ(c.len(), 0);
  });
}

TEST(Chan, BlockedSendersAreServedInFifoOrder) {
  gort::run([] {
    chan_testing::goroutines gs;
    procs_scope one(1);  // deterministic: each sender parks before the next starts
    auto c = gort::make_chan<int>(2);
    c.send(-2);
    c.send(-1);
    std::atomic<int> parked{0};
    for (int i = 0; i < 10; i++) {
      gs.go([c, i, &parked] {
        parked++;
        c.send(i);
      });
      eventually([&] { return parked.load() == i + 1; });
      gort::yield();  // let it reach its park
    }
    // The buffer comes first, then the senders' values in the order they blocked.
    for (int want = -2; want < 10; want++) ASSERT_EQ(c.recv(), want);
  });
}

TEST(Chan, BlockedReceiversAreServedInFifoOrder) {
  gort::run([] {
    chan_testing::goroutines gs;
    procs_scope one(1);
    auto c = gort::make_chan<int>();
    auto order = gort::make_chan<int>(10);
    std::atomic<int> started{0};
    for (int i = 0; i < 10; i++) {
      gs.go([c, order, i, &started] {
        started++;
        int v = c.recv();
        order.send(i * 100 + v);
      });
      eventually([&] { return started.load() == i + 1; });
      gort::yield();
    }
    for (int v = 0; v < 10; v++) c.send(v);
    // Receiver i (the i-th to block) got value i.
    std::vector<int> got;
    for (int i = 0; i < 10; i++) got.push_back(order.recv());
    std::sort(got.begin(), got.end());
    for (int i = 0; i < 10; i++) EXPECT_EQ(got[i], i * 100 + i);
  });
}

TEST(Chan, ReceiveAfterCloseDrainsThenReportsNotOk) {
  gort::run([] {
    auto c = gort::make_chan<int>(3);
    c.send(1);
    c.send(2);
    c.close();
    auto [v1, ok1] = c.recv_ok();
    EXPECT_EQ(v1, 1);
    EXPECT_TRUE(ok1);
    EXPECT_EQ(c.recv(), 2);
    auto [v3, ok3] = c.recv_ok();
    EXPECT_EQ(v3, 0);
    EXPECT_FALSE(ok3);
    EXPECT_EQ(c.recv(), 0);
    EXPECT_FALSE(c.recv_opt().has_value());
    EXPECT_FALSE(c.try_recv().has_value());
  });
}

TEST(Chan, CloseWakesEveryReceiverAndEverySenderPanics) {
  gort::run([] {
    auto c = gort::make_chan<int>();
    std::atomic<int> not_ok{0}, panicked{0}, blocked{0};
    gort::sync::wait_group wg;
    for (int i = 0; i < 5; i++) {
      wg.go([&] {
        blocked++;
        auto [v, ok] = c.recv_ok();
        if (!ok && v == 0) not_ok++;
      });
    }
    eventually([&] { return blocked.load() == 5; });
    gort::time::sleep(2ms);
    c.close();
    wg.wait();
    EXPECT_EQ(not_ok.load(), 5);

    auto d = gort::make_chan<tracked>();
    blocked = 0;
    for (int i = 0; i < 5; i++) {
      wg.go([&, i] {
        tracked t(i);
        blocked++;
        try {
          d.send(std::move(t));
        } catch (const gort::runtime_error& e) {
          if (std::string(e.what()) == "send on closed channel" && !t.moved_from) panicked++;
        }
      });
    }
    eventually([&] { return blocked.load() == 5; });
    gort::time::sleep(2ms);
    d.close();
    wg.wait();
    EXPECT_EQ(panicked.load(), 5);
  });
  EXPECT_EQ(tracked::live.load(), 0);
}

TEST(Chan, MisusePanicsWithGosText) {
  gort::run([] {
    auto c = gort::make_chan<int>(1);
    c.close();
    EXPECT_EQ(what_of([&] { c.send(1); }), "send on closed channel");
    EXPECT_EQ(what_of([&] { c.try_send(1); }), "send on closed channel");
    EXPECT_EQ(what_of([&] { c.close(); }), "close of closed channel");
    gort::chan<int> nil;
    EXPECT_EQ(what_of([&] { nil.close(); }), "close of nil channel");
    EXPECT_EQ(what_of([] { gort::make_chan<int>(-1); }), "makechan: size out of range");
  });
}

TEST(Chan, NilChannel) {
  gort::run([] {
    gort::chan<int> nil;
    EXPECT_FALSE(nil);
    EXPECT_TRUE(nil == nullptr);
    EXPECT_EQ(nil.len(), 0);
    EXPECT_EQ(nil.cap(), 0);
    EXPECT_FALSE(nil.try_send(1));
    EXPECT_FALSE(nil.try_recv().has_value());
    // A blocking operation on nil parks for good; the program goes on around it.
    std::atomic<bool> returned{false};
    gort::go([nil, &returned] {
      nil.recv();
      returned = true;
    });
    gort::go([nil, &returned] {
      nil.send(1);
      returned = true;
    });
    gort::time::sleep(5ms);
    EXPECT_FALSE(returned.load());
  });
}

TEST(Chan, CopiesShareOneChannel) {
  gort::run([] {
    auto a = gort::make_chan<int>(1);
    gort::chan<int> b = a;
    EXPECT_TRUE(a == b);
    EXPECT_FALSE(a == gort::make_chan<int>(1));
    a.send(7);
    EXPECT_EQ(b.len(), 1);
    EXPECT_EQ(b.recv(), 7);
    gort::chan<int> m = std::move(b);
    EXPECT_TRUE(b == nullptr);
    EXPECT_TRUE(m == a);
  });
}

TEST(Chan, DirectionalViews) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto c = gort::make_chan<std::string>(4);
    gort::send_chan<std::string> out = c;
    gort::recv_chan<std::string> in = c;
    static_assert(!can_send<gort::recv_chan<int>>);
    static_assert(!can_close<gort::recv_chan<int>>);
    static_assert(!can_recv<gort::send_chan<int>>);
    static_assert(can_send<gort::send_chan<int>> && can_close<gort::send_chan<int>>);
    static_assert(can_recv<gort::recv_chan<int>> && can_send<gort::chan<int>>);
    gs.go([out] {
      out.send("a");
      out.send(std::string("b"));
      out.close();
    });
    std::string all;
    for (auto& s : in) all += s;
    EXPECT_EQ(all, "ab");
    EXPECT_EQ(out.cap(), 4);
    EXPECT_TRUE(c.send_only() == c);
  });
}

TEST(Chan, RangeForReceivesUntilClosedAndDrained) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto c = gort::make_chan<int>(8);
    gs.go([c] {
      for (int i = 1; i <= 100; i++) c.send(i);
      c.close();
    });
    int sum = 0, n = 0;
    for (int v : c) {
      sum += v;
      n++;
    }
    EXPECT_EQ(n, 100);
    EXPECT_EQ(sum, 5050);
  });
}

TEST(Chan, TrySendAndTryRecv) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto c = gort::make_chan<int>(1);
    EXPECT_FALSE(c.try_recv().has_value());
    EXPECT_TRUE(c.try_send(1));
    EXPECT_FALSE(c.try_send(2));
    EXPECT_EQ(c.try_recv(), std::optional<int>(1));
    auto u = gort::make_chan<int>();
    EXPECT_FALSE(u.try_send(1));  // no receiver
    // A parked receiver makes try_send succeed.
    std::atomic<int> got{0};
    gs.go([u, &got] { got = u.recv(); });
    eventually([&] { return u.try_send(42); });
    eventually([&] { return got.load() == 42; });
  });
}

TEST(Chan, MoveOnlyValues) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto c = gort::make_chan<std::unique_ptr<int>>();
    gs.go([c] {
      for (int i = 0; i < 10; i++) c.send(std::make_unique<int>(i));
      c.close();
    });
    int sum = 0;
    for (auto& p : c) sum += *p;
    EXPECT_EQ(sum, 45);

    auto b = gort::make_chan<std::unique_ptr<int>>(2);
    auto p = std::make_unique<int>(5);
    EXPECT_TRUE(b.try_send(std::move(p)));
    EXPECT_EQ(p, nullptr);
    auto q = std::make_unique<int>(6);
    EXPECT_TRUE(b.try_send(std::move(q)));
    auto r = std::make_unique<int>(7);
    EXPECT_FALSE(b.try_send(std::move(r)));  // full: r is left untouched
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(*r, 7);
    EXPECT_EQ(*b.recv(), 5);
    auto opt = b.recv_opt();
    ASSERT_TRUE(opt.has_value());
    EXPECT_EQ(**opt, 6);
  });
}

TEST(Chan, EmptyElementType) {
  gort::run([] {
    chan_testing::goroutines gs;
    auto c = gort::make_chan<empty>(1000000);  // no buffer storage for an empty type
    for (int i = 0; i < 1000; i++) c.send(empty{});
    EXPECT_EQ(c.len(), 1000);
    for (int i = 0; i < 1000; i++) c.recv();
    auto done = gort::make_chan<empty>();
    gs.go([done] { done.close(); });
    auto [v, ok] = done.recv_ok();
    (void)v;
    EXPECT_FALSE(ok);
  });
}

TEST(Chan, EveryValueIsDestroyedExactlyOnce) {
  tracked::live = 0;
  tracked::destroyed = 0;
  gort::run([] {
    auto buffered = gort::make_chan<tracked>(16);
    auto unbuffered = gort::make_chan<tracked>();
    gort::sync::wait_group wg;
    wg.go([&] {
      for (int i = 0; i < 200; i++) buffered.send(tracked(i));
    });
    wg.go([&] {
      for (int i = 0; i < 200; i++) unbuffered.send(tracked(i));
    });
    long sum = 0;
    for (int i = 0; i < 200; i++) sum += buffered.recv().v + unbuffered.recv().v;
    wg.wait();
    EXPECT_EQ(sum, 2 * 199 * 200 / 2);
    // Values left in a buffer die with the channel.
    for (int i = 0; i < 10; i++) buffered.send(tracked(i));
  });
  EXPECT_EQ(tracked::live.load(), 0);
}

TEST(Chan, PlainThreadAndGoroutineTalk) {
  std::atomic<long> sum{0};
  gort::run([&] {
    auto c = gort::make_chan<int>();
    auto back = gort::make_chan<int>();
    std::thread t([c, back] {
      // A plain thread blocks in the channel operations.
      for (int i = 0; i < 1000; i++) c.send(i);
      c.close();
      back.send(back.recv() + 1);
    });
    for (int v : c) sum += v;
    back.send(41);
    EXPECT_EQ(back.recv(), 42);
    t.join();
  });
  EXPECT_EQ(sum.load(), 999 * 1000 / 2);
}

TEST(Chan, PlainThreadsWithoutARun) {
  auto c = gort::make_chan<int>();
  std::thread t([c] {
    for (int i = 0; i < 1000; i++) c.send(i);
    c.close();
  });
  long sum = 0;
  for (int v : c) sum += v;
  t.join();
  EXPECT_EQ(sum, 999 * 1000 / 2);
}
