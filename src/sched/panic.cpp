// panic: how the runtime dies, and the throw-site capture that lets an unrecovered panic
// print where it was thrown (Go prints the panic site because deferred calls run on top of
// the panicking frames; C++ unwinds them, so gort records the frames when the exception is
// thrown). See fatal.hpp.
//
// Output, as Go's:
//   panic: <what()>                         fatal error: <message>
//                                            
//   goroutine 5 [running]:                  goroutine 1 [chan receive]:
//   <frames>                                <frames>
// and exit status 2. A fault in a goroutine's code prints as Go's sigpanic does: the panic
// (or `unexpected fault address` and `fatal error: fault`) and then its `[signal ...]` line.
// GOTRACEBACK: none prints no goroutines, single (default) the
// panicking one, all/system/crash every goroutine (fatal errors always print all); crash
// then ends the process with SIGABRT (a core dump) instead of exit status 2.
#include <cxxabi.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <typeinfo>

#include "gort/errors.hpp"
#include "sched/fatal.hpp"
#include "sched/sched.hpp"
#include "sched/sysmon.hpp"
#include "sched/traceback.hpp"

namespace gort::rt {
namespace {

std::atomic<bool> dying{false};

void write_all(const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = write(2, s.data() + off, s.size() - off);
    if (w <= 0) break;
    off += size_t(w);
  }
}

thread_local bool this_thread_dying = false;  // this thread called start_dying first

}  // namespace

// Only one thread prints its death; others wait for the exit. A fault while dying (in
// the dying thread itself) ends the process at once rather than waiting for itself.
void start_dying() {
  if (dying.exchange(true)) {
    if (this_thread_dying) {
      static const char msg[] = "fatal error: unexpected fault while printing a fatal error\n";
      ssize_t r = write(2, msg, sizeof msg - 1);
      (void)r;
      _exit(2);
    }
    for (;;) pause();
  }
  this_thread_dying = true;
}

bool process_dying() { return dying.load(std::memory_order_acquire) || sigquit_requested(); }

namespace {

// GOTRACEBACK=crash: after the trace, die of SIGABRT (a core dump where the system makes
// them) instead of exiting with status 2, as Go's crash() does.
bool traceback_crash() {
  static const bool crash = [] {
    const char* s = getenv("GOTRACEBACK");
    return s != nullptr && strcmp(s, "crash") == 0;
  }();
  return crash;
}

[[noreturn]] void die() {
  fflush(nullptr);
  if (traceback_crash()) {
    signal(SIGABRT, SIG_DFL);
    sigset_t abrt;
    sigemptyset(&abrt);
    sigaddset(&abrt, SIGABRT);
    pthread_sigmask(SIG_UNBLOCK, &abrt, nullptr);
    raise(SIGABRT);
  }
  _exit(2);
}

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (const char* s) {
    return s;
  } catch (const std::string& s) {
    return s;
  } catch (...) {
    std::type_info* t = abi::__cxa_current_exception_type();
    int status = 0;
    char* d = t != nullptr ? abi::__cxa_demangle(t->name(), nullptr, nullptr, &status) : nullptr;
    std::string name = d != nullptr ? d : (t != nullptr ? t->name() : "unknown");
    free(d);
    return "(" + name + ")";
  }
}

}  // namespace

int traceback_level() {
  static const int level = [] {
    const char* s = getenv("GOTRACEBACK");
    if (s == nullptr || strcmp(s, "single") == 0 || *s == '\0') return 1;
    if (strcmp(s, "none") == 0 || strcmp(s, "0") == 0) return 0;
    if (strcmp(s, "all") == 0 || strcmp(s, "1") == 0) return 2;
    if (strcmp(s, "system") == 0 || strcmp(s, "crash") == 0 || strcmp(s, "2") == 0) return 3;
    return 1;
  }();
  return level;
}

void fatal_with(const char* preamble, const char* msg, const char* postscript) {
  start_dying();
  std::string out;
  if (preamble != nullptr) out += preamble;
  out += "fatal error: ";
  out += msg;
  out += "\n";
  if (postscript != nullptr) out += postscript;
  write_all(out);
  if (traceback_level() > 0) print_all_goroutines(true);
  die();
}

void fatal(const char* msg) { fatal_with(nullptr, msg); }

namespace {

// `panic: <value>`, an optional signal line, and the trace of gp, which is the caller. Its
// frames are those captured where the exception was thrown when `at_throw` and captured,
// else the calling thread's (through a signal frame, in a handler).
[[noreturn]] void die_of_panic(g* gp, const std::string& value, const char* signal_line,
                               bool at_throw) {
  start_dying();
  std::string out = "panic: " + value + "\n";
  if (signal_line != nullptr) out += signal_line;
  int level = traceback_level();
  if (level > 0) {
    out += "\n";
    char buf[64];
    snprintf(buf, sizeof buf, "goroutine %lld [running]:\n", (long long)gp->goid);
    out += buf;
    void* here[120];
    void* const* pcs = gp->throw_trace;
    int n = at_throw ? gp->throw_depth : 0;
    if (n == 0) {
      n = capture_frames(here, 120);
      pcs = here;
    }
    with_big_stack([&] {
      format_frames(out, pcs, n, level < 3);
      format_created_by(out, gp->gopc);
    });
    if (level >= 2) {
      std::string others = format_all_goroutines(false);
      if (!others.empty()) out += "\n" + others;
    }
  }
  write_all(out);
  die();
}

// Go's names for the signals it prints (runtime/sigtab_linux_generic.go).
const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV: segmentation violation";
    case SIGBUS: return "SIGBUS: bus error";
    case SIGFPE: return "SIGFPE: floating-point exception";
    default: return "signal";
  }
}

}  // namespace

void fatal_panic(g* gp, std::exception_ptr e) { die_of_panic(gp, describe(e), nullptr, true); }

void fatal_signal(g* gp, int sig, const siginfo_t* info, uintptr_t pc) {
  auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  int code = info->si_code;
  char line[160];  // Go prints every number as hex with 0x, zero too
  snprintf(line, sizeof line, "[signal %s code=0x%x addr=0x%lx pc=0x%lx]\n", signal_name(sig),
           unsigned(code), (unsigned long)addr, (unsigned long)pc);
  if (gp == nullptr) fatal_with(nullptr, "unexpected signal during runtime execution", line);
  // Go: sigpanic. The kernel reports a non-canonical address as code SI_KERNEL, address 0,
  // which is not a nil dereference.
  const char* what = nullptr;
  if (sig == SIGSEGV && (code == SEGV_MAPERR || code == SEGV_ACCERR) && addr < 0x1000)
    what = "invalid memory address or nil pointer dereference";
  else if (sig == SIGBUS && code == BUS_ADRERR && addr < 0x1000)
    what = "invalid memory address or nil pointer dereference";
  else if (sig == SIGFPE)
    what = code == FPE_INTDIV ? "integer divide by zero"
           : code == FPE_INTOVF ? "integer overflow"
                                : "floating point error";
  if (what == nullptr) {
    char preamble[64];
    snprintf(preamble, sizeof preamble, "unexpected fault address 0x%lx\n", (unsigned long)addr);
    fatal_with(preamble, "fault", line);
  }
  die_of_panic(gp, std::string("runtime error: ") + what, line, false);
}

void fatal_stack_overflow(g* gp, uintptr_t sp) {
  char buf[256];
  snprintf(buf, sizeof buf,
           "runtime: goroutine stack exceeds %zu-byte limit\n"
           "runtime: sp=%#lx stack=[%#lx, %#lx]\n",
           gp->stk.usable_size(), (unsigned long)sp, (unsigned long)gp->stk.usable_lo,
           (unsigned long)gp->stk.hi);
  fatal_with(buf, "stack overflow");
}

}  // namespace gort::rt

