// fatal_test: how a gort program dies, as a Go program does — exit status 2 and Go's text on
// stderr for a global deadlock, main's goexit with no goroutine left, an exception or
// gort::panic escaping a goroutine, a stack overflow, a fault (nil dereference, bad address,
// division by zero) in a goroutine, GOTRACEBACK=none/all, and SIGQUIT;
// and no false deadlock report while a timer, a blocking call or a plain thread can still
// wake someone. Each body runs a whole gort::run in the death test's child process.
#include <gtest/gtest.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "sched/traceback.hpp"

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

// A child that should die (or report a deadlock) but hangs instead would wait forever:
// SIGALRM's default action ends it, and the death test fails on its status. 20 s: a dump
// symbolised under TSan on a loaded 2-core machine has taken over 5 s.
void arm_watchdog() { alarm(20); }

// With one P the goroutine that main starts and then waits for runs on the thread that
// called gort::run (main's P stays there).
void one_processor() { gort::gomaxprocs(1); }

// Goroutine dumps are snapshots taken while other goroutines run (as Go's); the runtime reads
// those goroutines' headers without synchronisation on purpose and tells TSan so.
#define SKIP_UNDER_TSAN_DUMP_RACE() static_cast<void>(0)

// ---- deadlock ----

void main_waits_forever_at_once() {
  arm_watchdog();
  gort::run([] { block_forever(); });
}

void deadlock_after_goroutines_came_and_went() {
  arm_watchdog();
  gort::run([] {
    gort::sync::wait_group wg;
    for (int i = 0; i < 3; i++) wg.go([] { gort::yield(); });
    wg.wait();
    block_forever();
  });
}

void every_goroutine_waits() {
  arm_watchdog();
  gort::run([] {
    for (int i = 0; i < 3; i++) gort::go([] { block_forever(); });
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

void deadlock_with_gotraceback_none() {
  setenv("GOTRACEBACK", "none", 1);
  main_waits_forever_at_once();
}

// ---- panics ----

__attribute__((noinline)) void fatal_test_thrower() { throw std::runtime_error("boom"); }

void goroutine_throws() {
  arm_watchdog();
  gort::run([] {
    gort::go([] { fatal_test_thrower(); });
    block_forever();
  });
}

// The exception is thrown by the goroutine's own function, which the compiler inlines into
// the runtime's entry thunk for it. (The store after the go statement keeps the call from
// being a tail call, which would leave the spawner's caller as the creator: gort::go records
// its return address.)
volatile int spawned = 0;
__attribute__((noinline)) void fatal_test_spawner() {
  gort::go([] { throw std::runtime_error("boom"); });
  spawned = 1;
}

void goroutine_body_throws() {
  arm_watchdog();
  gort::run([] {
    fatal_test_spawner();
    block_forever();
  });
}

// The smallest stack gort allows: printing the trace must not need the goroutine's stack
// (symbolising with libdw takes ~150 KiB).
void goroutine_throws_on_the_smallest_stack() {
  gort::debug::set_max_stack(1);
  goroutine_throws();
}

void main_panics_with_42() {
  arm_watchdog();
  gort::run([] { gort::panic(42); });
}

void goroutine_panics_with_42() {
  arm_watchdog();
  gort::run([] {
    gort::go([] { gort::panic(42); });
    block_forever();
  });
}

void goroutine_throws_with_gotraceback(const char* level) {
  setenv("GOTRACEBACK", level, 1);
  goroutine_throws();
}

// As goroutine_throws, but the throw waits until main is parked, so that the dump must
// show it waiting (a slow start can get main preempted first, and it then shows as
// runnable).
void goroutine_throws_once_main_parked() {
  setenv("GOTRACEBACK", "all", 1);
  arm_watchdog();
  gort::run([] {
    gort::go([] {
      while (gort::rt::format_all_goroutines(false).find("goroutine 1 [semacquire]:") ==
             std::string::npos)
        gort::time::sleep(std::chrono::milliseconds(1));
      fatal_test_thrower();
    });
    block_forever();
  });
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
  one_processor();  // on the thread that called gort::run: see StackOverflowOnARuntimeThread
  arm_watchdog();
  gort::run([] {
    gort::go([] { std::printf("%d\n", recurse(0)); });
    block_forever();
  });
}

// The overflowing goroutine starts after 1,000 others have parked on their own stacks, so its
// stack comes from a slab far into the address space the stack pool reserved in growing
// pieces: every stack of every slab has its guard.
void goroutine_overflows_behind_many_parked() {
  one_processor();
  arm_watchdog();
  gort::run([] {
    gort::sync::wait_group parked;
    constexpr int kParked = 1000;  // 8 slabs: the last from the fourth reservation
    parked.add(kParked);
    for (int i = 0; i < kParked; i++)
      gort::go([&parked] {
        parked.done();
        block_forever();
      });
    parked.wait();
    gort::go([] { std::printf("%d\n", recurse(0)); });
    block_forever();
  });
}

void goroutine_overflows_on_a_runtime_thread() {
  arm_watchdog();
  gort::run([] {
    gort::lock_os_thread();  // main keeps the thread that called gort::run
    gort::go([] { std::printf("%d\n", recurse(0)); });
    block_forever();
  });
}

void main_overflows_its_stack() {
  arm_watchdog();
  gort::run([] { std::printf("%d\n", recurse(0)); });
}

// ---- faults ----

int* volatile null_pointer = nullptr;  // volatile: the compiler cannot prove the deref UB
volatile int zero_divisor = 0;
volatile int dividend = 7;  // GCC turns 1 / x into compares, which never trap

__attribute__((noinline)) void fatal_test_write_through_null() { *null_pointer = 1; }
__attribute__((noinline)) int fatal_test_divide(int x) { return x / zero_divisor; }

// Runs `fault` in a goroutine while main waits for it.
template <class F>
void goroutine_faults(F fault) {
  arm_watchdog();
  gort::run([fault] {
    gort::sync::wait_group wg;
    wg.go([fault] {
      fault();
      std::printf("survived\n");
    });
    wg.wait();
  });
}

void nil_dereference_in_a_goroutine() { goroutine_faults(fatal_test_write_through_null); }

void protected_page_written_in_a_goroutine() {
  goroutine_faults([] {
    void* p = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *static_cast<volatile int*>(p) = 1;
  });
}

void division_by_zero_in_a_goroutine() {
  goroutine_faults([] { std::printf("%d\n", fatal_test_divide(dividend)); });
}

void nil_dereference_with_gotraceback_none() {
  setenv("GOTRACEBACK", "none", 1);
  nil_dereference_in_a_goroutine();
}

// GOTRACEBACK=crash, without writing a core file.
void set_gotraceback_crash() {
  setenv("GOTRACEBACK", "crash", 1);
  struct rlimit none {};
  setrlimit(RLIMIT_CORE, &none);
}

void nil_dereference_with_gotraceback_crash() {
  set_gotraceback_crash();
  nil_dereference_in_a_goroutine();
}

// A handler the program installed before gort::run keeps getting its faults.
void fault_with_the_programs_own_handler() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { _exit(7); };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  nil_dereference_in_a_goroutine();
}

// A thread the runtime does not own is not the runtime's to report on.
void nil_dereference_on_a_plain_thread() {
  arm_watchdog();
  gort::run([] {
    std::thread t(fatal_test_write_through_null);
    t.join();
  });
}

// ---- SIGQUIT ----

void sigquit_while_running() {
  arm_watchdog();
  gort::run([] {
    gort::sync::wait_group wg;
    wg.go([] {
      gort::time::sleep(100ms);  // main is parked in wg.wait() by then
      kill(getpid(), SIGQUIT);
      gort::time::sleep(3s);  // the dump ends the process long before
    });
    wg.wait();
  });
}

// The dump is sysmon's work; main returns before sysmon can start it.
void main_returns_right_after_raising_sigquit() {
  arm_watchdog();
  gort::run([] { raise(SIGQUIT); });
}

void sigquit_raised_on_a_goroutine() {
  one_processor();  // on the thread that called gort::run: see SigquitRaisedOnARuntimeThread
  arm_watchdog();
  gort::run([] {
    gort::sync::wait_group wg;
    wg.go([] {
      raise(SIGQUIT);
      gort::time::sleep(3s);
    });
    wg.wait();
  });
}

void sigquit_raised_on_a_runtime_thread() {
  arm_watchdog();
  gort::run([] {
    gort::lock_os_thread();  // main keeps the thread that called gort::run
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

// ---- deadlock ----

TEST(FatalDeathTest, GlobalDeadlock) {
  EXPECT_EXIT(deadlock_after_goroutines_came_and_went(), testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!\n.*goroutine 1 \\[semacquire\\]:");
}

// The first moments of a process: sysmon has only just started (its thread must not pass
// for a foreign thread that could still wake someone).
TEST(FatalDeathTest, DeadlockRightAtStartIsReported) {
  EXPECT_EXIT(main_waits_forever_at_once(), testing::ExitedWithCode(2),
              "fatal error: all goroutines are asleep - deadlock!\n.*goroutine 1 \\[semacquire\\]:");
}

TEST(FatalDeathTest, GlobalDeadlockPrintsEveryGoroutine) {
  EXPECT_EXIT(every_goroutine_waits(), testing::ExitedWithCode(2),
              output({"^fatal error: all goroutines are asleep - deadlock!\n",
                      "goroutine 1 \\[semacquire\\]:",
                      "(goroutine [0-9]+ \\[semacquire\\]:.*){4}"}));
}

TEST(FatalDeathTest, MainGoexitWithNoGoroutineLeft) {
  EXPECT_EXIT(main_goexits_after_the_others_finish(), testing::ExitedWithCode(2),
              "fatal error: no goroutines \\(main called runtime.Goexit\\) - deadlock!");
}

TEST(FatalDeathTest, GotracebackNoneAppliesToFatalErrors) {
  EXPECT_EXIT(deadlock_with_gotraceback_none(), testing::ExitedWithCode(2),
              output({"^fatal error: all goroutines are asleep - deadlock!\n"},
                     {"goroutine [0-9]+ \\["}));
}

// ---- panics ----

TEST(FatalDeathTest, ExceptionEscapingAGoroutine) {
  // GOTRACEBACK=single (the default): only the panicking goroutine.
  EXPECT_EXIT(goroutine_throws(), testing::ExitedWithCode(2),
              output({"^panic: boom\n\ngoroutine ([2-9]|[1-9][0-9]+) \\[running\\]:\n"},
                     {"goroutine 1 \\["}));
}

TEST(FatalDeathTest, PanicInAGoroutineWithTheSmallestStack) {
  // A frame and its location line.
  EXPECT_EXIT(goroutine_throws_on_the_smallest_stack(), testing::ExitedWithCode(2),
              "^panic: boom\n\ngoroutine [0-9]+ \\[running\\]:\n[^\n]+\n\t[^\n]+\n");
}

// The trace starts where the exception was thrown (gort records it in __cxa_throw).
TEST(FatalDeathTest, PanicTraceStartsAtTheThrowSite) {
  EXPECT_EXIT(goroutine_throws(), testing::ExitedWithCode(2),
              "^panic: boom\n\ngoroutine [0-9]+ \\[running\\]:\n[^\n]*fatal_test_thrower");
}

// Go names the goroutine's function (main.main.func1); gort names the lambda, also when
// it was inlined into the runtime's thunk that calls it.
TEST(FatalDeathTest, PanicTraceNamesTheGoroutinesFunction) {
  EXPECT_EXIT(goroutine_body_throws(), testing::ExitedWithCode(2),
              "^panic: boom\n\ngoroutine [0-9]+ \\[running\\]:\n"
              "[^\n]*fatal_test_spawner\\(\\)::(\\{lambda\\(\\)#1\\}|\\$_[0-9]+)"  // GCC's, Clang's name
              "\\(\\.\\.\\.\\)\n\t[^\n]+\n"
              "created by [^\n]*fatal_test_spawner");
}

// As in Go, the trace ends with the go statement that created the goroutine.
TEST(FatalDeathTest, PanicTraceEndsWithCreatedBy) {
  EXPECT_EXIT(goroutine_throws(), testing::ExitedWithCode(2),
              "^panic: boom\n\ngoroutine [0-9]+ \\[running\\]:\n.*\ncreated by ");
}

TEST(FatalDeathTest, PanicValueEscapingMain) {
  EXPECT_EXIT(main_panics_with_42(), testing::ExitedWithCode(2),
              "^panic: 42\n\ngoroutine 1 \\[running\\]:\n");
}

TEST(FatalDeathTest, PanicValueEscapingAGoroutine) {
  EXPECT_EXIT(goroutine_panics_with_42(), testing::ExitedWithCode(2),
              "^panic: 42\n\ngoroutine [0-9]+ \\[running\\]:\n");
}

TEST(FatalDeathTest, GotracebackNonePrintsThePanicAlone) {
  EXPECT_EXIT(goroutine_throws_with_gotraceback("none"), testing::ExitedWithCode(2),
              output({"^panic: boom\n"}, {"goroutine [0-9]+ \\["}));
}

TEST(FatalDeathTest, GotracebackAllPrintsTheOtherGoroutinesToo) {
  SKIP_UNDER_TSAN_DUMP_RACE();
  EXPECT_EXIT(goroutine_throws_once_main_parked(), testing::ExitedWithCode(2),
              output({"^panic: boom\n\ngoroutine [0-9]+ \\[running\\]:\n",
                      "goroutine 1 \\[semacquire\\]:"}));
}

// ---- stack overflow ----

TEST(FatalDeathTest, StackOverflowInAGoroutine) {
#if defined(GORT_ASAN) || defined(GORT_TSAN)
  GTEST_SKIP() << "the sanitizer's own SIGSEGV handling reports the overflow";
#endif
  EXPECT_EXIT(goroutine_overflows_its_stack(), testing::ExitedWithCode(2),
              "runtime: goroutine stack exceeds [0-9]+-byte limit\n.*fatal error: stack overflow");
}

TEST(FatalDeathTest, StackOverflowInAGoroutineBehindManyParkedOnes) {
#if defined(GORT_ASAN) || defined(GORT_TSAN)
  GTEST_SKIP() << "the sanitizer's own SIGSEGV handling reports the overflow";
#endif
  EXPECT_EXIT(goroutine_overflows_behind_many_parked(), testing::ExitedWithCode(2),
              "runtime: goroutine stack exceeds [0-9]+-byte limit\n.*fatal error: stack overflow");
}

// A stack overflow is reported on whichever thread the goroutine runs.
TEST(FatalDeathTest, StackOverflowOnARuntimeThread) {
#if defined(GORT_ASAN) || defined(GORT_TSAN)
  GTEST_SKIP() << "the sanitizer's own SIGSEGV handling reports the overflow";
#endif
  EXPECT_EXIT(goroutine_overflows_on_a_runtime_thread(), testing::ExitedWithCode(2),
              "runtime: goroutine stack exceeds [0-9]+-byte limit\n.*fatal error: stack overflow");
}

TEST(FatalDeathTest, StackOverflowInMain) {
#if defined(GORT_ASAN) || defined(GORT_TSAN)
  GTEST_SKIP() << "the sanitizer's own SIGSEGV handling reports the overflow";
#endif
  EXPECT_EXIT(main_overflows_its_stack(), testing::ExitedWithCode(2),
              "runtime: goroutine stack exceeds [0-9]+-byte limit\n.*fatal error: stack overflow");
}

// ---- faults ----

// The sanitizers handle SIGSEGV and SIGFPE themselves (their report is the better one).
#if defined(GORT_ASAN) || defined(GORT_TSAN)
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "the sanitizer reports the fault itself"
#else
#define SKIP_UNDER_SANITIZERS() static_cast<void>(0)
#endif

TEST(FatalDeathTest, NilDereferenceInAGoroutine) {
  SKIP_UNDER_SANITIZERS();
  EXPECT_EXIT(nil_dereference_in_a_goroutine(), testing::ExitedWithCode(2),
              output({"^panic: runtime error: invalid memory address or nil pointer dereference\n"
                      "\\[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x[0-9a-f]+\\]\n"
                      "\ngoroutine [0-9]+ \\[running\\]:\n"
                      "[^\n]*fatal_test_write_through_null\\(\\)",
                      "\ncreated by "},
                     {"survived"}));
}

TEST(FatalDeathTest, FaultAtAnAddressAboveThePageZeroIsAFatalError) {
  SKIP_UNDER_SANITIZERS();
  EXPECT_EXIT(protected_page_written_in_a_goroutine(), testing::ExitedWithCode(2),
              output({"^unexpected fault address 0x[0-9a-f]+\nfatal error: fault\n"
                      "\\[signal SIGSEGV: segmentation violation code=0x2 addr=0x[0-9a-f]+ "
                      "pc=0x[0-9a-f]+\\]\n\ngoroutine [0-9]+ \\[running\\]:\n",
                      "goroutine 1 \\[semacquire\\]:"},
                     {"survived"}));
}

TEST(FatalDeathTest, IntegerDivisionByZeroInAGoroutine) {
  SKIP_UNDER_SANITIZERS();
  EXPECT_EXIT(division_by_zero_in_a_goroutine(), testing::ExitedWithCode(2),
              output({"^panic: runtime error: integer divide by zero\n"
                      "\\[signal SIGFPE: floating-point exception code=0x1 addr=0x[0-9a-f]+ "
                      "pc=0x[0-9a-f]+\\]\n\ngoroutine [0-9]+ \\[running\\]:\n"
                      "[^\n]*fatal_test_divide\\(int\\)"}));
}

TEST(FatalDeathTest, FaultWithGotracebackNonePrintsNoGoroutine) {
  SKIP_UNDER_SANITIZERS();
  EXPECT_EXIT(nil_dereference_with_gotraceback_none(), testing::ExitedWithCode(2),
              output({"^panic: runtime error: invalid memory address or nil pointer dereference\n"
                      "\\[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x[0-9a-f]+\\]\n$"}));
}

// GOTRACEBACK=crash: the same report, then death by SIGABRT (for a core dump), as in Go.
TEST(FatalDeathTest, FaultWithGotracebackCrashEndsBySigabrt) {
  SKIP_UNDER_SANITIZERS();
  EXPECT_EXIT(nil_dereference_with_gotraceback_crash(), testing::KilledBySignal(SIGABRT),
              output({"^panic: runtime error: invalid memory address or nil pointer dereference\n"
                      "\\[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x[0-9a-f]+\\]\n"
                      "\ngoroutine [0-9]+ \\[running\\]:\n"}));
}

TEST(FatalDeathTest, PanicWithGotracebackCrashEndsBySigabrt) {
  EXPECT_EXIT(
      [] {
        set_gotraceback_crash();
        goroutine_throws();
      }(),
      testing::KilledBySignal(SIGABRT), "^panic: boom\n\ngoroutine [0-9]+ \\[running\\]:\n");
}

TEST(FatalDeathTest, FaultGoesToTheHandlerInstalledBeforeTheRuntime) {
#if defined(GORT_ASAN)
  GTEST_SKIP() << "UBSan (in the ASan build) stops at the null store before it faults";
#endif
  EXPECT_EXIT(fault_with_the_programs_own_handler(), testing::ExitedWithCode(7), "");
}

TEST(FatalDeathTest, FaultOnAThreadTheRuntimeDoesNotOwnIsLeftAlone) {
  SKIP_UNDER_SANITIZERS();
  EXPECT_EXIT(nil_dereference_on_a_plain_thread(), testing::KilledBySignal(SIGSEGV),
              output({}, {"panic:", "fatal error:"}));
}

// ---- SIGQUIT ----

TEST(FatalDeathTest, SigquitDumpsEveryGoroutine) {
  SKIP_UNDER_TSAN_DUMP_RACE();
  EXPECT_EXIT(sigquit_while_running(), testing::ExitedWithCode(2),
              output({"SIGQUIT: quit\nPC=0x[0-9a-f]+ m=-?[0-9]+ sigcode=0\n\n",  // kill(): SI_USER
                      "goroutine 1 \\[semacquire\\]:",
                      "goroutine [0-9]+ \\[(sleep|running|runnable)"}));
}

// Go names main's frame main.main; gort names the function given to gort::run, also when
// it is inlined into the runtime's thunk that calls it.
TEST(FatalDeathTest, DumpNamesTheMainGoroutinesFunction) {
  SKIP_UNDER_TSAN_DUMP_RACE();
  EXPECT_EXIT(sigquit_while_running(), testing::ExitedWithCode(2),
              output({"goroutine 1 \\[semacquire\\]:\n.*sigquit_while_running\\(\\)::"
                      "(\\{lambda\\(\\)#1\\}|\\$_[0-9]+)\\(\\.\\.\\.\\)\n"}));
}

TEST(FatalDeathTest, SigquitRaisedOnAGoroutineThread) {
  SKIP_UNDER_TSAN_DUMP_RACE();
  EXPECT_EXIT(sigquit_raised_on_a_goroutine(), testing::ExitedWithCode(2),
              "SIGQUIT: quit\nPC=0x[0-9a-f]+ m=[0-9]+ sigcode=18446744073709551610\n\n"  // raise()
              ".*goroutine 1 \\[");
}

// As in Go, a dump (or a fatal panic) under way when main returns ends the process with
// status 2; main's return does not cut it short with main's exit code.
TEST(FatalDeathTest, SigquitDumpEndsTheProcessEvenWhenMainReturnsFirst) {
  SKIP_UNDER_TSAN_DUMP_RACE();
  EXPECT_EXIT(main_returns_right_after_raising_sigquit(), testing::ExitedWithCode(2),
              "SIGQUIT: quit\nPC=0x[0-9a-f]+ m=[0-9]+ sigcode=18446744073709551610\n\n"
              ".*goroutine 1 \\[running\\]:");
}

// SIGQUIT raised on a runtime thread dumps and exits like any other.
TEST(FatalDeathTest, SigquitRaisedOnARuntimeThread) {
  SKIP_UNDER_TSAN_DUMP_RACE();
  EXPECT_EXIT(sigquit_raised_on_a_runtime_thread(), testing::ExitedWithCode(2),
              "SIGQUIT: quit\n.*goroutine 1 \\[");
}

// ---- no false deadlock ----

TEST(FatalDeathTest, NoDeadlockWhileATimerIsPending) {
  EXPECT_EXIT(main_waits_for_a_sleeper(), testing::ExitedWithCode(0),
              output({"^run returned\n$"}));
}

TEST(FatalDeathTest, DeadlockIsReportedOnceTheLastTimerHasFired) {
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
