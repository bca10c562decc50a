// stw: stop-the-world, procresize and GOMAXPROCS. See stw.hpp.
#include "sched/stw.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "sched/fatal.hpp"
#include "sched/runq.hpp"
#include "sched/sched.hpp"
#include "sched/standin.hpp"
#include "sched/timers.hpp"

namespace gort::rt {
namespace {

std::atomic<int32_t> pending_procs{0};
std::atomic<bool> world_busy{false};  // one stop-the-world at a time (Go: worldsema)

void preemptall() {
  int32_t procs = sched.nprocs.load();
  for (int32_t i = 0; i < procs; i++) {
    p* pp = sched.allp[i];
    if (pp->status.load(std::memory_order_acquire) != pstatus::running) continue;
    m* mp = pp->mp.load(std::memory_order_acquire);
    if (mp == nullptr) continue;
    if (g* gp = mp->curg.load(std::memory_order_acquire)) flag_preempt(gp);
  }
}

void acquire_world() {
  bool expected = false;
  while (!world_busy.compare_exchange_weak(expected, true, std::memory_order_acquire)) {
    expected = false;
    if (current_g() != nullptr)
      gosched();  // a safe point: lets a concurrent stop-the-world take our P
    else
      sched_yield();
  }
}

void release_world() { world_busy.store(false, std::memory_order_release); }

}  // namespace

void stop_the_world() {
  m* mp = current_m();
  sched.lock.lock();
  sched.stopwait = live_procs();  // stand-ins stop too (standin.hpp)
  sched.gcwaiting.store(true, std::memory_order_seq_cst);
  preemptall();
  if (mp != nullptr && mp->pp != nullptr) {
    mp->pp->status.store(pstatus::gcstop, std::memory_order_release);
    sched.stopwait--;
  }
  int32_t procs = sched.nprocs.load();
  for (int32_t i = 0; i < procs; i++) {
    p* pp = sched.allp[i];
    pstatus s = pstatus::syscall;
    if (pp->status.compare_exchange_strong(s, pstatus::gcstop, std::memory_order_acq_rel)) {
      pp->syscalltick.fetch_add(1, std::memory_order_relaxed);
      sched.stopwait--;
    }
  }
  while (p* pp = pidleget()) {
    pp->status.store(pstatus::gcstop, std::memory_order_release);
    sched.stopwait--;
  }
  bool wait = sched.stopwait > 0;
  sched.lock.unlock();
  while (wait) {
    if (sched.stopnote.sleep_for(100'000)) break;
    preemptall();
  }
  sched.stopnote.clear();
  os::rt_lock_guard lk(sched.lock);
  if (sched.stopwait != 0) fatal("stopTheWorld: not stopped");
}

void start_the_world(int32_t newprocs) {
  p* runnable;
  {
    os::rt_lock_guard lk(sched.lock);
    runnable = procresize(newprocs > 0 ? newprocs : sched.gomaxprocs.load());
    sched.gcwaiting.store(false, std::memory_order_seq_cst);
  }
  while (runnable != nullptr) {
    p* pp = runnable;
    runnable = pp->link;
    pp->link = nullptr;
    startm(pp, false);
  }
  wake_sysmon();
  wakep();
}

void destroy_p(p* pp) {
  for (;;) {
    bool inherit;
    g* gp = runqget(pp, &inherit);
    if (gp == nullptr) break;
    globrunqputhead(gp);
  }
  movetimers(pp, sched.allp[0]);
  sched.ngoroutines.fetch_add(pp->gcount.exchange(0));
  gfree_give_back(pp);
  stackcache_flush(&pp->stackcache);
  pp->status.store(pstatus::dead, std::memory_order_release);
  pp->mp.store(nullptr);
}

p* new_p(int32_t id) {
  p* pp = new p;
  pp->id = id;
  pp->mcache = malloc::new_p_cache();
  return pp;
}

p* procresize(int32_t nprocs) {
  // Every P in use, stand-ins included (standin.hpp): the ones from nprocs on retire here.
  int32_t old = sched.nprocs.load();
  for (int32_t i = 0; i < nprocs; i++)
    if (sched.allp[i] == nullptr) sched.allp[i] = new_p(i);
  // No stand-ins after a resize: a stand-in's slot below nprocs becomes one of its Ps, the
  // others are destroyed below.
  for (int32_t i = 0, n = std::max(old, nprocs); i < n; i++) forget_standin(sched.allp[i]);
  m* mp = current_m();
  // Ps beyond the new count: their goroutines go to the global queue, their timers and
  // free Gs to P 0.
  for (int32_t i = nprocs; i < old; i++) {
    p* pp = sched.allp[i];
    if (pp->status.load(std::memory_order_relaxed) != pstatus::dead) destroy_p(pp);
  }
  if (mp != nullptr && mp->pp != nullptr) {
    if (mp->pp->id < nprocs) {
      mp->pp->status.store(pstatus::running, std::memory_order_release);
    } else {
      mp->pp = nullptr;
      p* p0 = sched.allp[0];
      p0->mp.store(nullptr);
      p0->status.store(pstatus::idle);
      acquirep(mp, p0);
    }
  }
  sched.pidle = nullptr;
  sched.npidle.store(0);
  p* runnable = nullptr;
  for (int32_t i = nprocs - 1; i >= 0; i--) {
    p* pp = sched.allp[i];
    if (mp != nullptr && mp->pp == pp) continue;
    pp->status.store(pstatus::idle, std::memory_order_release);
    pp->mp.store(nullptr);
    if (runqempty(pp)) {
      pidleput(pp);
    } else {
      pp->link = runnable;
      runnable = pp;
    }
  }
  // Dead Ps keep their caches (for a later grow) but hold nothing: nobody is bound to
  // them (their Ms stopped, or left for a blocking call, and the caller moved to P 0).
  for (int32_t i = nprocs; i < old; i++) malloc::flush_p_cache(sched.allp[i]->mcache);
  sched.nstandins.store(0, std::memory_order_relaxed);
  sched.gomaxprocs.store(nprocs, std::memory_order_release);
  sched.nprocs.store(nprocs, std::memory_order_release);
  return runnable;
}

int32_t requested_procs() { return pending_procs.load(); }

int32_t set_gomaxprocs(int32_t n) {
  if (!sched.running.load(std::memory_order_acquire)) {
    int32_t prev = pending_procs.load();
    if (prev <= 0) prev = int32_t(sysconf(_SC_NPROCESSORS_ONLN));
    if (n > 0) pending_procs.store(n > kMaxGomaxprocs ? kMaxGomaxprocs : n);
    return prev;
  }
  int32_t prev = sched.gomaxprocs.load();
  if (n <= 0 || n == prev) return prev;
  if (n > kMaxGomaxprocs) n = kMaxGomaxprocs;
  pending_procs.store(n);  // later runs in this process keep the setting
  acquire_world();
  stop_the_world();
  start_the_world(n);
  release_world();
  return prev;
}

void set_stack_size(size_t bytes) {
  if (bytes < kMinStackSize) bytes = kMinStackSize;
  bytes = (bytes + 4095) & ~size_t(4095);
  sched.stack_size = bytes;
}

size_t get_stack_size() { return sched.stack_size; }

}  // namespace gort::rt
