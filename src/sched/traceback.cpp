// traceback: see traceback.hpp.
#include "sched/traceback.hpp"

#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/thread.hpp"
#include "sched/context.hpp"
#include "sched/fatal.hpp"
#include "sched/sched.hpp"
#include "sched/stack_release.hpp"
#include "sched/symbolize.hpp"

namespace gort::rt {
namespace {

constexpr int kMaxFrames = 100;  // Go elides frames after 100

// Where the qualified name of function `fn` starts with `prefix` (after a return type,
// which template names may carry in front), or npos.
size_t name_prefix_at(const std::string& fn, const char* prefix) {
  size_t at = fn.find(prefix);
  bool starts = at != std::string::npos && at < fn.find('(') && (at == 0 || fn[at - 1] == ' ');
  return starts ? at : std::string::npos;
}

// Runtime frames: gort::rt::*, the goroutine entry shims (gort::detail::*), the context
// switch.
bool is_runtime_frame(const std::string& fn) {
  auto starts = [&](const char* prefix) { return name_prefix_at(fn, prefix) != std::string::npos; };
  // Names the demangler gave up on still show gort's namespaces in their mangled form.
  if (fn.rfind("_Z", 0) == 0 &&
      (fn.find("4gort2rt") != std::string::npos || fn.find("4gort6detail") != std::string::npos))
    return true;
  // (gort::run<F>'s frames are named after F, not hidden: see goroutine_function.)
  return starts("gort::rt::") || starts("gort::detail::") ||
         fn == "gort_swap_context" || fn == "gort_start_trampoline" || fn == "__cxa_throw" ||
         fn == "__restore_rt" || starts("__interceptor_") || starts("__sanitizer");
}

// A goroutine's entry thunk (gort::detail::invoke_closure<std::tuple<F, Args...>> or
// invoke_boxed), or the main goroutine's (inside gort::run<F>), is where the goroutine's
// function F runs, usually inlined into it: its frame is named after F, the function the go
// statement started or gort::run was given (Go prints that one, e.g. main.main.func1 or
// main.main). Empty for any other frame.
std::string goroutine_function(const std::string& fn) {
  size_t start = std::string::npos;
  for (const char* thunk : {"gort::detail::invoke_closure<std::tuple<",
                            "gort::detail::invoke_boxed<std::tuple<", "gort::run<"}) {
    if (size_t at = name_prefix_at(fn, thunk); at != std::string::npos) {
      start = at + strlen(thunk);
      break;
    }
  }
  if (start == std::string::npos) return {};
  int depth = 0;
  for (size_t i = start; i < fn.size(); i++) {
    char c = fn[i];
    if (c == '<' || c == '(' || c == '{' || c == '[') depth++;
    else if ((c == '>' || c == ')' || c == '}' || c == ']') && depth > 0) depth--;
    else if ((c == ',' || c == '>') && depth == 0) return fn.substr(start, i - start);
  }
  return {};
}

}  // namespace

const char* wait_reason_string(wait_reason r) {
  switch (r) {
    case wait_reason::zero: return "";
    case wait_reason::chan_receive: return "chan receive";
    case wait_reason::chan_send: return "chan send";
    case wait_reason::select: return "select";
    case wait_reason::select_no_cases: return "select (no cases)";
    case wait_reason::chan_receive_nil_chan: return "chan receive (nil chan)";
    case wait_reason::chan_send_nil_chan: return "chan send (nil chan)";
    case wait_reason::sleep: return "sleep";
    case wait_reason::io_wait: return "IO wait";
    case wait_reason::sync_cond_wait: return "sync.Cond.Wait";
    case wait_reason::semacquire: return "semacquire";
    case wait_reason::preempted: return "preempted";
  }
  return "unknown";
}

__attribute__((no_sanitize("address", "thread"))) int walk_frames(uintptr_t fp, uintptr_t lo,
                                                                   uintptr_t hi, void** pcs,
                                                                   int max) {
  int n = 0;
  while (n < max && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
    auto* frame = reinterpret_cast<const uintptr_t*>(fp);
    uintptr_t ret = frame[1];
    if (ret == 0) break;
    pcs[n++] = reinterpret_cast<void*>(ret);
    uintptr_t next = frame[0];
    if (next <= fp) break;  // frames only go up the stack
    fp = next;
  }
  return n;
}

// The frames of a goroutine that is not running, from its saved context. A dump is a
// snapshot taken while other goroutines run (as Go's is): the goroutine may start running
// while we read, so these reads are deliberately unsynchronised and only ever follow
// pointers that stay inside the goroutine's stack.
__attribute__((no_sanitize("address", "thread"))) int walk_parked(g* gp, void** pcs, int max) {
  // An idle goroutine's released stack comes back first (no fault: this may run in a
  // SIGSEGV handler, where a second fault would kill the process).
  if (*static_cast<unsigned char* volatile*>(&gp->stk_saved) != nullptr) restore_stack(gp);
  void* saved = *static_cast<void* volatile*>(&gp->sp);
  auto sp = reinterpret_cast<uintptr_t>(saved);
  if (saved == nullptr || sp < gp->stk.usable_lo || sp + kSwitchFrameSize > gp->stk.hi) return 0;
  auto* frame = reinterpret_cast<const volatile uintptr_t*>(sp);
  pcs[0] = reinterpret_cast<void*>(frame[7]);
  return 1 + walk_frames(frame[6], sp, gp->stk.hi, pcs + 1, max - 1);
}

void format_frames(std::string& out, void* const* pcs, int n, bool skip_runtime) {
  int printed = 0;
  std::string last;  // the function of the last frame printed
  for (int i = 0; i < n; i++) {
    symbol s = symbolize(reinterpret_cast<uintptr_t>(pcs[i]));
    if (std::string body = goroutine_function(s.function); !body.empty()) {
      if (last.compare(0, body.size(), body) == 0) continue;  // its own frame came first
      s.function = body;
    } else if (skip_runtime && is_runtime_frame(s.function)) {
      continue;
    }
    // The signal trampoline of a fault (stack overflow) has no symbol.
    if (s.function == "?" && s.location.find("libc.so") != std::string::npos) continue;
    if (printed == kMaxFrames) {
      out += "...additional frames elided...\n";
      break;
    }
    out += s.function;
    out += "(...)\n\t";
    out += s.location;
    out += "\n";
    last = std::move(s.function);
    printed++;
  }
}

int capture_frames(void** pcs, int max) { return backtrace(pcs, max); }

void with_big_stack(void (*fn)(void*), void* arg) {
  stack_t ss;
  bool on_signal_stack = sigaltstack(nullptr, &ss) == 0 && (ss.ss_flags & SS_ONSTACK);
  if (current_g() == nullptr || on_signal_stack) {
    fn(arg);  // a thread's own stack or the 1 MiB signal stack is big enough
    return;
  }
  os::run_on_big_stack(fn, arg);
}

namespace {

// What a dump shows of a goroutine's header. Other goroutines keep running while a dump is
// taken (as in Go), so these plain fields are read without synchronisation on purpose.
struct g_header {
  int64_t goid;
  gstatus status;
  wait_reason reason;
  int64_t waitsince;
  bool locked;
  uintptr_t gopc;
};

__attribute__((no_sanitize("thread"))) g_header read_header(g* gp) {
  return {gp->goid, gp->status.load(std::memory_order_relaxed), gp->waitreason, gp->waitsince,
          gp->lockedm != nullptr, gp->gopc};
}

const char* status_string(const g_header& h) {
  switch (h.status) {
    case gstatus::idle: return "idle";
    case gstatus::runnable: return "runnable";
    case gstatus::running: return "running";
    case gstatus::syscall: return "syscall";
    case gstatus::waiting:
    case gstatus::copystack: return wait_reason_string(h.reason);
    case gstatus::dead: return "dead";
    case gstatus::zombie: return "zombie";
  }
  return "unknown";
}

}  // namespace

void format_goroutine(std::string& out, g* gp, void* const* cur_pcs, int cur_n) {
  bool current = cur_pcs != nullptr;
  char buf[160];
  g_header h = read_header(gp);
  std::string state = status_string(h);
  gstatus st = h.status;
  if ((st == gstatus::waiting || st == gstatus::copystack) && h.waitsince != 0) {
    int64_t mins = (coarse_nanotime() - h.waitsince) / 60'000'000'000LL;
    if (mins >= 1) state += ", " + std::to_string(mins) + " minutes";
  }
  if (h.locked) state += ", locked to thread";
  snprintf(buf, sizeof buf, "goroutine %lld [%s]:\n", (long long)h.goid, state.c_str());
  out += buf;
  bool skip = traceback_level() < 3;
  void* pcs[kMaxFrames + 20];
  int n = 0;
  if (current) {
    n = cur_n < kMaxFrames + 20 ? cur_n : kMaxFrames + 20;
    for (int i = 0; i < n; i++) pcs[i] = cur_pcs[i];
  } else if (st == gstatus::running || st == gstatus::syscall) {
    out += "\tgoroutine running on other thread; stack unavailable\n";
  } else {
    n = walk_parked(gp, pcs, kMaxFrames + 20);
  }
  format_frames(out, pcs, n, skip);
  format_created_by(out, h.gopc);
}

void format_created_by(std::string& out, uintptr_t gopc) {
  if (gopc == 0) return;  // the main goroutine
  // gopc is a return address inside the code that called gort::go.
  symbol s = symbolize(gopc);
  if (std::string body = goroutine_function(s.function); !body.empty()) s.function = body;
  out += "created by " + s.function + "\n\t" + s.location + "\n";
}

std::string format_all_goroutines(bool include_current) {
  std::string out;
  g* self = current_g();
  void* pcs[kMaxFrames + 20];
  int n = include_current && self != nullptr ? capture_frames(pcs, kMaxFrames + 20) : 0;
  with_big_stack([&] {
    if (n > 0) format_goroutine(out, self, pcs, n);
    os::rt_lock_guard lk(sched.allglock);
    for (g* gp : sched.allgs) {
      if (gp == self) continue;
      gstatus st = gp->status.load(std::memory_order_relaxed);
      if (st == gstatus::dead || st == gstatus::idle || st == gstatus::zombie) continue;
      if (!out.empty()) out += "\n";
      format_goroutine(out, gp, nullptr, 0);
    }
  });
  return out;
}

void print_all_goroutines(bool include_current) {
  std::string s = format_all_goroutines(include_current);
  if (!s.empty()) s = "\n" + s;
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = write(2, s.data() + off, s.size() - off);
    if (w <= 0) break;
    off += size_t(w);
  }
}

}  // namespace gort::rt
