// traceback: see traceback.hpp.
#include "sched/traceback.hpp"

#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/context.hpp"
#include "sched/fatal.hpp"
#include "sched/sched.hpp"
#include "sched/symbolize.hpp"

namespace gort::rt {
namespace {

constexpr int kMaxFrames = 100;  // Go elides frames after 100

// Runtime frames: gort::rt::*, the goroutine entry shims (gort::detail::*, gort::run's
// body), the context switch. Template names may carry a return type in front.
bool is_runtime_frame(const std::string& fn) {
  size_t name_end = fn.find('(');
  auto starts = [&](const char* prefix) {
    size_t at = fn.find(prefix);
    return at != std::string::npos && at < name_end && (at == 0 || fn[at - 1] == ' ');
  };
  return starts("gort::rt::") || starts("gort::detail::") || starts("gort::run<") ||
         fn == "gort_swap_context" || fn == "gort_start_trampoline" || fn == "__cxa_throw" ||
         fn == "__restore_rt";
}

const char* status_string(g* gp) {
  switch (gp->status.load(std::memory_order_relaxed)) {
    case gstatus::idle: return "idle";
    case gstatus::runnable: return "runnable";
    case gstatus::running: return "running";
    case gstatus::syscall: return "syscall";
    case gstatus::waiting: return wait_reason_string(gp->waitreason);
    case gstatus::dead: return "dead";
    case gstatus::zombie: return "zombie";
  }
  return "unknown";
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
    case wait_reason::wait_group_wait: return "semacquire";
    case wait_reason::locked_thread_wait: return "locked thread";
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

void format_frames(std::string& out, void* const* pcs, int n, bool skip_runtime) {
  int printed = 0;
  for (int i = 0; i < n; i++) {
    symbol s = symbolize(reinterpret_cast<uintptr_t>(pcs[i]));
    if (skip_runtime && is_runtime_frame(s.function)) continue;
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
    printed++;
  }
}

void format_goroutine(std::string& out, g* gp, bool current) {
  char buf[160];
  std::string state = status_string(gp);
  gstatus st = gp->status.load(std::memory_order_relaxed);
  if (st == gstatus::waiting && gp->waitsince != 0) {
    int64_t mins = (coarse_nanotime() - gp->waitsince) / 60'000'000'000LL;
    if (mins >= 1) state += ", " + std::to_string(mins) + " minutes";
  }
  if (gp->lockedm != nullptr) state += ", locked to thread";
  snprintf(buf, sizeof buf, "goroutine %lld [%s]:\n", (long long)gp->goid, state.c_str());
  out += buf;
  bool skip = traceback_level() < 3;
  void* pcs[kMaxFrames + 20];
  int n = 0;
  if (current) {
    n = backtrace(pcs, kMaxFrames + 20);
  } else if (st == gstatus::running || st == gstatus::syscall) {
    out += "\tgoroutine running on other thread; stack unavailable\n";
  } else if (gp->sp != nullptr) {
    auto sp = reinterpret_cast<uintptr_t>(gp->sp);
    pcs[0] = reinterpret_cast<void*>(saved_pc(gp->sp));
    n = 1 + walk_frames(saved_frame_pointer(gp->sp), sp, gp->stk.hi, pcs + 1, kMaxFrames + 19);
  }
  format_frames(out, pcs, n, skip);
  if (gp->gopc != 0) {
    // gopc is a return address inside the code that called gort::go.
    void* pc = reinterpret_cast<void*>(gp->gopc);
    std::string created;
    format_frames(created, &pc, 1, false);
    size_t paren = created.find("(...)");
    if (paren != std::string::npos) created.erase(paren, 5);
    out += "created by " + created;
  }
}

std::string format_all_goroutines(bool include_current) {
  std::string out;
  g* self = current_g();
  if (include_current && self != nullptr) {
    format_goroutine(out, self, true);
  }
  os::rt_lock_guard lk(sched.allglock);
  for (g* gp : sched.allgs) {
    if (gp == self) continue;
    gstatus st = gp->status.load(std::memory_order_relaxed);
    if (st == gstatus::dead || st == gstatus::idle || st == gstatus::zombie) continue;
    if (!out.empty()) out += "\n";
    format_goroutine(out, gp, false);
  }
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
