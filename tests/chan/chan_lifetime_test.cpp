// chan_lifetime_test: a goroutine woken from a blocked channel operation may drop the last
// handle to the channel at once, while the thread that parked it may still be finishing
// the park (unlocking the channel on the goroutine's behalf). Channel locks unlock with a
// plain store and then look at the lock again (os/lock.hpp), so the woken goroutine must
// not go on before that park is over (chan/chan.hpp: waiter::parking). Run under ASan,
// where gort's allocator poisons a freed channel: with the wait removed and a delay put
// after the unlock's store, it reported the commit's look as a use-after-poison in 3 of 4
// runs (each time in the plain-thread test, whose waker runs on a core of its own). The
// race window is a few instructions, so without such a delay these are stress tests.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <utility>

#include "chan/chan_testing.hpp"
#include "gort/gort.hpp"

using chan_testing::procs_scope;

namespace {

#if defined(GORT_TSAN)
constexpr int kPairs = 8;
constexpr int kRounds = 300;
#else
constexpr int kPairs = 16;
constexpr int kRounds = 2000;
#endif

// Drops a handle now (the last one, if its peer dropped its own first).
template <class C>
void drop(C& c) {
  C gone = std::move(c);
}

// Runs round(i) for i < kRounds in each of kPairs goroutines, on 4 Ps.
template <class F>
void in_parallel_rounds(F round) {
  gort::run([&] {
    procs_scope procs(4);
    gort::sync::wait_group wg;
    for (int p = 0; p < kPairs; p++) {
      wg.go([&] {
        for (int i = 0; i < kRounds; i++) round(i);
      });
    }
    wg.wait();
  });
}

}  // namespace

TEST(ChanLifetime, AGoroutineWokenFromAReceiveMayFreeTheChannelAtOnce) {
  in_parallel_rounds([](int i) {
    auto c = gort::make_chan<int>();
    gort::go([c, i]() mutable {
      c.send(i);
      drop(c);
    });
    EXPECT_EQ(c.recv(), i);
    drop(c);
  });
}

TEST(ChanLifetime, AGoroutineWokenFromASendMayFreeTheChannelAtOnce) {
  in_parallel_rounds([](int i) {
    auto c = gort::make_chan<int>();
    gort::go([c, i]() mutable {
      EXPECT_EQ(c.recv(), i);
      drop(c);
    });
    c.send(i);
    drop(c);
  });
}

TEST(ChanLifetime, AGoroutineWokenFromASelectMayFreeItsChannelsAtOnce) {
  in_parallel_rounds([](int i) {
    auto a = gort::make_chan<int>();
    auto b = gort::make_chan<int>();
    gort::go([b, i]() mutable {
      b.send(i);
      drop(b);
    });
    int got = -1;
    int n = gort::select(gort::case_recv(a, [&](int v) { got = v; }),
                         gort::case_recv(b, [&](int v) { got = v; }));
    EXPECT_EQ(n, 1);
    EXPECT_EQ(got, i);
    drop(a);
    drop(b);
  });
}

TEST(ChanLifetime, GoroutinesWokenByCloseMayFreeTheChannelAtOnce) {
  in_parallel_rounds([](int) {
    auto c = gort::make_chan<int>();
    gort::go([c]() mutable {
      c.close();
      drop(c);
    });
    auto [v, ok] = c.recv_ok();
    EXPECT_FALSE(ok);
    EXPECT_EQ(v, 0);
    drop(c);
  });
}

// The waker is a plain thread, on a core of its own when there is one, so that it takes the
// lock while the parking thread is still in the commit's unlock, and the woken goroutine
// runs on a third thread (an idle M) at once. The waker holds a handle for its send, as
// the API requires, and drops it right after, so the goroutine's is often the last.
TEST(ChanLifetime, AGoroutineWokenByAPlainThreadMayFreeTheChannelAtOnce) {
  gort::run([] {
    procs_scope procs(4);
    constexpr int kOps = kPairs * kRounds;
    std::atomic<gort::chan<int>*> next{nullptr};
    std::thread waker([&] {
      for (int i = 0; i < kOps; i++) {
        gort::chan<int>* c;
        int spins = 0;
        while ((c = next.exchange(nullptr, std::memory_order_acquire)) == nullptr)
          if (++spins > 64) std::this_thread::yield();
        c->send(i);
        delete c;
      }
    });
    for (int i = 0; i < kOps; i++) {
      auto c = gort::make_chan<int>();
      next.store(new gort::chan<int>(c), std::memory_order_release);
      EXPECT_EQ(c.recv(), i);
      drop(c);
    }
    waker.join();
  });
}
