// signals: see signals.hpp.
#include "sched/signals.hpp"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "sched/fatal.hpp"
#include "sched/sched.hpp"
#include "sched/stack_release.hpp"
#include "sched/sysmon.hpp"

namespace gort::rt {
namespace {

constexpr size_t kAltStackSize = 1024 * 1024;  // reserved, committed lazily: tracebacks need room
struct sigaction old_segv, old_bus, old_fpe;

const struct sigaction& old_action(int sig) {
  return sig == SIGSEGV ? old_segv : sig == SIGBUS ? old_bus : old_fpe;
}

bool is_default(const struct sigaction& a) {
  return !(a.sa_flags & SA_SIGINFO) && a.sa_handler == SIG_DFL;
}

// The interrupted context's program counter and stack pointer.
void fault_pc_sp(void* ctx, uintptr_t* pc, uintptr_t* sp) {
  auto* uc = static_cast<ucontext_t*>(ctx);
#if defined(__x86_64__)
  *pc = uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
  *sp = uintptr_t(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  *pc = uintptr_t(uc->uc_mcontext.pc);
  *sp = uintptr_t(uc->uc_mcontext.sp);
#else
  *pc = *sp = 0;
#endif
}

void chain(int sig, siginfo_t* info, void* ctx, const struct sigaction& old) {
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction != nullptr) {
      old.sa_sigaction(sig, info, ctx);
      return;
    }
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting instruction faults again.
  signal(sig, SIG_DFL);
}

void on_fault(int sig, siginfo_t* info, void* ctx) {
  auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  // An access to a released stack page of an idle goroutine: put it back and retry.
  if (sig == SIGSEGV && info->si_code > 0) {
    uintptr_t pc, sp;
    fault_pc_sp(ctx, &pc, &sp);
    if (restore_stack_after_fault(addr, pc == addr)) return;
  }
  m* mp = current_m();
  g* gp = mp != nullptr ? mp->curg.load(std::memory_order_relaxed) : nullptr;
  if (sig != SIGFPE && gp != nullptr && gp->stk.in_barrier(addr)) fatal_stack_overflow(gp, addr);
  // A fault the kernel raised (not a kill) on one of the runtime's threads, which no handler
  // installed before gort's wants (a sanitizer's or the program's own gets it): Go's report.
  // It is the goroutine's when it happened on the goroutine's stack, else the runtime's.
  const struct sigaction& old = old_action(sig);
  if (mp != nullptr && info->si_code > 0 && is_default(old)) {
    uintptr_t pc, sp;
    fault_pc_sp(ctx, &pc, &sp);
    bool on_goroutine = gp != nullptr && sp >= gp->stk.lo && sp < gp->stk.hi;
    fatal_signal(on_goroutine ? gp : nullptr, sig, info, pc);
  }
  chain(sig, info, ctx, old);
}

void on_sigquit(int, siginfo_t* info, void* ctx) {
  uintptr_t pc, sp;
  fault_pc_sp(ctx, &pc, &sp);
  m* mp = current_m();
  sysmon_request_sigquit_dump(pc, mp != nullptr ? mp->id : -1, info->si_code);
}

}  // namespace

void install_signal_handlers() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
  sigaction(SIGFPE, &sa, &old_fpe);

  struct sigaction q;
  memset(&q, 0, sizeof q);
  q.sa_sigaction = on_sigquit;
  q.sa_flags = SA_RESTART | SA_ONSTACK | SA_SIGINFO;
  sigemptyset(&q.sa_mask);
  sigaction(SIGQUIT, &q, nullptr);
}

void install_altstack(m* mp) {
  stack_t cur;
  if (sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return;  // has one
  void* mem = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
  if (mem == MAP_FAILED) return;
  stack_t st;
  st.ss_sp = mem;
  st.ss_size = kAltStackSize;
  st.ss_flags = 0;
  if (sigaltstack(&st, nullptr) == 0)
    mp->altstack = mem;
  else
    munmap(mem, kAltStackSize);
}

void remove_altstack(m* mp) {
  if (mp->altstack == nullptr) return;
  stack_t st;
  memset(&st, 0, sizeof st);
  st.ss_flags = SS_DISABLE;
  sigaltstack(&st, nullptr);
  munmap(mp->altstack, kAltStackSize);
  mp->altstack = nullptr;
}

}  // namespace gort::rt
