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
// and exit status 2. GOTRACEBACK: none prints no goroutines, single (default) the
// panicking one, all/system/crash every goroutine (fatal errors always print all).
#include <cxxabi.h>
#include <dlfcn.h>
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

// Only one thread prints its death; others wait for the exit. A fault while dying (in
// the dying thread itself) ends the process at once rather than waiting for itself.
thread_local bool this_thread_dying = false;
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

[[noreturn]] void die() {
  fflush(nullptr);
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

void fatal_with(const char* preamble, const char* msg) {
  start_dying();
  std::string out;
  if (preamble != nullptr) out += preamble;
  out += "fatal error: ";
  out += msg;
  out += "\n";
  write_all(out);
  if (traceback_level() > 0) print_all_goroutines(true);
  die();
}

void fatal(const char* msg) { fatal_with(nullptr, msg); }

void fatal_panic(g* gp, std::exception_ptr e) {
  start_dying();
  std::string out = "panic: " + describe(e) + "\n";
  int level = traceback_level();
  if (level > 0) {
    out += "\n";
    char buf[64];
    snprintf(buf, sizeof buf, "goroutine %lld [running]:\n", (long long)gp->goid);
    out += buf;
    // The throw site if it was captured, else where we are now.
    void* here[120];
    void* const* pcs = gp->throw_trace;
    int n = gp->throw_depth;
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

