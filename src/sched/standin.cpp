// standin: stand-in Ps lent while a goroutine keeps its P without a safe point. See
// standin.hpp.
#include "sched/standin.hpp"

#include "sched/fatal.hpp"
#include "sched/runq.hpp"
#include "sched/sched.hpp"
#include "sched/stw.hpp"

namespace gort::rt {

std::atomic<uint64_t> standins_lent{0};
std::atomic<bool> standins_off{false};

namespace {

// Whether goroutines wait that pp's hog keeps from running: its own queue, its due timers,
// or the global queue while every P is busy (an idle P would take that, and steal pp's
// queue, without help).
bool work_waits_for(p* pp, int64_t now) {
  if (sched.npidle.load(std::memory_order_relaxed) != 0) return false;
  if (!runqempty(pp)) return true;
  int64_t t0 = pp->timer0when.load(std::memory_order_acquire);
  if (t0 != 0 && t0 <= now) return true;
  return sched.runqsize.load(std::memory_order_relaxed) != 0;
}

// Whether pp's M runs a goroutine, not the runtime's own work on g0 (a slab of stacks being
// populated, a batch of timers): only a goroutine's code can lack safe points.
bool runs_a_goroutine(p* pp) {
  m* mp = pp->mp.load(std::memory_order_acquire);
  return mp != nullptr && mp->curg.load(std::memory_order_acquire) != nullptr;
}

// sched.lock: a slot for a new stand-in, reusing a retired one first.
p* standin_slot() {
  int32_t procs = sched.gomaxprocs.load(std::memory_order_relaxed);
  int32_t n = sched.nprocs.load(std::memory_order_relaxed);
  for (int32_t i = procs; i < n; i++)
    if (sched.allp[i]->status.load(std::memory_order_relaxed) == pstatus::dead) return sched.allp[i];
  if (sched.allp[n] == nullptr) sched.allp[n] = new_p(n);
  // Published before the walks that read nprocs can reach it.
  sched.nprocs.store(n + 1, std::memory_order_release);
  return sched.allp[n];
}

// sched.lock: retired slots at the end of allp leave the walks.
void shrink_nprocs() {
  int32_t procs = sched.gomaxprocs.load(std::memory_order_relaxed);
  int32_t n = sched.nprocs.load(std::memory_order_relaxed);
  while (n > procs && sched.allp[n - 1]->status.load(std::memory_order_relaxed) == pstatus::dead) n--;
  sched.nprocs.store(n, std::memory_order_release);
}

// sched.lock: takes pp out of the idle list if it is there.
bool pidle_remove(p* pp) {
  for (p** link = &sched.pidle; *link != nullptr; link = &(*link)->link) {
    if (*link == pp) {
      *link = pp->link;
      pp->link = nullptr;
      sched.npidle.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

// sched.lock, pp bound to nobody: the common end of a retirement. Returns P 0's earliest
// timer (0: none), which now holds pp's timers: the caller, once unlocked, makes sure an M
// watches it (wake_netpoller), as nobody may (the M that retires pp had not run pp's
// timers, and no M may be in the poller).
int64_t retire(p* pp) {
  destroy_p(pp);
  malloc::flush_p_cache(pp->mcache);
  forget_standin(pp);
  sched.nstandins.fetch_sub(1, std::memory_order_relaxed);
  shrink_nprocs();
  return sched.allp[0]->timer0when.load(std::memory_order_acquire);
}

}  // namespace

bool lend_standin(p* hog, uint32_t tick, int64_t now) {
  if (standins_off.load(std::memory_order_relaxed) || !work_waits_for(hog, now)) return false;
  p* pp;
  {
    os::rt_lock_guard lk(sched.lock);
    if (p* lent = hog->sysmon_standin) {
      if (lent->standin && lent->standin_for == hog) return false;  // one per hog
      hog->sysmon_standin = nullptr;  // retired by a stop-the-world or a run's end
    }
    if (hog->standin || sched.gcwaiting.load(std::memory_order_relaxed) ||
        sched.exiting.load(std::memory_order_relaxed) ||
        hog->status.load(std::memory_order_relaxed) != pstatus::running ||
        !runs_a_goroutine(hog) ||
        sched.nstandins.load(std::memory_order_relaxed) >= sched.gomaxprocs.load(std::memory_order_relaxed))
      return false;
    pp = standin_slot();
    pp->standin = true;  // a fresh or retired P: no owner, nothing held, retire clear
    pp->standin_for = hog;
    pp->status.store(pstatus::idle, std::memory_order_release);
    sched.nstandins.fetch_add(1, std::memory_order_relaxed);
    pidleput(pp);
  }
  hog->sysmon_standin = pp;
  hog->sysmon_hog_tick = tick;
  standins_lent.fetch_add(1, std::memory_order_relaxed);
  // An M for it, spinning: it finds the hog's goroutines by stealing.
  wakep();
  return true;
}

bool check_standins() {
  bool pending = false;
  int32_t n = sched.nprocs.load(std::memory_order_acquire);
  for (int32_t i = 0; i < n; i++) {
    p* hog = sched.allp[i];
    p* pp = hog->sysmon_standin;
    if (pp == nullptr) continue;
    pstatus s = hog->status.load(std::memory_order_acquire);
    if (s == pstatus::running && hog->schedtick.load(std::memory_order_relaxed) == hog->sysmon_hog_tick)
      continue;  // still hogging
    // The hog moved on: the stand-in goes, now if it is idle, else at its owner's next
    // scheduling decision. The record stays until it is gone (an idle P asked to retire
    // is retired here on a later round).
    int64_t timers_at = 0;
    {
      os::rt_lock_guard lk(sched.lock);
      if (!pp->standin || pp->standin_for != hog) {
        hog->sysmon_standin = nullptr;  // gone (by its owner, a stop-the-world, a run's end)
        continue;
      }
      if (!sched.gcwaiting.load(std::memory_order_relaxed) && pidle_remove(pp)) {
        timers_at = retire(pp);
        hog->sysmon_standin = nullptr;
      } else {
        pp->retire.store(true, std::memory_order_relaxed);
        pending = true;
        // The goroutine on it gives it up at its next safe point: a scheduling tick, and
        // a look at the retire request at least every 61st (fast_pick), if not at once.
        if (m* owner = pp->mp.load(std::memory_order_acquire))
          if (g* gp = owner->curg.load(std::memory_order_acquire)) flag_preempt(gp);
      }
    }
    if (timers_at != 0) wake_netpoller(timers_at);
  }
  return pending;
}

void retire_standin(m* mp) {
  bool was_spinning = mp->spinning;
  if (was_spinning) {
    mp->spinning = false;
    sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
  }
  p* pp = releasep(mp);
  p* next = nullptr;
  bool has_work;
  int64_t timers_at;
  {
    os::rt_lock_guard lk(sched.lock);
    if (sched.gcwaiting.load(std::memory_order_relaxed)) {
      // A stop-the-world counts this P: it stops like any (procresize retires it).
      pp->status.store(pstatus::gcstop, std::memory_order_release);
      if (--sched.stopwait == 0) sched.stopnote.wakeup();
      return;
    }
    timers_at = retire(pp);
    has_work = sched.runqsize.load(std::memory_order_relaxed) != 0;
    // With no M blocked in the poller, this one may be the M that was to watch the timers
    // and the poller: it came back from there and took the stand-in off the idle list. So
    // rather than stop, it goes on with an idle P, and findrunnable ends by watching them
    // itself if nothing turns up. (Stopping here once left every P idle, a sleeper's timer
    // due and nobody to fire it.) Work in the global queue is a reason too.
    if ((has_work || sched.lastpoll.load(std::memory_order_relaxed) != 0) &&
        !sched.exiting.load(std::memory_order_relaxed))
      next = pidleget();
  }
  if (next != nullptr) {
    acquirep(mp, next);
    if (was_spinning) {
      mp->spinning = true;
      sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
    }
    return;
  }
  // A spinning M that stops must look at every queue again, as findrunnable's does: a
  // goroutine readied while it spun had no M woken for it.
  if (was_spinning && !has_work) {
    int32_t n = sched.nprocs.load(std::memory_order_acquire);
    for (int32_t i = 0; i < n && !has_work; i++) has_work = !runqempty(sched.allp[i]);
  }
  if (has_work) wakep();
  if (timers_at != 0) wake_netpoller(timers_at);
}

void forget_standin(p* pp) {
  pp->standin = false;
  pp->standin_for = nullptr;
  pp->retire.store(false, std::memory_order_relaxed);
}

void retire_standin_locked(p* pp) {
  if (!pp->standin) fatal("retire_standin_locked: not a stand-in");
  pidle_remove(pp);
  (void)retire(pp);  // the run is over: its timers are cleared next
}

}  // namespace gort::rt
