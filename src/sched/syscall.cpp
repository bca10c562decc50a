// syscall: the blocking-call bracket (Go: entersyscall, exitsyscall, entersyscallblock).
//
// entersyscall leaves the P in status syscall, remembered by the M but owned by nobody, and
// wakes nobody: a short call gets its P back with one CAS. sysmon retakes the P if the call
// lasts (see sysmon.cpp). exitsyscall tries the old P, then any idle P, and otherwise puts
// the goroutine on the global queue (in the same critical section as the failed search for
// an idle P) and parks the M. entersyscallblock hands the P off at
// once, for calls known to block long.
#include "sched/syscall.hpp"

#include "sched/fatal.hpp"
#include "sched/runq.hpp"
#include "sched/sched.hpp"
#include "sched/stw.hpp"

namespace gort::rt {

void leave_to_global_queue(g* gp);

bool entersyscall(bool block) {
  m* mp = current_m();
  if (mp == nullptr) return false;
  g* gp = mp->curg.load(std::memory_order_relaxed);
  if (gp == nullptr || mp->pp == nullptr) return false;
  p* pp = mp->pp;
  gp->status.store(gstatus::syscall, std::memory_order_release);
  if (block) {
    mp->oldp = nullptr;
    handoffp(releasep(mp));
    return true;
  }
  pp->syscalltick.fetch_add(1, std::memory_order_relaxed);
  // Our own cache from here on: sysmon may hand pp, and its cache, to another M while the
  // call runs (what the call allocates comes from the thread's cache).
  malloc::unbind_cache();
  mp->oldp = pp;
  mp->pp = nullptr;
  pp->mp.store(nullptr, std::memory_order_relaxed);
  pp->status.store(pstatus::syscall, std::memory_order_release);
  wake_sysmon();  // sysmon must watch the call
  if (sched.gcwaiting.load(std::memory_order_acquire)) {
    // A stop-the-world is waiting for this P: give it up now.
    pstatus s = pstatus::syscall;
    os::rt_lock_guard lk(sched.lock);
    if (sched.stopwait > 0 &&
        pp->status.compare_exchange_strong(s, pstatus::gcstop, std::memory_order_acq_rel)) {
      if (--sched.stopwait == 0) sched.stopnote.wakeup();
    }
  }
  return true;
}

void exitsyscall() {
  m* mp = current_m();
  g* gp = mp->curg.load(std::memory_order_relaxed);
  p* oldp = mp->oldp;
  mp->oldp = nullptr;
  // Fast path: our P is still ours.
  pstatus s = pstatus::syscall;
  if (oldp != nullptr &&
      oldp->status.compare_exchange_strong(s, pstatus::running, std::memory_order_acq_rel)) {
    mp->pp = oldp;
    malloc::bind_cache(oldp->mcache);
    oldp->mp.store(mp, std::memory_order_release);
    oldp->syscalltick.fetch_add(1, std::memory_order_relaxed);
    gp->status.store(gstatus::running, std::memory_order_release);
    check_preempt();
    return;
  }
  // Any idle P; failing that, the goroutine waits in the global queue and this M parks.
  // Both in one critical section (Go: exitsyscall0): an M that releases its P checks the
  // global queue under the same lock, so either it sees gp there or we see its P idle.
  sched.lock.lock();
  p* pp = nullptr;
  if (!sched.gcwaiting.load(std::memory_order_acquire) &&
      !sched.exiting.load(std::memory_order_acquire))
    pp = pidleget();
  if (pp != nullptr) {
    sched.lock.unlock();
    acquirep(mp, pp);
    gp->status.store(gstatus::running, std::memory_order_release);
    return;
  }
  mp->hook_holds_sched_lock = true;  // hook_runnable_global queues gp and unlocks
  leave_to_global_queue(gp);
  gp->status.store(gstatus::running, std::memory_order_release);
}

}  // namespace gort::rt
