// sysmon: see sysmon.hpp.
#include "sched/sysmon.hpp"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "os/clock.hpp"
#include "os/thread.hpp"
#include "sched/fatal.hpp"
#include "sched/netpoll.hpp"
#include "sched/runq.hpp"
#include "sched/sched.hpp"
#include "sched/stack_release.hpp"
#include "sched/standin.hpp"
#include "sched/traceback.hpp"

namespace gort::rt {

std::atomic<int64_t> coarse_now{0};  // sched.hpp: coarse_nanotime

namespace {

constexpr int64_t kForcePreemptNs = 10'000'000;  // Go: forcePreemptNS
// A goroutine flagged for preemption that has not yielded this long after is a hog
// (standin.hpp); one that reaches safe points yields within microseconds.
constexpr int64_t kStandinGraceNs = 1'000'000;
// See sysmon_acting_on_run. With request_exit's store of sched.exiting, a store-then-load
// pair on each side (seq_cst): sysmon sees the exit request, or the exit sees it acting.
std::atomic<bool> acting_on_run{false};

bool begin_acting_on_run() {
  acting_on_run.store(true, std::memory_order_seq_cst);
  if (sched.main_started.load(std::memory_order_seq_cst) &&
      !sched.exiting.load(std::memory_order_seq_cst))
    return true;
  acting_on_run.store(false, std::memory_order_release);
  return false;
}

void end_acting_on_run() { acting_on_run.store(false, std::memory_order_release); }
std::atomic<uint32_t> sigquit_pending{0};
std::atomic<uintptr_t> sigquit_pc{0};  // where the signal interrupted, for the dump's header
std::atomic<int64_t> sigquit_m{0};
std::atomic<int> sigquit_code{0};
int64_t schedtrace_ms = 0;

void preemptone(p* pp) {
  m* mp = pp->mp.load(std::memory_order_acquire);
  if (mp == nullptr) return;
  if (g* gp = mp->curg.load(std::memory_order_acquire)) flag_preempt(gp);
}

// Go: retake. Returns how many Ps were taken from blocking calls or lent a stand-in; sets
// *look_soon when it flagged a goroutine whose stand-in may be due after the grace.
int retake(int64_t now, bool* look_soon) {
  int n = 0;
  int32_t procs = sched.nprocs.load(std::memory_order_acquire);
  for (int32_t i = 0; i < procs; i++) {
    p* pp = sched.allp[i];
    if (pp == nullptr) continue;
    pstatus s = pp->status.load(std::memory_order_acquire);
    bool sysretake = false;
    if (s == pstatus::running || s == pstatus::syscall) {
      uint32_t t = pp->schedtick.load(std::memory_order_relaxed);
      if (pp->sysmon_schedtick != t) {
        pp->sysmon_schedtick = t;
        pp->sysmon_schedwhen = now;
        pp->sysmon_flagwhen = 0;
      } else if (pp->sysmon_schedwhen + kForcePreemptNs <= now) {
        preemptone(pp);
        sysretake = true;  // in a syscall, preemptone does nothing
        if (s == pstatus::running) {
          if (pp->sysmon_flagwhen == 0) {
            pp->sysmon_flagwhen = now;
            *look_soon = true;
          } else if (now - pp->sysmon_flagwhen >= kStandinGraceNs && lend_standin(pp, t, now)) {
            n++;  // flagged and still running: a hog; the stand-in runs what waits for it
          }
        }
      }
    }
    if (s == pstatus::syscall) {
      uint32_t t = pp->syscalltick.load(std::memory_order_relaxed);
      if (!sysretake && pp->sysmon_syscalltick != t) {
        pp->sysmon_syscalltick = t;
        pp->sysmon_syscallwhen = now;
        continue;
      }
      // Leave it while it has nothing queued, others can take new work, and the call is
      // young (< 10 ms).
      if (runqempty(pp) &&
          sched.nmspinning.load() + sched.npidle.load() > 0 &&
          pp->sysmon_syscallwhen + 10'000'000 > now)
        continue;
      pstatus expected = pstatus::syscall;
      if (pp->status.compare_exchange_strong(expected, pstatus::idle, std::memory_order_acq_rel)) {
        n++;
        pp->syscalltick.fetch_add(1, std::memory_order_relaxed);
        handoffp(pp);
      }
    }
  }
  return n;
}

void schedtrace(int64_t now, int64_t start) {
  std::string line;
  char buf[256];
  int32_t procs = sched.gomaxprocs.load();
  {
    os::rt_lock_guard lk(sched.lock);
    snprintf(buf, sizeof buf,
             "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
             "idlethreads=%d runqueue=%d [",
             (long long)((now - start) / 1000000), procs, sched.npidle.load(),
             sched.mcount + 1, sched.nmspinning.load(), sched.nmidle, sched.runqsize.load());
  }
  line = buf;
  for (int32_t i = 0; i < procs; i++) {
    snprintf(buf, sizeof buf, "%s%u", i > 0 ? " " : "", runqlen(sched.allp[i]));
    line += buf;
  }
  line += "]\n";
  fputs(line.c_str(), stderr);
}

void parse_godebug() {
  const char* s = getenv("GODEBUG");
  if (s == nullptr) return;
  std::string v = s;
  size_t pos = v.find("schedtrace=");
  if (pos != std::string::npos) schedtrace_ms = atoll(v.c_str() + pos + 11);
  if (v.find("asyncpreemptoff=1") != std::string::npos) standins_off.store(true);
}

os::note sysmon_started;

// Go forces a GC cycle when none ran for 2 minutes (forcegcperiod); until gort has a
// collector, sysmon runs the cycle-start hooks (sync::pool's victim rotation) on that beat.
constexpr int64_t kForceGCPeriod = 120'000'000'000;
constexpr int kMaxGCStartHooks = 8;
void (*gc_start_fns[kMaxGCStartHooks])();
std::atomic<int> n_gc_start_fns{0};

void* sysmon_main(void*) {
  sched.sysmon_tid = int(gettid());
  sysmon_started.wakeup();
  int64_t start = os::nanotime();
  int64_t delay = 0;
  bool look_soon = false;
  int idle = 0;
  int64_t lasttrace = start;
  int64_t last_gc_cycle = start;
  for (;;) {
    if (idle == 0)
      delay = 20'000;
    else if (idle > 50)
      delay *= 2;
    if (delay > 10'000'000) delay = 10'000'000;
    // Back sooner after flagging a goroutine, to lend its stand-in once the grace is over.
    usleep(useconds_t((look_soon ? std::min(delay, kStandinGraceNs) : delay) / 1000));
    look_soon = false;
    int64_t now = os::nanotime();
    coarse_now.store(now, std::memory_order_relaxed);

    if (sigquit_pending.load()) {
      start_dying();  // a fatal error being printed elsewhere ends the process instead
      // Go prints si_code as an unsigned 64-bit number (raise's SI_TKILL: 18446744073709551610).
      fprintf(stderr, "SIGQUIT: quit\nPC=0x%lx m=%lld sigcode=%llu\n",
              (unsigned long)sigquit_pc.load(), (long long)sigquit_m.load(),
              (unsigned long long)(int64_t)sigquit_code.load());
      print_all_goroutines(true);
      fflush(nullptr);
      _exit(2);
    }

    bool running = sched.running.load(std::memory_order_acquire);
    if (running && begin_acting_on_run()) {
      if (check_standins()) look_soon = true;  // before a sleep: none left lent
      end_acting_on_run();
    }
    if (!running || (schedtrace_ms <= 0 &&
                     (sched.gcwaiting.load() || sched.npidle.load() == live_procs()))) {
      // Nothing to watch: sleep until woken or until the next timer (at most 60 s).
      sched.lock.lock();
      bool sleep = !sched.running.load() || sched.gcwaiting.load() ||
                   sched.npidle.load() == live_procs();
      if (sleep) sched.sysmonwait.store(true);
      sched.lock.unlock();
      if (sleep) {
        int64_t wait = 60'000'000'000;
        if (sched.deadlock_suspect.load()) wait = 50'000'000;
        wait = std::min(wait, stack_release_wait_cap());
        if (running) {
          int32_t procs = sched.nprocs.load(std::memory_order_acquire);
          for (int32_t i = 0; i < procs; i++) {
            int64_t w = sched.allp[i]->timer0when.load();
            if (w != 0 && w - now < wait) wait = w - now > 0 ? w - now : 0;
          }
        }
        sched.sysmonnote.sleep_for(wait);
        sched.lock.lock();
        sched.sysmonwait.store(false);
        sched.sysmonnote.clear();
        if (sched.deadlock_suspect.exchange(false) && sched.running.load())
          checkdead();  // unlocks before a fatal error
        sched.lock.unlock();
        // As Go: back to the shortest interval only after a syscall's wake-up (a P may
        // need retaking soon); a timer's, or a P leaving the idle list, keeps the backed-off
        // interval, so that a server whose Ps keep going idle and busy again does not
        // have sysmon polling every 20 us.
        if (sched.sysmon_reset.exchange(false, std::memory_order_relaxed)) {
          idle = 0;
          delay = 20'000;
        }
        now = os::nanotime();
        running = sched.running.load(std::memory_order_acquire);
      }
    }
    if (!running || !begin_acting_on_run()) continue;

    // Poll the network if nobody has for 10 ms.
    int64_t last = sched.lastpoll.load(std::memory_order_acquire);
    if (netpoll_waiters.load() > 0 && last != 0 && last + 10'000'000 < now &&
        sched.lastpoll.compare_exchange_strong(last, now)) {
      if (g* list = netpoll(0)) injectglist(list);
    }
    if (now - last_gc_cycle >= kForceGCPeriod) {
      last_gc_cycle = now;
      gc_start_hooks();
    }
    bool sweeping = stack_release_tick(now);
    if (retake(now, &look_soon) != 0 || sweeping)
      idle = 0;
    else
      idle++;
    refresh_preempt_hint();
    end_acting_on_run();
    if (schedtrace_ms > 0 && now - lasttrace >= schedtrace_ms * 1'000'000) {
      lasttrace = now;
      schedtrace(now, start);
    }
  }
  return nullptr;
}

}  // namespace

void on_gc_start(void (*fn)()) {
  int i = n_gc_start_fns.load(std::memory_order_relaxed);
  if (i == kMaxGCStartHooks) fatal("on_gc_start: too many hooks");
  gc_start_fns[i] = fn;
  n_gc_start_fns.store(i + 1, std::memory_order_release);
}

void gc_start_hooks() {
  int n = n_gc_start_fns.load(std::memory_order_acquire);
  for (int i = 0; i < n; i++) gc_start_fns[i]();
}

void wake_sysmon() {
  if (!sched.sysmonwait.load(std::memory_order_acquire)) return;
  sched.sysmon_reset.store(true, std::memory_order_relaxed);
  sched.sysmonnote.wakeup();
}

void wake_sysmon_to_watch() {
  if (!sched.sysmonwait.load(std::memory_order_acquire)) return;
  sched.sysmonnote.wakeup();
}

void sysmon_request_sigquit_dump(uintptr_t pc, int64_t m_id, int code) {
  sigquit_pc.store(pc);
  sigquit_m.store(m_id);
  sigquit_code.store(code);
  sigquit_pending.store(1);
  sched.sysmonnote.wakeup();
}

bool sigquit_requested() { return sigquit_pending.load(std::memory_order_acquire) != 0; }

bool sysmon_acting_on_run() { return acting_on_run.load(std::memory_order_seq_cst); }

void sysmon_forget_after_fork() { acting_on_run.store(false, std::memory_order_relaxed); }

void start_sysmon() {
  parse_godebug();
  // Also the restart in a forked child (fork.cpp), whose copy of the note may be set and
  // of sysmonwait true from the parent's sysmon.
  sysmon_started.clear();
  sched.sysmonwait.store(false);
  sched.sysmonnote.clear();
  if (!os::start_thread(sysmon_main, nullptr)) fatal("cannot start sysmon");
  sysmon_started.sleep();  // its tid must be known before checkdead can run
}

}  // namespace gort::rt
