// run_test: gort::run, gort::go, the main goroutine's exit, and calls from threads that are
// not goroutines.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
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

namespace {

// A closure of `Size` bytes and `Align` alignment that checks, when it runs, that its bytes
// arrived intact and counts its destructions.
template <size_t Size, size_t Align>
struct alignas(Align) sized_closure {
  unsigned char bytes[Size - sizeof(void*) * 3];
  std::atomic<int>* ok;
  std::atomic<int>* destroyed;
  gort::sync::wait_group* wg;
  sized_closure(std::atomic<int>* o, std::atomic<int>* d, gort::sync::wait_group* w)
      : ok(o), destroyed(d), wg(w) {
    for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = static_cast<unsigned char>(i * 7 + Size);
  }
  sized_closure(const sized_closure&) = default;
  ~sized_closure() { destroyed->fetch_add(1); }
  void operator()() const {
    bool intact = reinterpret_cast<uintptr_t>(this) % Align == 0;
    for (size_t i = 0; i < sizeof bytes; i++)
      intact = intact && bytes[i] == static_cast<unsigned char>(i * 7 + Size);
    if (intact) ok->fetch_add(1);
    wg->done();
  }
};

template <size_t Size, size_t Align>
void start_sized(gort::sync::wait_group& wg, std::atomic<int>* ok, std::atomic<int>* destroyed) {
  static_assert(sizeof(sized_closure<Size, Align>) == Size);
  wg.add(1);
  gort::go(sized_closure<Size, Align>(ok, destroyed, &wg));
}

#if !defined(GORT_TSAN)
long vm_rss_kb() {
  FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f != nullptr && std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  if (f != nullptr) std::fclose(f);
  return kb;
}
#endif

}  // namespace

// Small closures live in the G until the goroutine first runs, bigger ones at the top of its
// stack, huge ones on the heap: every size and alignment arrives intact and is destroyed once.
TEST(Run, ClosuresOfEverySizeAndAlignmentArriveIntact) {
  std::atomic<int> ok{0}, destroyed_before_wait{0};
  std::atomic<int> destroyed{0};
  gort::run([&] {
    gort::sync::wait_group wg;
    start_sized<24, 8>(wg, &ok, &destroyed);
    start_sized<64, 16>(wg, &ok, &destroyed);    // the largest that fits in the G
    start_sized<64, 32>(wg, &ok, &destroyed);    // fits, but over-aligned: on the stack
    start_sized<80, 16>(wg, &ok, &destroyed);    // on the stack
    start_sized<512, 64>(wg, &ok, &destroyed);   // on the stack, 64-aligned
    start_sized<1024, 8>(wg, &ok, &destroyed);   // the largest on the stack
    start_sized<3000, 8>(wg, &ok, &destroyed);   // boxed
    wg.wait();
    destroyed_before_wait = destroyed.load();
  });
  EXPECT_EQ(ok.load(), 7);
  // Each temporary passed to go() is destroyed too; the goroutine's own copy exactly once.
  EXPECT_EQ(destroyed.load(), 14);
  EXPECT_GE(destroyed_before_wait.load(), 7);
}

// A goroutine gets its stack when it first runs: many goroutines queued behind a busy one
// commit no stack memory (as they would if each took a stack page at the go statement).
TEST(Run, GoroutinesThatHaveNotStartedHoldNoStack) {
#if defined(GORT_TSAN)
  GTEST_SKIP() << "TSan gives every goroutine a 1 MB fiber of its own";
#else
  constexpr int kQueued = 100000;
  long grew_kb = 0;
  gort::run([&] {
    gort::gomaxprocs(1);
    std::atomic<bool> go_on{false};
    gort::sync::wait_group wg;
    long before = vm_rss_kb();
    // With one P and no yield, at most a few of these start before the measurement (only
    // when sysmon preempts the loop), and each of those returns its stack at once.
    for (int i = 0; i < kQueued; i++) wg.go([&] { go_on.load(); });
    grew_kb = vm_rss_kb() - before;
    wg.wait();
  });
  // A stack page each would be 400,000 kB; the Gs themselves are a few hundred bytes.
  EXPECT_LT(grew_kb, kQueued * 2) << "kB of resident memory for " << kQueued << " queued goroutines";
#endif
}

TEST(Run, ProgramEndsWhenMainReturnsEvenWithParkedGoroutines) {
  std::atomic<bool> reached{false};
  int rc = gort::run([&] {
    // Not on main's stack: main's frame is gone once it returns, and the waiter may only
    // be starting then (a goroutine may run late; Go would have moved `never` to the heap).
    static gort::sync::wait_group never;
    never.add(1);
    gort::go([] { never.wait(); });  // parked forever
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

// A thread the program started before gort::run may still wake a goroutine, so the
// deadlock detector must not speak while it exists (ctest runs each test in a process of
// its own, so this is the process's first gort::run).
TEST(Run, AThreadStartedBeforeRunMayWakeTheMainGoroutine) {
  gort::sync::wait_group wg;
  wg.add(1);
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    wg.done();
  });
  bool woke = false;
  gort::run([&] {
    wg.wait();  // every M idles for 100 ms: not a deadlock, t will call done
    woke = true;
  });
  t.join();
  EXPECT_TRUE(woke);
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
