// run: gort::run — runtime start-up, the main goroutine, and shutdown (Go: rt0_go,
// schedinit, runtime.main, and exit). See shutdown.hpp for how a run ends.
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "gort/errors.hpp"
#include "os/clock.hpp"
#include "os/thread.hpp"
#include "sched/fatal.hpp"
#include "sched/fork.hpp"
#include "sched/netpoll.hpp"
#include "sched/runq.hpp"
#include "sched/sanitizer.hpp"
#include "sched/sched.hpp"
#include "sched/shutdown.hpp"
#include "sched/signals.hpp"
#include "sched/stack_release.hpp"
#include "sched/standin.hpp"
#include "sched/stw.hpp"
#include "sched/sysmon.hpp"
#include "sched/timers.hpp"
#include "sched/threads.hpp"

namespace gort::rt {

g* new_main_g(void (*entry)(void*), void* closure);

namespace {

int32_t default_procs() {
  if (const char* s = getenv("GOMAXPROCS")) {
    char* end;
    long v = strtol(s, &end, 10);
    if (*s != '\0' && *end == '\0' && v > 0) return int32_t(v > kMaxGomaxprocs ? kMaxGomaxprocs : v);
  }
  int n = os::ncpu();
  return n > kMaxGomaxprocs ? kMaxGomaxprocs : n;
}

size_t env_stack_size() {
  const char* s = getenv("GORT_STACK_SIZE");
  if (s == nullptr) return 0;
  char* end;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end == 'k' || *end == 'K') v <<= 10;
  if (*end == 'm' || *end == 'M') v <<= 20;
  return size_t(v);
}

void runtime_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    netpoll_init();
    install_signal_handlers();
    // Settled here, before sysmon would first ask: a fork while another thread was inside
    // that first call's static initialisation would leave the child's guard taken for ever.
    (void)stack_release_enabled();
    // Starting the first thread may start helper threads of its own (TSan's background
    // thread), which are not goroutine wakers.
    runtime_threads_starting();
    start_sysmon();
    runtime_threads_started();
    install_fork_handlers();
    if (size_t s = env_stack_size()) set_stack_size(s);
  });
}

constexpr int kMaxRunEndHooks = 8;
void (*run_end_fns[kMaxRunEndHooks])() = {};
int n_run_end_fns = 0;

// Everything a finished run leaves behind: run queues, timers, goroutines that did not
// finish (they become zombies and are never run or reused). All other Ms are idle.
void reset_after_run() {
  {
    os::rt_lock_guard lk(sched.lock);
    for (int32_t i = sched.gomaxprocs.load(), n = sched.nprocs.load(); i < n; i++)
      if (sched.allp[i]->standin) retire_standin_locked(sched.allp[i]);
    int32_t procs = sched.gomaxprocs.load();
    sched.pidle = nullptr;
    sched.npidle.store(0);
    for (int32_t i = procs - 1; i >= 0; i--) {
      p* pp = sched.allp[i];
      runqdrop(pp);
      cleartimers(pp);
      pp->goidcache = pp->goidcacheend = 0;
      pp->mp.store(nullptr);
      pp->status.store(pstatus::idle);
      pidleput(pp);
    }
    sched.runq.clear();
    sched.runq_woken.clear();
    sched.runqsize.store(0);
    {
      os::rt_lock_guard lk2(sched.allglock);
      auto& v = sched.allgs;
      size_t keep = 0;
      for (g* gp : v) {
        if (gp->status.load() == gstatus::dead)
          v[keep++] = gp;
        else
          gp->status.store(gstatus::zombie);
      }
      v.resize(keep);
    }
  }
  // The hooks take their services' locks (semaphore roots, timers, descriptors), which nest
  // outside sched.lock (fork.hpp); every other M is at rest, so nothing runs meanwhile.
  run_end_hooks();
  os::rt_lock_guard lk(sched.lock);
  sched.ngoroutines.store(0);
  for (int32_t i = 0, procs = sched.gomaxprocs.load(); i < procs; i++) sched.allp[i]->gcount.store(0);
  sched.goidgen.store(0);
  sched.nmspinning.store(0);
  sched.main_goexited = false;
  sched.main_started.store(false);
  sched.mcount--;  // m0 leaves
  sched.m0 = nullptr;
  sched.exiting.store(false);
  sched.running.store(false, std::memory_order_release);
}

}  // namespace

void on_run_end(void (*fn)()) {
  if (n_run_end_fns == kMaxRunEndHooks) fatal("on_run_end: too many hooks");
  run_end_fns[n_run_end_fns++] = fn;
}

void run_end_hooks() {
  for (int i = 0; i < n_run_end_fns; i++) run_end_fns[i]();
}

void request_exit() {
  m* m0;
  {
    os::rt_lock_guard lk(sched.lock);
    if (sched.exiting.load()) return;
    sched.exiting.store(true, std::memory_order_seq_cst);  // sysmon_acting_on_run's pair
    m0 = sched.m0;
    mremove(m0);
  }
  netpoll_break();
  m0->park.wakeup();  // if it sleeps in stopm/stoplockedm, it wakes to see the exit
}

bool exit_m(m* mp) {
  if (mp->spinning) {
    mp->spinning = false;
    sched.nmspinning.fetch_sub(1);
  }
  if (mp->pp != nullptr) {
    p* pp = releasep(mp);
    runqdrop(pp);
    os::rt_lock_guard lk(sched.lock);
    pidleput(pp);
  }
  if (!mp->is_m0) {
    stopm(mp);  // checkdead is off while exiting; the next run wakes us with a P
    return false;
  }
  int64_t deadline = os::nanotime() + kExitGraceNs;
  for (;;) {
    // sysmon first: once it is seen not acting it cannot start again (it sees the exit),
    // and an M it woke before that is counted busy below.
    bool sysmon_busy = sysmon_acting_on_run();
    // Ps left in blocking calls are taken here, as sysmon no longer does for an ending
    // run: an M back from its call then stops instead of going on with the goroutine.
    for (int32_t i = 0, n = sched.nprocs.load(std::memory_order_acquire); i < n; i++) {
      pstatus s = pstatus::syscall;
      sched.allp[i]->status.compare_exchange_strong(s, pstatus::idle, std::memory_order_acq_rel);
    }
    int32_t busy;
    {
      os::rt_lock_guard lk(sched.lock);
      busy = sched.mcount - 1 - sched.nmidle - sched.nmidlelocked;
    }
    if (busy <= 0 && !sysmon_busy) break;
    if (os::nanotime() > deadline) {
      // Some goroutine keeps its thread: end the process, as Go's exit would (unless a
      // death is being printed: that ends it, with status 2).
      while (process_dying()) pause();
      fflush(nullptr);
      _exit(sched.exit_code);
    }
    netpoll_break();
    usleep(50);
  }
  mp->park.clear();
  reset_after_run();
  return true;
}

int run_main(void (*entry)(void*), void* closure) {
  if (current_m() != nullptr) throw runtime_error("gort::run called on a thread that is already running gort");
  bool expected = false;
  if (!sched.running.compare_exchange_strong(expected, true))
    throw runtime_error("gort::run called while another gort::run is active");
  runtime_init_once();
  restart_after_fork();  // a forked child: its runtime threads did not come along

  // One m struct serves every run's m0 (other threads may still glance at it).
  static m* cached_m0 = new m;
  m* m0 = cached_m0;
  m0->curg.store(nullptr);
  m0->pp = m0->nextp = m0->oldp = nullptr;
  m0->spinning = false;
  m0->lockedg = nullptr;
  m0->locked_ext = 0;
  m0->pending_g = nullptr;
  m0->hook = nullptr;
  m0->park.clear();
  m0->is_m0 = true;
  m0->thread = pthread_self();
  m0->tid = int(gettid());
  os::current_thread_stack(&m0->g0_stack_lo, &m0->g0_stack_size);
  m0->g0_tsan_fiber = san::current_fiber();
  install_altstack(m0);
  set_current_m(m0);

  sched.exit_code = 0;
  {
    os::rt_lock_guard lk(sched.lock);
    m0->id = 0;
    sched.mcount++;
    sched.m0 = m0;
    procresize(requested_procs() > 0 ? requested_procs() : default_procs());
    acquirep(m0, pidleget());
  }
  sched.lastpoll.store(os::nanotime());
  g* mg = new_main_g(entry, closure);
  sched.goidgen.store(1);  // main is goroutine 1; the others count from 2
  runqput(m0->pp, mg, false);
  sched.main_started.store(true, std::memory_order_release);  // checkdead judges from now on
  wake_sysmon();
  schedule(m0);

  remove_altstack(m0);
  set_current_m(nullptr);
  return sched.exit_code;
}

}  // namespace gort::rt
