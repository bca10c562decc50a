// fatal_test: how a gort program dies, as a Go program does — exit status 2 and Go's text on
// stderr for a global deadlock, main's goexit with no goroutine left, an exception or
// gort::panic escaping a goroutine, a stack overflow, GOTRACEBACK=none, and SIGQUIT; and no
// false deadlock report while a timer, a blocking call or a plain thread can still wake
// someone. Each body runs a whole gort::run in the death test's child process.
#include <gtest/gtest.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sched/sched.hpp"

using namespace std::chrono_literals;

namespace {

// Output that matches every pattern of `present` and none of `absent` (POSIX extended
// regular expressions, as EXPECT_EXIT's own; '.' also matches a newline).
class output_matcher : public testing::MatcherInterface<const std::string&> {
 public:
  output_matcher(std::vector<std::string> present, std::vector<std::string> absent)
      : present_(std::move(present)), absent_(std::move(absent)) {}

  bool MatchAndExplain(const std::string& out, testing::MatchResultListener* l) const override {
    for (const auto& p : present_) {
      if (!search(p, out)) {
        *l << "lacks /" << p << "/";
        return false;
      }
    }
    for (const auto& p : absent_) {
      if (search(p, out)) {
        *l << "has /" << p << "/";
        return false;
      }
    }
    return true;
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "has";
    for (const auto& p : present_) *os << " /" << p << "/";
    *os << " and not";
    for (const auto& p : absent_) *os << " /" << p << "/";
  }

 private:
  static bool search(const std::string& pattern, const std::string& s) {
    regex_t re;
    if (regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB) != 0) return false;
    bool found = regexec(&re, s.c_str(), 0, nullptr, 0) == 0;
    regfree(&re);
    return found;
  }
  std::vector<std::string> present_, absent_;
};

testing::Matcher<const std::string&> output(std::vector<std::string> present,
                                            std::vector<std::string> absent = {}) {
  return testing::MakeMatcher(new output_matcher(std::move(present), std::move(absent)));
}

// Ends the child with the run's exit code, skipping static destructors.
[[noreturn]] void exit_with(int rc) {
  std::fflush(nullptr);
  _exit(rc);
}

// Parks the calling goroutine for good.
void block_forever() {
  gort::sync::wait_group never;
  never.add(1);
  never.wait();
}

// A child that should report a deadlock but misses it would wait forever: SIGALRM's
// default action ends it instead, and the death test fails on its status.
void arm_watchdog() { alarm(5); }

// Workaround for a runtime bug (see DISABLED_DeadlockRightAtStartIsReported): checkdead
// counts the sysmon thread as a foreign thread until sysmon has recorded its own tid, and
// nothing checks again later, so a deadlock in the first moments of the process is never
// reported. Waits (parked on a timer) until sysmon is known.
void wait_for_sysmon() {
  while (std::atomic_ref<int>(gort::rt::sched.sysmon_tid).load() == 0)
    gort::time::sleep(1ms);
}

// BUG (runtime, sched/checkdead.cpp + sched/threads.cpp, TSan builds): TSan starts its
// background thread lazily, at the process's first pthread_create, which is sysmon's, i.e.
// after record_baseline_threads(). checkdead then counts that thread as a foreign thread
// that could still wake a goroutine, so in a process whose first thread gort creates (as a
// death test's child) no deadlock is ever reported: the program hangs.
#if defined(GORT_TSAN)
#define SKIP_IF_TSAN_HIDES_DEADLOCKS() \
  GTEST_SKIP() << "BUG: under TSan checkdead takes TSan's own thread for a foreign thread"
#else
#define SKIP_IF_TSAN_HIDES_DEADLOCKS() static_cast<void>(0)
#endif

// ---- deadlock ----

void main_waits_forever() {
  arm_watchdog();
  gort::run([] {
    wait_for_sysmon();
    block_forever();
  });
}

void main_waits_forever_at_once() {
  arm_watchdog();
  gort::run([] { block_forever(); });
}

void every_goroutine_waits() {
  arm_watchdog();
  gort::run([] {
    wait_for_sysmon();
    for (int i = 0; i < 3; i++) gort::go([] { block_forever(); });
    gort::time::sleep(1ms);
    block_forever();
  });
}

void main_goexits_after_the_others_finish() {
  arm_watchdog();
  gort::run([] {
    gort::sync::wait_group wg;
    for (int i = 0; i < 3; i++) wg.go([] { gort::yield(); });
    wg.wait();
    gort::goexit();
  });
}

// ---- panics ----

__attribute__((noinline)) void fatal_test_thrower() { throw std::runtime_error("boom"); }

// Workaround for a runtime bug (see DISABLED_PanicInAGoroutineWithTheDefaultStack): the
// panic's traceback is symbolized on the panicking goroutine's stack, and libdw needs more
// than the default 128 KiB for it.
void use_big_goroutine_stacks() { gort::debug::set_max_stack(1 << 20); }

void goroutine_throws_on_a_default_stack() {
  gort::run([] {
    gort::go([] { fatal_test_thrower(); });
    block_forever();
  });
}

void goroutine_throws() {
  use_big_goroutine_stacks();
  goroutine_throws_on_a_default_stack();
}

void main_panics_with_42() {
  gort::run([] { gort::panic(42); });
}

void goroutine_panics_with_42() {
  use_big_goroutine_stacks();
  gort::run([] {
    gort::go([] { gort::panic(42); });
    block_forever();
  });
}

void goroutine_throws_with_gotraceback(const char* level) {
  setenv("GOTRACEBACK", level, 1);
  goroutine_throws();
}

void deadlock_with_gotraceback_none() {
  setenv("GOTRACEBACK", "none", 1);
  main_waits_forever();
}

// ---- stack overflow ----

volatile int depth_limit = INT_MAX;  // never reached; the compiler cannot know

__attribute__((noinline)) int recurse(int depth) {
  volatile char frame[256];
  frame[0] = char(depth);
  frame[sizeof frame - 1] = char(depth);
  if (depth >= depth_limit) return frame[0];
  int r = recurse(depth + 1);
  frame[1] = char(r);  // the frame is live across the call: no tail call, no loop
  return r + frame[1] + frame[sizeof frame - 1];
}

void goroutine_overflows_its_stack() {
  gort::run([] {
    gort::go([] { std::printf("%d\n", recurse(0)); });
    block_forever();
  });
}

void main_overflows_its_stack() {
  gort::run([] { std::printf("%d\n", recurse(0)); });
}

// ---- SIGQUIT ----

void sigquit_while_running() {
  gort::run([] {
    gort::sync::wait_group wg;
    wg.go([] {
      kill(getpid(), SIGQUIT);
      gort::time::sleep(3s);  // the dump ends the process long before
    });
    wg.wait();
  });
}

void sigquit_raised_on_a_goroutine() {
  gort::run([] {
    gort::sync::wait_group wg;
    wg.go([] {
      raise(SIGQUIT);
      gort::time::sleep(3s);
    });
    wg.wait();
  });
}

// ---- no false deadlock ----

void main_waits_for_a_sleeper() {
  int rc = gort::run([] {
    gort::sync::wait_group wg;
    wg.go([] { gort::time::sleep(50ms); });
    wg.wait();
    return 0;
  });
  std::fputs("run returned\n", stderr);
  exit_with(rc);
}

void deadlock_after_the_last_timer() {
  arm_watchdog();
  gort::run([] {
    gort::go([] {
      gort::time::sleep(50ms);
      std::fputs("sleeper done\n", stderr);
    });
    block_forever();
  });
}

void main_waits_for_a_blocking_call() {
  int rc = gort::run([] {
    gort::sync::wait_group wg;
    wg.go([] { gort::blocking([] { ::usleep(50000); }); });
    wg.wait();
    return 0;
  });
  std::fputs("run returned\n", stderr);
  exit_with(rc);
}

void main_waits_for_a_plain_thread() {
  int rc = gort::run([] {
    gort::sync::wait_group wg;
    wg.add(1);
    std::thread t([&] {
      std::this_thread::sleep_for(50ms);
      wg.done();
    });
    wg.wait();
    t.join();
    return 0;
  });
  std::fputs("run returned\n", stderr);
  exit_with(rc);
}

}  // namespace

TEST(FatalDeathTest, GlobalDeadlock) {
  SKIP_IF_TSAN_HIDES_DEADLOCKS();
  EXPECT_EXIT(main_waits_forever(), testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!\n.*goroutine 1 \\[semacquire\\]:");
}

// BUG (runtime, sched/checkdead.cpp + sched/sysmon.cpp): a program that deadlocks right at
// start hangs instead of dying, about half the time. sysmon records its own tid
// (sched.sysmon_tid) on its thread after start_sysmon returns; a checkdead that runs before
// that finds an unknown thread in /proc/self/task, takes it for a foreign thread that could
// still wake a goroutine, and returns; nothing runs checkdead again (Go's sysmon calls
// checkdead when it starts; gort's does not). Repro: gort::run([] { wait_group wg;
// wg.add(1); wg.wait(); }) as the first run of a process hangs with m0 in stopm. Enable
// once fixed (the watchdog turns the hang into a SIGALRM failure).
TEST(FatalDeathTest, DISABLED_DeadlockRightAtStartIsReported) {
  SKIP_IF_TSAN_HIDES_DEADLOCKS();
  EXPECT_EXIT(main_waits_forever_at_once(), testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!\n.*goroutine 1 \\[semacquire\\]:");
}

TEST(FatalDeathTest, GlobalDeadlockPrintsEveryGoroutine) {
  SKIP_IF_TSAN_HIDES_DEADLOCKS();
  EXPECT_EXIT(every_goroutine_waits(), testing::ExitedWithCode(2),
              output({"^fatal error: all goroutines are asleep - deadlock!\n",
                      "goroutine 1 \\[semacquire\\]:",
                      "(goroutine [0-9]+ \\[semacquire\\]:.*){4}"}));
}

TEST(FatalDeathTest, MainGoexitWithNoGoroutineLeft) {
  EXPECT_EXIT(main_goexits_after_the_others_finish(), testing::ExitedWithCode(2),
              "fatal error: no goroutines \\(main called runtime.Goexit\\) - deadlock!");
}

TEST(FatalDeathTest, ExceptionEscapingAGoroutine) {
  // GOTRACEBACK=single (the default): only the panicking goroutine.
  EXPECT_EXIT(goroutine_throws(), testing::ExitedWithCode(2),
              output({"^panic: boom\n\ngoroutine ([2-9]|[1-9][0-9]+) \\[running\\]:\n"},
                     {"goroutine 1 \\["}));
}

// BUG (runtime, src/sched/throw_hook.cpp, ASan builds): the throw-site capture is an
// archive member that only defines __cxa_throw; with -fsanitize=address the link resolves
// __cxa_throw to libasan's interceptor first, so the member is never linked
// (`nm gort_sched_tests` shows `U __cxa_throw`), and the panic trace shows the frames left
// after unwinding (starting at __interceptor_backtrace) instead of the throw site.
#if defined(GORT_ASAN)
#define MAYBE_PanicTraceStartsAtTheThrowSite DISABLED_PanicTraceStartsAtTheThrowSite
#else
#define MAYBE_PanicTraceStartsAtTheThrowSite PanicTraceStartsAtTheThrowSite
#endif
TEST(FatalDeathTest, MAYBE_PanicTraceStartsAtTheThrowSite) {
  EXPECT_EXIT(goroutine_throws(), testing::ExitedWithCode(2),
              "^panic: boom\n\ngoroutine [0-9]+ \\[running\\]:\n[^\n]*fatal_test_thrower");
}

// BUG (runtime, sched/panic.cpp + sched/symbolize.cpp): an unrecovered panic in a goroutine
// with the default 128 KiB stack often kills the process with a bare SIGSEGV and prints
// nothing at all, not even the "panic:" line (fatal_panic builds the whole text before it
// writes any). fatal_panic formats the trace on the panicking goroutine's own stack, and
// symbolize() -> dwfl_module_getsrc -> dwarf_getsrclines (elfutils 0.188) needs about
// 150 KiB of stack the first time it reads a compilation unit's line table: its frame jumps
// over the 4 KiB guard page, so the overflow is not even reported as one (or memory below
// is overwritten). goroutine_dump() from such a goroutine fails the same way (see
// traceback_test). Go prints tracebacks on the system stack; gort should do the same (g0,
// or a thread with a large stack). Repro: this test's body, about 1 run in 4; the enabled
// tests of panics in goroutines use 1 MiB stacks.
TEST(FatalDeathTest, DISABLED_PanicInAGoroutineWithTheDefaultStack) {
  EXPECT_EXIT(goroutine_throws_on_a_default_stack(), testing::ExitedWithCode(2),
              "^panic: boom\n\ngoroutine [0-9]+ \\[running\\]:\n");
}

TEST(FatalDeathTest, PanicValueEscapingMain) {
  EXPECT_EXIT(main_panics_with_42(), testing::ExitedWithCode(2),
              "^panic: 42\n\ngoroutine 1 \\[running\\]:\n");
}

TEST(FatalDeathTest, PanicValueEscapingAGoroutine) {
  EXPECT_EXIT(goroutine_panics_with_42(), testing::ExitedWithCode(2),
              "^panic: 42\n\ngoroutine [0-9]+ \\[running\\]:\n");
}

TEST(FatalDeathTest, StackOverflowInAGoroutine) {
#if defined(GORT_ASAN) || defined(GORT_TSAN)
  GTEST_SKIP() << "the sanitizer's own SIGSEGV handling reports the overflow";
#endif
  EXPECT_EXIT(goroutine_overflows_its_stack(), testing::ExitedWithCode(2),
              "runtime: goroutine stack exceeds [0-9]+-byte limit\n.*fatal error: stack overflow");
}

TEST(FatalDeathTest, StackOverflowInMain) {
#if defined(GORT_ASAN) || defined(GORT_TSAN)
  GTEST_SKIP() << "the sanitizer's own SIGSEGV handling reports the overflow";
#endif
  EXPECT_EXIT(main_overflows_its_stack(), testing::ExitedWithCode(2),
              "runtime: goroutine stack exceeds [0-9]+-byte limit\n.*fatal error: stack overflow");
}

TEST(FatalDeathTest, GotracebackNonePrintsThePanicAlone) {
  EXPECT_EXIT(goroutine_throws_with_gotraceback("none"), testing::ExitedWithCode(2),
              output({"^panic: boom\n"}, {"goroutine [0-9]+ \\["}));
}

TEST(FatalDeathTest, GotracebackNoneAppliesToFatalErrors) {
  SKIP_IF_TSAN_HIDES_DEADLOCKS();
  EXPECT_EXIT(deadlock_with_gotraceback_none(), testing::ExitedWithCode(2),
              output({"^fatal error: all goroutines are asleep - deadlock!\n"},
                     {"goroutine [0-9]+ \\["}));
}

TEST(FatalDeathTest, GotracebackAllPrintsTheOtherGoroutinesToo) {
  EXPECT_EXIT(goroutine_throws_with_gotraceback("all"), testing::ExitedWithCode(2),
              output({"^panic: boom\n\ngoroutine [0-9]+ \\[running\\]:\n",
                      "goroutine 1 \\[semacquire\\]:"}));
}

TEST(FatalDeathTest, SigquitDumpsEveryGoroutine) {
  EXPECT_EXIT(sigquit_while_running(), testing::ExitedWithCode(2),
              output({"SIGQUIT: quit\n", "goroutine 1 \\[semacquire\\]:",
                      "goroutine [0-9]+ \\[(sleep|running|runnable)"}));
}

TEST(FatalDeathTest, SigquitRaisedOnAGoroutineThread) {
  EXPECT_EXIT(sigquit_raised_on_a_goroutine(), testing::ExitedWithCode(2),
              "SIGQUIT: quit\n.*goroutine 1 \\[");
}

TEST(FatalDeathTest, NoDeadlockWhileATimerIsPending) {
  EXPECT_EXIT(main_waits_for_a_sleeper(), testing::ExitedWithCode(0),
              output({"^run returned\n$"}));
}

TEST(FatalDeathTest, DeadlockIsReportedOnceTheLastTimerHasFired) {
  SKIP_IF_TSAN_HIDES_DEADLOCKS();
  EXPECT_EXIT(deadlock_after_the_last_timer(), testing::ExitedWithCode(2),
              "sleeper done\nfatal error: all goroutines are asleep - deadlock!\n");
}

TEST(FatalDeathTest, NoDeadlockWhileAGoroutineIsInABlockingCall) {
  EXPECT_EXIT(main_waits_for_a_blocking_call(), testing::ExitedWithCode(0),
              output({"^run returned\n$"}));
}

TEST(FatalDeathTest, NoDeadlockWhileAPlainThreadCanStillWakeAGoroutine) {
  EXPECT_EXIT(main_waits_for_a_plain_thread(), testing::ExitedWithCode(0),
              output({"^run returned\n$"}));
}
