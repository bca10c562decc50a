// scheduler_test: what user code sees of the scheduler — gort::yield, gort::gomaxprocs,
// lock_os_thread/unlock_os_thread, gort::syscall and gort::blocking, num_goroutine,
// gort::goexit, defer (gort::defer, GORT_DEFER) and the values carried by gort::panic.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <any>
#include <atomic>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "procs_guard.hpp"

using namespace std::chrono_literals;

namespace {

pid_t thread_id() { return pid_t(::syscall(SYS_gettid)); }

// The first line of a goroutine dump taken by the caller: its own header.
std::string own_header() {
  std::string d = gort::debug::goroutine_dump();
  return d.substr(0, d.find('\n'));
}

bool locked_to_thread() { return own_header().find("locked to thread") != std::string::npos; }

// Sleeps (parking the goroutine) until pred() holds or about 2 s have passed; returns pred().
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 2000 && !pred(); i++) gort::time::sleep(1ms);
  return pred();
}

}  // namespace

// ---- yield ----

TEST(SchedulerYield, LetsAnotherGoroutineOnTheSameProcessorRun) {
  procs_guard pg;
  gort::run([] {
    gort::gomaxprocs(1);
    std::atomic<bool> ran{false};
    gort::go([&] { ran = true; });
    // With one P and no yield the other goroutine could never run: the loop has no other
    // safe point.
    for (int i = 0; i < 1000 && !ran.load(); i++) gort::yield();
    EXPECT_TRUE(ran.load());
  });
}

TEST(SchedulerYield, TwoYieldingGoroutinesAlternateOnOneProcessor) {
  procs_guard pg;
  std::vector<char> trace;  // one P: only one goroutine touches it at a time
  gort::run([&] {
    gort::gomaxprocs(1);
    gort::sync::wait_group wg;
    for (char id : {'a', 'b'}) {
      wg.go([&trace, id] {
        for (int i = 0; i < 50; i++) {
          trace.push_back(id);
          gort::yield();
        }
      });
    }
    wg.wait();
  });
  ASSERT_EQ(trace.size(), 100u);
  // They alternate, except that a schedule on every 61st tick looks at the global queue
  // first, where the yielder has just gone, so it may run again at once: a repeat when
  // that tick falls on the first yields (1 run in 61; Go 1.19 repeats in half the runs of
  // the same program, up to 4 times). The 100 switches hold at most two such ticks.
  int repeats = 0;
  for (size_t i = 1; i < trace.size(); i++) repeats += trace[i] == trace[i - 1];
  EXPECT_LE(repeats, 2) << std::string(trace.begin(), trace.end());
}

// ---- gomaxprocs ----

TEST(SchedulerGomaxprocs, ZeroAndNegativeReturnTheCurrentValueWithoutChangingIt) {
  procs_guard pg;
  gort::run([] {
    gort::gomaxprocs(3);
    EXPECT_EQ(gort::gomaxprocs(0), 3);
    EXPECT_EQ(gort::gomaxprocs(-1), 3);
    EXPECT_EQ(gort::gomaxprocs(-100), 3);
    EXPECT_EQ(gort::gomaxprocs(0), 3);
  });
}

TEST(SchedulerGomaxprocs, SettingFromAGoroutineReturnsThePreviousValue) {
  procs_guard pg;
  gort::run([] {
    gort::gomaxprocs(2);
    EXPECT_EQ(gort::gomaxprocs(3), 2);
    EXPECT_EQ(gort::gomaxprocs(0), 3);
    EXPECT_EQ(gort::gomaxprocs(3), 3);  // the same value: nothing changes
    // From a goroutine other than main.
    gort::sync::wait_group wg;
    int prev = 0, now = 0;
    wg.go([&] {
      prev = gort::gomaxprocs(1);
      now = gort::gomaxprocs(0);
    });
    wg.wait();
    EXPECT_EQ(prev, 3);
    EXPECT_EQ(now, 1);
    EXPECT_EQ(gort::gomaxprocs(0), 1);
  });
}

TEST(SchedulerGomaxprocs, WorkCompletesAcrossShrinkingAndGrowing) {
  // Workers note how many of them are between two safe points at once: never more than
  // GOMAXPROCS. Sleepers keep timers pending on every P while the Ps are resized.
  procs_guard pg;
  no_standins exactly_gomaxprocs;
  gort::run([] {
    gort::gomaxprocs(2);
    std::atomic<int> inside{0}, max_inside{0};
    std::atomic<long> iterations{0};
    std::atomic<bool> stop{false};
    std::atomic<int> sleeps_done{0};
    gort::sync::wait_group wg;
    for (int w = 0; w < 6; w++) {
      wg.go([&] {
        while (!stop.load()) {
          int now = ++inside;
          int seen = max_inside.load();
          while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
          }
          for (int spin = 0; spin < 200; spin++) asm volatile("");
          --inside;
          iterations++;
          gort::yield();
        }
      });
    }
    for (int s = 0; s < 8; s++) {
      wg.go([&] {
        for (int i = 0; i < 20; i++) gort::time::sleep(1ms);
        sleeps_done++;
      });
    }
    auto progress = [&] {
      long target = iterations.load() + 200;
      return eventually([&] { return iterations.load() >= target; });
    };

    EXPECT_TRUE(progress());
    EXPECT_LE(max_inside.load(), 2);

    EXPECT_EQ(gort::gomaxprocs(1), 2);
    max_inside = 0;  // main holds the only P: no worker is inside now
    EXPECT_TRUE(progress());
    EXPECT_EQ(max_inside.load(), 1);

    EXPECT_EQ(gort::gomaxprocs(4), 1);
    max_inside = 0;
    EXPECT_TRUE(progress());
    EXPECT_LE(max_inside.load(), 4);

    stop = true;
    wg.wait();
    EXPECT_EQ(sleeps_done.load(), 8);
    EXPECT_EQ(inside.load(), 0);
  });
}

// ---- lock_os_thread ----

TEST(SchedulerLockOSThread, LockedGoroutineKeepsItsThreadAcrossYieldsAndSleeps) {
  procs_guard pg;
  gort::run([] {
    gort::gomaxprocs(4);
    // Busy goroutines keep every P and M in use, so an unlocked goroutine would move.
    std::atomic<bool> stop{false};
    gort::sync::wait_group busy;
    for (int i = 0; i < 6; i++) busy.go([&] {
        while (!stop.load()) gort::yield();
      });
    std::atomic<int> moves{0};
    auto stays_put = [&] {
      gort::lock_os_thread();
      auto tid = std::this_thread::get_id();
      for (int i = 0; i < 40; i++) {
        if (i % 2 == 0)
          gort::yield();
        else
          gort::time::sleep(200us);
        if (std::this_thread::get_id() != tid) moves++;
      }
      gort::unlock_os_thread();
    };
    gort::sync::wait_group wg;
    for (int i = 0; i < 3; i++) wg.go(stays_put);
    stays_put();  // the main goroutine too
    wg.wait();
    stop = true;
    busy.wait();
    EXPECT_EQ(moves.load(), 0);
  });
}

TEST(SchedulerLockOSThread, NestedLocksNeedAsManyUnlocks) {
  // The goroutine's own traceback header says ", locked to thread" while it is locked.
  procs_guard pg;
  gort::run([] {
    gort::gomaxprocs(4);
    std::atomic<bool> stop{false};
    gort::sync::wait_group busy;
    for (int i = 0; i < 6; i++) busy.go([&] {
        while (!stop.load()) gort::yield();
      });
    gort::sync::wait_group wg;
    wg.go([&] {
      EXPECT_FALSE(locked_to_thread());
      gort::lock_os_thread();
      gort::lock_os_thread();
      EXPECT_TRUE(locked_to_thread());
      gort::unlock_os_thread();
      // One lock is left: still wired to this thread.
      EXPECT_TRUE(locked_to_thread());
      auto tid = std::this_thread::get_id();
      bool stayed = true;
      for (int i = 0; i < 20; i++) {
        gort::time::sleep(100us);
        gort::yield();
        stayed = stayed && std::this_thread::get_id() == tid;
      }
      EXPECT_TRUE(stayed);
      gort::unlock_os_thread();
      EXPECT_FALSE(locked_to_thread());
      // An unlock without a lock does nothing; the next lock/unlock pair still counts.
      gort::unlock_os_thread();
      EXPECT_FALSE(locked_to_thread());
      gort::lock_os_thread();
      EXPECT_TRUE(locked_to_thread());
      gort::unlock_os_thread();
      EXPECT_FALSE(locked_to_thread());
    });
    wg.wait();
    stop = true;
    busy.wait();
  });
}

TEST(SchedulerLockOSThread, OtherGoroutinesRunWhileOneIsLocked) {
  procs_guard pg;
  gort::run([] {
    gort::gomaxprocs(1);
    std::atomic<bool> others_done{false};
    std::atomic<int> others_ran{0};
    std::atomic<int> moves{0};
    long locked_rounds = 0;
    gort::sync::wait_group locked;
    locked.go([&] {
      gort::lock_os_thread();
      auto tid = std::this_thread::get_id();
      // It gives the only P away at every yield and sleep, and stays locked until every
      // other goroutine has finished.
      while (!others_done.load()) {
        if (locked_rounds % 2 == 0)
          gort::yield();
        else
          gort::time::sleep(100us);
        locked_rounds++;
        if (std::this_thread::get_id() != tid) moves++;
      }
      gort::unlock_os_thread();
    });
    gort::sync::wait_group others;
    for (int i = 0; i < 8; i++) {
      others.go([&] {
        for (int k = 0; k < 10; k++) {
          others_ran++;
          if (k % 2 == 0)
            gort::yield();
          else
            gort::time::sleep(100us);
        }
      });
    }
    others.wait();
    others_done = true;
    locked.wait();
    EXPECT_EQ(others_ran.load(), 80);
    EXPECT_GT(locked_rounds, 0);
    EXPECT_EQ(moves.load(), 0);
  });
}

TEST(SchedulerLockOSThread, GoroutineThatExitsLockedEndsItsThread) {
  // As in Go: the thread may carry state the goroutine changed, so it is not reused.
  gort::run([] {
    // Main keeps the thread that called gort::run (which only unlocks when its goroutine
    // exits), so the goroutine below runs on a runtime thread.
    gort::lock_os_thread();
    std::atomic<pid_t> tid{0};
    gort::sync::wait_group wg;
    wg.go([&] {
      gort::lock_os_thread();
      tid = thread_id();
    });
    wg.wait();
    std::string task = "/proc/self/task/" + std::to_string(tid.load());
    EXPECT_TRUE(eventually([&] { return ::access(task.c_str(), F_OK) != 0; }))
        << "thread " << tid.load() << " still exists";
    // The scheduler carries on without that thread.
    std::atomic<int> ran{0};
    gort::sync::wait_group wg2;
    for (int i = 0; i < 20; i++) wg2.go([&] { ran++; });
    wg2.wait();
    EXPECT_EQ(ran.load(), 20);
    gort::unlock_os_thread();
  });
}

// ---- syscall and blocking ----

namespace {

enum class worker_kind { yielding, sleeping };

// With one P, one goroutine sleeps 200 ms in the OS inside `call` (gort::syscall or
// gort::blocking) while a worker counts. The counter is read at the start and at the end
// of the call: it must have moved in between.
template <class Call>
void expect_progress_during(Call call, worker_kind kind) {
  procs_guard pg;
  long before = -1, after = -1;
  gort::run([&] {
    gort::gomaxprocs(1);
    std::atomic<long> ticks{0};
    std::atomic<bool> stop{false};
    gort::sync::wait_group wg;
    wg.go([&] {
      while (!stop.load()) {
        ticks++;
        if (kind == worker_kind::yielding)
          gort::yield();
        else
          gort::time::sleep(1ms);
      }
    });
    wg.go([&] {
      call([&] {
        before = ticks.load();
        ::usleep(200000);
        after = ticks.load();
      });
      stop = true;
    });
    wg.wait();
  });
  EXPECT_GT(after, before) << "no goroutine ran while the call blocked";
}

auto via_syscall = [](auto f) { gort::syscall(f); };
auto via_blocking = [](auto f) { gort::blocking(f); };

}  // namespace

TEST(SchedulerSyscall, OtherGoroutinesRunDuringASyscall) {
  expect_progress_during(via_syscall, worker_kind::yielding);
}

TEST(SchedulerSyscall, SleepingGoroutinesWakeDuringASyscall) {
  expect_progress_during(via_syscall, worker_kind::sleeping);
}

TEST(SchedulerSyscall, OtherGoroutinesRunDuringABlockingCall) {
  expect_progress_during(via_blocking, worker_kind::yielding);
}

TEST(SchedulerSyscall, SleepingGoroutinesWakeDuringABlockingCall) {
  expect_progress_during(via_blocking, worker_kind::sleeping);
}

TEST(SchedulerSyscall, ReturnsTheResultAndPassesExceptionsThrough) {
  gort::run([] {
    EXPECT_EQ(gort::syscall([] { return 41 + 1; }), 42);
    EXPECT_EQ(gort::blocking([] { return std::string("read"); }), "read");
    int x = 0;
    int& r = gort::syscall([&]() -> int& { return x; });
    EXPECT_EQ(&r, &x);
    EXPECT_THROW(gort::syscall([]() -> int { throw std::runtime_error("EIO"); }),
                 std::runtime_error);
    EXPECT_THROW(gort::blocking([] { gort::panic(5); }), gort::panic_error);
    // Back from the calls the goroutine is an ordinary running goroutine again.
    EXPECT_NE(own_header().find("[running]"), std::string::npos) << own_header();
    gort::sync::wait_group wg;
    std::atomic<int> ran{0};
    for (int i = 0; i < 10; i++) wg.go([&] { ran++; });
    wg.wait();
    gort::time::sleep(1ms);
    EXPECT_EQ(ran.load(), 10);
  });
  // Outside a run they are plain calls.
  EXPECT_EQ(gort::syscall([] { return 7; }), 7);
  EXPECT_EQ(gort::blocking([] { return 8; }), 8);
}

// ---- num_goroutine ----

TEST(SchedulerNumGoroutine, CountsEveryStateAndDropsOnExitAndGoexit) {
  gort::run([] {
    EXPECT_EQ(gort::num_goroutine(), 1);
    gort::sync::wait_group release, started, done;
    std::atomic<bool> leave_call{false};
    release.add(1);
    // Counted from the go statement on, whether runnable, parked, asleep or in a call.
    for (int i = 0; i < 3; i++) done.go([&] { release.wait(); });
    EXPECT_EQ(gort::num_goroutine(), 4);
    started.add(2);
    done.go([&] {
      started.done();
      gort::blocking([&] {
        while (!leave_call.load()) ::usleep(500);
      });
    });
    done.go([&] {
      started.done();
      while (!leave_call.load()) gort::time::sleep(500us);
    });
    started.wait();
    EXPECT_EQ(gort::num_goroutine(), 6);
    done.go([] { gort::goexit(); });
    release.done();
    leave_call = true;
    done.wait();
    EXPECT_TRUE(eventually([] { return gort::num_goroutine() == 1; }))
        << gort::num_goroutine() << " goroutines";
  });
}

// ---- goexit ----

namespace {

void goexit_two_calls_down(std::vector<int>& order) {
  GORT_DEFER(order.push_back(3));
  gort::goexit();
  order.push_back(99);  // never reached
}

}  // namespace

TEST(SchedulerGoexit, RunsDefersAndDestructorsInLifoOrder) {
  std::vector<int> order;
  std::atomic<int> others{0};
  gort::run([&] {
    gort::sync::wait_group wg, rest;
    wg.add(1);
    gort::go([&] {
      GORT_DEFER(wg.done());
      struct noted {
        std::vector<int>& order;
        ~noted() { order.push_back(1); }
      } first{order};
      gort::defer second = [&] { order.push_back(2); };
      goexit_two_calls_down(order);
      order.push_back(100);  // never reached
    });
    for (int i = 0; i < 10; i++) rest.go([&] {
        gort::yield();
        others++;
      });
    wg.wait();
    rest.wait();
  });
  EXPECT_EQ(order, (std::vector<int>{3, 2, 1}));
  EXPECT_EQ(others.load(), 10);
}

TEST(SchedulerGoexit, PassesThroughStdExceptionHandlersAndRethrowingCatchAll) {
  bool caught_as_std = false, seen_by_catch_all = false, after = false;
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.go([&] {
      try {
        try {
          gort::goexit();
        } catch (const std::exception&) {
          caught_as_std = true;
        }
      } catch (...) {
        seen_by_catch_all = true;
        throw;  // as with forced unwinding: let the goexit go on
      }
      after = true;
    });
    wg.wait();
  });
  EXPECT_FALSE(caught_as_std);
  EXPECT_TRUE(seen_by_catch_all);
  EXPECT_FALSE(after);
}

namespace {

// Outlives main's stack, which main's goexit unwinds.
gort::sync::wait_group* first_finished = new gort::sync::wait_group;
std::atomic<bool> main_defer_ran{false};

void main_goexits_while_others_run() {
  gort::run([] {
    first_finished->add(1);
    gort::go([] {
      // Keeps sleeping until main is gone. (A fixed 20 ms sleep raced with main under
      // TSan, where each of the first two gort::go calls of a process took 10-22 ms.)
      while (!main_defer_ran.load()) gort::time::sleep(1ms);
      std::fputs("first finished\n", stderr);
      first_finished->done();
    });
    gort::go([] {
      first_finished->wait();
      gort::yield();
      std::fputs("second finished\n", stderr);
    });
    GORT_DEFER({
      std::fputs("main's defer ran\n", stderr);
      main_defer_ran.store(true);
    });
    gort::goexit();
  });
}

}  // namespace

TEST(SchedulerGoexitDeathTest, MainGoexitLetsTheOtherGoroutinesFinish) {
  // Go's semantics: the program goes on without main until no goroutine is left, then dies.
  EXPECT_EXIT(main_goexits_while_others_run(), testing::ExitedWithCode(2),
              "main's defer ran\nfirst finished\nsecond finished\n"
              "fatal error: no goroutines \\(main called runtime.Goexit\\) - deadlock!");
}

// ---- defer ----

TEST(SchedulerDefer, RunsLifoOnNormalExit) {
  std::vector<int> order;
  gort::run([&] {
    {
      gort::defer first = [&] { order.push_back(1); };
      GORT_DEFER(order.push_back(2));
      GORT_DEFER(order.push_back(3));
      order.push_back(0);
    }
    order.push_back(4);
  });
  EXPECT_EQ(order, (std::vector<int>{0, 3, 2, 1, 4}));
}

TEST(SchedulerDefer, RunsLifoWhileAPanicUnwinds) {
  std::vector<int> order;
  std::string recovered;
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.go([&] {
      try {
        gort::defer first = [&] { order.push_back(1); };
        GORT_DEFER(order.push_back(2));
        GORT_DEFER(order.push_back(3));
        gort::panic("unwinding");
      } catch (const gort::panic_error& e) {
        order.push_back(4);
        recovered = e.what();
      }
    });
    wg.wait();
  });
  EXPECT_EQ(order, (std::vector<int>{3, 2, 1, 4}));
  EXPECT_EQ(recovered, "unwinding");
}

TEST(SchedulerDefer, AThrowingDeferredCallPanicsLikeGo) {
  // Not unwinding already: the deferred call's exception propagates, and the defers
  // declared before it still run.
  std::vector<int> order;
  std::string caught;
  gort::run([&] {
    try {
      GORT_DEFER(order.push_back(1));
      gort::defer thrower = [&] {
        order.push_back(2);
        throw std::runtime_error("from defer");
      };
      order.push_back(0);
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
  });
  EXPECT_EQ(order, (std::vector<int>{0, 2, 1}));
  EXPECT_EQ(caught, "from defer");
}

// ---- panic values ----

namespace {

struct point {
  int x, y;
};
std::ostream& operator<<(std::ostream& os, const point& p) {
  return os << "{" << p.x << " " << p.y << "}";
}

struct opaque {
  int v;
};

class my_error : public std::logic_error {
 public:
  explicit my_error(int code) : std::logic_error("my error " + std::to_string(code)), code(code) {}
  int code;
};

// Runs f on a goroutine, catches what it throws as gort::panic_error (recover), and returns
// a copy of it.
template <class F>
gort::panic_error recover_from(F f) {
  gort::panic_error got(std::any(), "<nothing thrown>");
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.go([&] {
      try {
        f();
      } catch (const gort::panic_error& e) {
        got = e;
      }
    });
    wg.wait();
  });
  return got;
}

}  // namespace

TEST(SchedulerPanic, IntValue) {
  auto e = recover_from([] { gort::panic(42); });
  ASSERT_EQ(e.value().type(), typeid(int));
  EXPECT_EQ(std::any_cast<int>(e.value()), 42);
  EXPECT_STREQ(e.what(), "42");
}

TEST(SchedulerPanic, StringValues) {
  auto lit = recover_from([] { gort::panic("boom"); });
  ASSERT_EQ(lit.value().type(), typeid(std::string));
  EXPECT_EQ(std::any_cast<std::string>(lit.value()), "boom");
  EXPECT_STREQ(lit.what(), "boom");

  auto str = recover_from([] { gort::panic(std::string("from a std::string")); });
  EXPECT_EQ(std::any_cast<std::string>(str.value()), "from a std::string");
  EXPECT_STREQ(str.what(), "from a std::string");

  auto ptr = recover_from([] {
    char buf[] = "mutable chars";
    char* p = buf;
    gort::panic(p);
  });
  EXPECT_EQ(std::any_cast<std::string>(ptr.value()), "mutable chars");
  EXPECT_STREQ(ptr.what(), "mutable chars");
}

TEST(SchedulerPanic, StdExceptionValues) {
  auto e = recover_from([] { gort::panic(std::runtime_error("bad thing")); });
  EXPECT_STREQ(e.what(), "bad thing");
  ASSERT_EQ(e.value().type(), typeid(std::runtime_error));
  EXPECT_STREQ(std::any_cast<const std::runtime_error&>(e.value()).what(), "bad thing");

  auto mine = recover_from([] { gort::panic(my_error(7)); });
  EXPECT_STREQ(mine.what(), "my error 7");
  EXPECT_EQ(std::any_cast<const my_error&>(mine.value()).code, 7);
}

TEST(SchedulerPanic, OtherValuesPrintAsGoWould) {
  EXPECT_STREQ(recover_from([] { gort::panic(true); }).what(), "true");
  EXPECT_STREQ(recover_from([] { gort::panic(false); }).what(), "false");
  EXPECT_STREQ(recover_from([] { gort::panic(2.5); }).what(), "2.5");
  auto p = recover_from([] { gort::panic(point{1, 2}); });
  EXPECT_STREQ(p.what(), "{1 2}");
  EXPECT_EQ(std::any_cast<point>(p.value()).y, 2);
  // No way to print it: the type's name in parentheses.
  std::string o = recover_from([] { gort::panic(opaque{3}); }).what();
  ASSERT_GE(o.size(), 2u);
  EXPECT_EQ(o.front(), '(');
  EXPECT_EQ(o.back(), ')');
}

TEST(SchedulerPanic, PanicErrorIsAStdExceptionAndRecoveryLetsTheGoroutineGoOn) {
  std::string what;
  bool continued = false;
  gort::run([&] {
    gort::sync::wait_group wg;
    wg.go([&] {
      try {
        gort::panic(42);
      } catch (const std::exception& e) {
        what = e.what();
      }
      gort::yield();
      continued = true;
    });
    wg.wait();
  });
  EXPECT_EQ(what, "42");
  EXPECT_TRUE(continued);
}
