// m: OS threads and processors — creating, waking, parking Ms and handing Ps between them
// (Go: newm, mstart, startm, stopm, handoffp, wakep, acquirep, releasep, pidleput/get,
// startlockedm, stoplockedm in proc.go).
//
// Invariants: an idle M sleeps on its note (never spins when there is no work); it is in
// sched.midle exactly while sleeping in stopm. Whoever wakes it sets nextp first (or leaves
// it null to make it re-check an exit request). At most GOMAXPROCS/2 Ms spin looking for
// work (findrunnable); wakep starts one only if none spins.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "os/clock.hpp"
#include "os/thread.hpp"
#include "sched/fatal.hpp"
#include "sched/fork.hpp"
#include "sched/netpoll.hpp"
#include "sched/runq.hpp"
#include "sched/sanitizer.hpp"
#include "sched/sched.hpp"
#include "sched/signals.hpp"
#include "sched/standin.hpp"

namespace gort::rt {

void acquirep(m* mp, p* pp) {
  pstatus s = pp->status.load(std::memory_order_relaxed);
  if (pp->mp.load(std::memory_order_relaxed) != nullptr || (s != pstatus::idle)) {
    // As Go's wirep, the P's owner and status first.
    fprintf(stderr, "acquirep: p->m=%p p->status=%d p->id=%d standin=%d m=%p m->id=%lld caller=%p\n",
            static_cast<void*>(pp->mp.load(std::memory_order_relaxed)), int(s), int(pp->id),
            int(pp->standin), static_cast<void*>(mp), static_cast<long long>(mp->id),
            __builtin_return_address(0));
    fatal("acquirep: invalid p state");
  }
  mp->pp = pp;
  // A new time slice for sysmon (retake): the goroutine this P runs first may inherit the
  // slice (a timer readied it into runnext), and sysmon must not count the time the P
  // sat idle as that goroutine's, or flag it (and lend a stand-in) at once.
  pp->schedtick.store(pp->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  malloc::bind_cache(pp->mcache);  // this thread owns pp now (see src/malloc/mcache.cpp)
  pp->mp.store(mp, std::memory_order_release);  // sysmon follows p->mp->curg
  pp->status.store(pstatus::running, std::memory_order_release);
}

p* releasep(m* mp) {
  p* pp = mp->pp;
  if (pp == nullptr || pp->mp.load(std::memory_order_relaxed) != mp ||
      pp->status.load(std::memory_order_relaxed) != pstatus::running)
    fatal("releasep: invalid p state");
  malloc::unbind_cache();  // before pp can reach another thread
  mp->pp = nullptr;
  pp->mp.store(nullptr, std::memory_order_relaxed);
  pp->status.store(pstatus::idle, std::memory_order_release);
  return pp;
}

void pidleput(p* pp) {
  if (!runqempty(pp)) fatal("pidleput: P has non-empty run queue");
  pp->link = sched.pidle;
  sched.pidle = pp;
  sched.npidle.fetch_add(1, std::memory_order_relaxed);
}

p* pidleget() {
  p* pp = sched.pidle;
  if (pp != nullptr) {
    sched.pidle = pp->link;
    sched.npidle.fetch_sub(1, std::memory_order_relaxed);
    // gort's addition to Go's pidleget: a sleeping sysmon wakes to watch the goroutine
    // this P will run (Go's sleeps until its next timer, so a goroutine that starts after
    // every P was idle may run unpreempted until then).
    if (sched.sysmonwait.load(std::memory_order_relaxed)) wake_sysmon_to_watch();
  }
  return pp;
}

void mput(m* mp) {
  mp->schedlink = sched.midle;
  sched.midle = mp;
  sched.nmidle++;
}

void mremove(m* mp) {
  for (m** link = &sched.midle; *link != nullptr; link = &(*link)->schedlink) {
    if (*link == mp) {
      *link = mp->schedlink;
      sched.nmidle--;
      return;
    }
  }
}

m* mget() {
  m* mp = sched.midle;
  if (mp != nullptr) {
    sched.midle = mp->schedlink;
    sched.nmidle--;
  }
  return mp;
}

namespace {

void* mstart(void* arg) {
  m* mp = static_cast<m*>(arg);
  set_current_m(mp);
  mp->thread = pthread_self();
  mp->tid = int(gettid());
  os::current_thread_stack(&mp->g0_stack_lo, &mp->g0_stack_size);
  mp->g0_tsan_fiber = san::current_fiber();
  install_altstack(mp);
  p* pp = mp->nextp;
  mp->nextp = nullptr;
  acquirep(mp, pp);
  schedule(mp);
  // A locked goroutine exited on this thread: the thread ends with it.
  remove_altstack(mp);
  set_current_m(nullptr);
  return nullptr;
}

void newm(p* pp, bool spinning) {
  auto* mp = new m;
  {
    os::rt_lock_guard lk(sched.lock);
    mp->id = ++sched.mnext;
    sched.mcount++;
    sched.allm.push_back(mp);
    if (sched.mcount > 10000) fatal("program exceeds 10000-thread limit");
  }
  mp->nextp = pp;
  mp->spinning = spinning;
  if (!os::start_thread(mstart, mp, 1 << 20)) fatal("newm: failed to create an OS thread");
}

}  // namespace

void startm(p* pp, bool spinning) {
  if (forked_during_run.load(std::memory_order_relaxed)) [[unlikely]]
    forked_child_needs_thread();
  sched.lock.lock();
  if (sched.exiting.load(std::memory_order_relaxed)) {
    // The run is ending: nobody new starts, and nothing queued on pp runs (a P retaken
    // from a blocking call may still hold goroutines).
    if (pp != nullptr) {
      runqdrop(pp);
      pidleput(pp);
    }
    if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
    sched.lock.unlock();
    return;
  }
  if (pp == nullptr) {
    pp = pidleget();
    if (pp == nullptr) {
      sched.lock.unlock();
      // The caller counted a spinning M that will not exist.
      if (spinning) sched.nmspinning.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
  }
  m* nmp = mget();
  sched.lock.unlock();
  if (nmp == nullptr) {
    newm(pp, spinning);
    return;
  }
  nmp->spinning = spinning;
  nmp->nextp = pp;
  nmp->park.wakeup();
}

void stopm(m* mp) {
  if (mp->pp != nullptr) fatal("stopm holding p");
  if (mp->spinning) fatal("stopm spinning");
  sched.lock.lock();
  mput(mp);
  checkdead();
  sched.lock.unlock();
  mp->park.sleep();
  mp->park.clear();
  if (mp->nextp != nullptr) {
    acquirep(mp, mp->nextp);
    mp->nextp = nullptr;
  } else {
    // Woken without a P: only the end of a run does that (request_exit), possibly before
    // we slept, while we were still listed as idle.
    os::rt_lock_guard lk(sched.lock);
    mremove(mp);
  }
}

void wakep() {
  if (sched.npidle.load(std::memory_order_relaxed) == 0) return;
  int32_t zero = 0;
  if (sched.nmspinning.load(std::memory_order_relaxed) != 0 ||
      !sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst))
    return;
  startm(nullptr, true);
}

void resetspinning(m* mp) {
  mp->spinning = false;
  int32_t n = sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) - 1;
  if (n < 0) fatal("findrunnable: negative nmspinning");
  // The M that was spinning found work; make sure another looks for more (threads ramp up
  // one by one this way).
  wakep();
}

void handoffp(p* pp) {
  // Local or global work: start an M for it.
  if (!runqempty(pp) || sched.runqsize.load(std::memory_order_relaxed) != 0) {
    startm(pp, false);
    return;
  }
  // No spinning or idle M: one spinning M to look for work.
  int32_t zero = 0;
  if (sched.nmspinning.load(std::memory_order_relaxed) + sched.npidle.load(std::memory_order_relaxed) == 0 &&
      sched.nmspinning.compare_exchange_strong(zero, 1)) {
    startm(pp, true);
    return;
  }
  sched.lock.lock();
  if (sched.gcwaiting.load(std::memory_order_relaxed)) {
    pp->status.store(pstatus::gcstop, std::memory_order_release);
    if (--sched.stopwait == 0) sched.stopnote.wakeup();
    sched.lock.unlock();
    return;
  }
  if (sched.runqsize.load(std::memory_order_relaxed) != 0) {
    sched.lock.unlock();
    startm(pp, false);
    return;
  }
  // The last running P, and nobody polls: keep an M for timers and the poller.
  if (sched.npidle.load(std::memory_order_relaxed) == live_procs() - 1 &&
      sched.lastpoll.load(std::memory_order_relaxed) != 0 && !sched.exiting.load()) {
    sched.lock.unlock();
    startm(pp, false);
    return;
  }
  int64_t when = pp->timer0when.load(std::memory_order_acquire);
  pidleput(pp);
  sched.lock.unlock();
  if (when != 0) wake_netpoller(when);
}

void injectglist(g* head) {
  if (head == nullptr) return;
  int n = 0;
  for (g* gp = head; gp != nullptr; gp = gp->schedlink) {
    set_runnable_after_wait(gp);
    n++;
  }
  // As Go 1.19: as many goroutines as there are idle Ps go to the global queue, each with
  // an M started for it; the rest go to the caller's own run queue (all of them to the
  // global queue when the caller has no P), where this M runs them next.
  p* pp = current_p();
  int to_global = pp == nullptr ? n : int(sched.npidle.load(std::memory_order_relaxed));
  if (to_global > n) to_global = n;
  g* rest = head;
  if (to_global > 0) {
    g* tail = head;
    for (int i = 1; i < to_global; i++) tail = tail->schedlink;
    rest = tail->schedlink;
    tail->schedlink = nullptr;
    {
      os::rt_lock_guard lk(sched.lock);
      globrunqputbatch(head, to_global);
    }
    for (int i = 0; i < to_global && sched.npidle.load(std::memory_order_relaxed) > 0; i++)
      startm(nullptr, false);
  }
  while (rest != nullptr) {
    g* gp = rest;
    rest = gp->schedlink;
    gp->schedlink = nullptr;
    runqput(pp, gp, false);
  }
}

void wake_netpoller(int64_t when) {
  if (sched.lastpoll.load(std::memory_order_acquire) == 0) {
    // An M is blocked in netpoll: interrupt it if it would sleep past `when`.
    int64_t until = sched.pollUntil.load(std::memory_order_acquire);
    if (until == 0 || until > when) netpoll_break();
  } else {
    wakep();
  }
}

void startlockedm(m* mp, g* gp) {
  m* lm = gp->lockedm;
  if (lm == mp) fatal("startlockedm: locked to me");
  // Hand our P to the thread the goroutine is locked to, and wait for work.
  p* pp = releasep(mp);
  lm->nextp = pp;
  lm->park.wakeup();
  stopm(mp);
}

void stoplockedm(m* mp) {
  if (mp->pp != nullptr) handoffp(releasep(mp));
  {
    os::rt_lock_guard lk(sched.lock);
    sched.nmidlelocked++;
    checkdead();
  }
  mp->park.sleep();
  mp->park.clear();
  {
    os::rt_lock_guard lk(sched.lock);
    sched.nmidlelocked--;
  }
  if (mp->nextp != nullptr) {
    acquirep(mp, mp->nextp);
    mp->nextp = nullptr;
  }
}

}  // namespace gort::rt
