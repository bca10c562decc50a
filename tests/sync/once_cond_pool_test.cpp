// once_cond_pool_test: gort::sync::once / once_func / once_value (Go: sync.Once, OnceFunc,
// OnceValue), cond (sync.Cond) and pool (sync.Pool).
//
// Checked: once runs f exactly once and every caller returns only after it finished, a
// throwing f still counts as done, once_func/once_value re-throw f's panic on every call;
// cond's signal wakes the longest waiter and broadcast all, waiting releases and retakes
// the lock, and it works for plain threads over std::mutex; pool returns what was put,
// calls New when empty, keeps objects for one cleanup cycle (the victim cache) and
// destroys them at the next, and destroys what it holds when it goes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sched/sched.hpp"  // gc_start_hooks: a collection cycle for the pool
#include "sync/plain_thread_producer.hpp"

using namespace std::chrono_literals;

namespace {

TEST(Once, RunsOnceAndCallersWaitForIt) {
  std::atomic<int> runs{0};
  std::atomic<int> saw_unfinished{0};
  gort::run([&] {
    gort::sync::once once;
    bool finished = false;  // written by f, read by every caller after call returns
    gort::sync::wait_group wg;
    for (int i = 0; i < 50; i++)
      wg.go([&] {
        once.call([&] {
          runs++;
          gort::time::sleep(2ms);  // the others must wait, not skip ahead
          finished = true;
        });
        if (!finished) saw_unfinished++;
      });
    wg.wait();
    EXPECT_TRUE(once.done());
  });
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(saw_unfinished.load(), 0);
}

TEST(Once, APanickingFunctionCountsAsDone) {
  gort::run([] {
    gort::sync::once once;
    int runs = 0;
    EXPECT_THROW(once.call([&] {
      runs++;
      gort::panic("boom");
    }),
                 gort::panic_error);
    once.call([&] { runs++; });
    EXPECT_EQ(runs, 1);
  });
}

TEST(Once, OnceFuncAndOnceValue) {
  gort::run([] {
    int calls = 0;
    auto f = gort::sync::once_func([&] { calls++; });
    f();
    auto g = f;  // copies share the state
    g();
    EXPECT_EQ(calls, 1);

    int computed = 0;
    auto v = gort::sync::once_value([&] {
      computed++;
      return std::string("config");
    });
    EXPECT_EQ(v(), "config");
    EXPECT_EQ(v(), "config");
    EXPECT_EQ(computed, 1);

    int tries = 0;
    auto bad = gort::sync::once_func([&] {
      tries++;
      throw std::runtime_error("init failed");
    });
    for (int i = 0; i < 3; i++) {
      try {
        bad();
        ADD_FAILURE() << "once_func must re-throw f's panic";
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "init failed");
      }
    }
    EXPECT_EQ(tries, 1);
  });
}

TEST(Cond, SignalWakesTheLongestWaiterFirst) {
  std::vector<int> woke;
  gort::run([&] {
    gort::sync::mutex mu;
    gort::sync::cond c(mu);
    int tickets = 0, waiting = 0;
    gort::sync::wait_group wg;
    // Holding mu with `waiting` at n means the n-th waiter is in c's queue: wait() queues
    // the goroutine before it releases mu (as Go's notifyListAdd comes before Unlock).
    auto until = [&](auto done) {
      for (;;) {
        {
          std::lock_guard lk(mu);
          if (done()) return;
        }
        gort::time::sleep(100us);
      }
    };
    for (int i = 0; i < 3; i++) {
      wg.go([&, i] {
        std::unique_lock lk(mu);
        waiting++;
        while (tickets == 0) c.wait();
        tickets--;
        woke.push_back(i);
      });
      until([&] { return waiting == i + 1; });  // queued in order 0, 1, 2
    }
    for (int i = 0; i < 3; i++) {
      {
        std::lock_guard lk(mu);
        tickets++;
      }
      c.signal();
      until([&] { return woke.size() == size_t(i) + 1; });  // one ticket taken per signal
    }
    wg.wait();
  });
  EXPECT_EQ(woke, (std::vector<int>{0, 1, 2}));
}

TEST(Cond, BroadcastWakesEveryone) {
  int awake = 0;
  gort::run([&] {
    gort::sync::mutex mu;
    gort::sync::cond c(mu);
    bool go = false;
    int waiting = 0;
    gort::sync::wait_group wg;
    for (int i = 0; i < 20; i++)
      wg.go([&] {
        std::unique_lock lk(mu);
        waiting++;
        while (!go) c.wait();
        awake++;
      });
    for (;;) {  // until all 20 wait
      {
        std::lock_guard lk(mu);
        if (waiting == 20) break;
      }
      gort::time::sleep(100us);
    }
    c.signal();  // a signal with nothing changed: the woken one waits again
    {
      std::lock_guard lk(mu);
      go = true;
    }
    c.broadcast();
    wg.wait();
  });
  EXPECT_EQ(awake, 20);
}

TEST(Cond, ProducerConsumerAcrossGoroutinesAndThreads) {
  long sum = 0;
  gort::run([&] { sum = test_workloads::consume_what_a_plain_thread_produces(1000); });
  EXPECT_EQ(sum, 1000L * 1001 / 2);
}

TEST(Cond, PlainThreadsOverStdMutex) {
  std::mutex mu;
  gort::sync::cond c(mu);
  bool ready = false;
  std::thread waiter([&] {
    std::unique_lock lk(mu, std::defer_lock);
    mu.lock();
    while (!ready) c.wait();
    mu.unlock();
  });
  std::this_thread::sleep_for(2ms);
  {
    std::lock_guard lk(mu);
    ready = true;
  }
  c.signal();
  waiter.join();
  SUCCEED();
}

struct counted {
  static inline std::atomic<int> live{0};
  int id;
  explicit counted(int i) : id(i) { live++; }
  ~counted() { live--; }
};

TEST(Pool, ReturnsWhatWasPutAndCallsNewWhenEmpty) {
  gort::run([] {
    int prev = gort::gomaxprocs(1);  // one P: get finds this P's own cache first
    int made = 0;
    gort::sync::pool<counted> p([&] { return std::make_unique<counted>(100 + made++); });
    auto a = p.get();
    EXPECT_EQ(a->id, 100);
    EXPECT_EQ(made, 1);
    counted* raw = a.get();
    p.put(std::move(a));
    auto b = p.get();
    EXPECT_EQ(b.get(), raw) << "get should reuse the object just put";
    EXPECT_EQ(made, 1);
    p.put(nullptr);  // ignored, as Put(nil)
    auto c = p.get();
    EXPECT_EQ(c->id, 101);

    gort::sync::pool<counted> no_new;
    EXPECT_EQ(no_new.get(), nullptr);
    gort::gomaxprocs(prev);
  });
  EXPECT_EQ(counted::live.load(), 0);
}

TEST(Pool, ObjectsSurviveOneCycleInTheVictimCache) {
  gort::run([] {
    gort::sync::pool<counted> p;
    for (int i = 0; i < 10; i++) p.put(std::make_unique<counted>(i));
    EXPECT_EQ(counted::live.load(), 10);
    gort::rt::gc_start_hooks();  // a collection cycle: primary -> victim
    EXPECT_EQ(counted::live.load(), 10);
    auto one = p.get();  // found in the victim cache
    ASSERT_NE(one, nullptr);
    one.reset();
    gort::rt::gc_start_hooks();  // the second cycle destroys the old victims
    EXPECT_EQ(counted::live.load(), 0);
    EXPECT_EQ(p.get(), nullptr);
  });
}

TEST(Pool, ManyGoroutinesAndThreadsShareItAndItCleansUp) {
  std::atomic<int> made{0};
  {
    gort::sync::pool<counted> p([&] { return std::make_unique<counted>(made++); });
    gort::run([&] {
      gort::sync::wait_group wg;
      for (int g = 0; g < 16; g++)
        wg.go([&] {
          for (int i = 0; i < 2000; i++) {
            auto x = p.get();
            x->id++;
            if (i % 64 == 0) gort::yield();
            p.put(std::move(x));
          }
        });
      std::thread plain([&] {
        for (int i = 0; i < 2000; i++) p.put(p.get());
      });
      wg.wait();
      plain.join();
    });
    EXPECT_LE(made.load(), 17) << "objects should be reused, not made per get";
  }
  EXPECT_EQ(counted::live.load(), 0) << "the pool destroys what it holds";
}

}  // namespace
