// schedule: the scheduler loop that runs on each M's g0, and findrunnable, which finds the
// next goroutine or parks the M (Go 1.19: schedule, findRunnable, stealWork in proc.go).
//
// findrunnable's order, as in Go: stop for stop-the-world; run this P's due timers; every
// 61st tick one goroutine from the global queue (fairness); runnext and the local queue;
// the global queue; a non-blocking netpoll; stealing (only while at most half of the busy
// Ps have a spinning M): four passes over the Ps in random order, taking half of a victim's
// queue, and in the last pass also running its due timers and taking its runnext. Then the
// P is released, a spinning M re-checks every queue (so no wake-up is lost), and the M
// blocks in netpoll until the earliest timer (one M at most) or parks on its note.
#include "os/clock.hpp"
#include "sched/fatal.hpp"
#include "sched/netpoll.hpp"
#include "sched/runq.hpp"
#include "sched/sched.hpp"
#include "sched/shutdown.hpp"
#include "sched/standin.hpp"
#include "sched/timers.hpp"

namespace gort::rt {
namespace {

void gcstopm(m* mp) {
  if (mp->spinning) {
    mp->spinning = false;
    sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst);
  }
  p* pp = releasep(mp);
  {
    os::rt_lock_guard lk(sched.lock);
    pp->status.store(pstatus::gcstop, std::memory_order_release);
    if (--sched.stopwait == 0) sched.stopnote.wakeup();
  }
  stopm(mp);
}

uint32_t gcd(uint32_t a, uint32_t b) {
  while (b != 0) {
    uint32_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// Tries to steal a goroutine or run timers of other Ps. Sets *new_work when timers ran
// (they may have readied goroutines anywhere) and lowers *poll_until to the earliest timer.
g* steal_work(m* mp, int64_t* now, int64_t* poll_until, bool* new_work, bool* inherit) {
  p* pp = mp->pp;
  *new_work = false;
  *inherit = false;
  uint32_t n = uint32_t(sched.nprocs.load(std::memory_order_acquire));  // stand-ins too
  constexpr int kStealTries = 4;
  for (int i = 0; i < kStealTries; i++) {
    bool last_pass = i == kStealTries - 1;
    // Random start and a stride coprime with n visit every P once.
    uint32_t start = fastrand() % n;
    uint32_t stride = 1;
    if (n > 1) {
      stride = 1 + fastrand() % (n - 1);
      while (gcd(stride, n) != 1) stride = stride % (n - 1) + 1;
    }
    uint32_t pos = start;
    for (uint32_t k = 0; k < n; k++, pos = (pos + stride) % n) {
      if (sched.gcwaiting.load(std::memory_order_relaxed)) {
        *new_work = true;
        return nullptr;
      }
      p* p2 = sched.allp[pos];
      if (p2 == pp) continue;
      if (last_pass && p2->timer0when.load(std::memory_order_relaxed) != 0) {
        int64_t next;
        bool ran;
        *now = checktimers(p2, *now, &next, &ran);
        if (next != 0 && (*poll_until == 0 || next < *poll_until)) *poll_until = next;
        if (ran) {
          // A timer readied goroutines, maybe into our own runnext.
          if (g* gp = runqget(pp, inherit)) return gp;
          *new_work = true;
        }
      }
      if (p2->status.load(std::memory_order_relaxed) != pstatus::idle) {
        if (g* gp = runqsteal(pp, p2, last_pass)) return gp;
      }
    }
  }
  return nullptr;
}

// Finds a goroutine to run, blocking the M until there is one. Returns null only when the
// M must leave the scheduler loop (m0 at the end of a gort::run).
g* findrunnable(m* mp, bool* inherit) {
top:
  *inherit = false;
  if (sched.exiting.load(std::memory_order_acquire)) {
    if (exit_m(mp)) return nullptr;
    goto top;
  }
  if (mp->pp == nullptr) {  // came back from a syscall without a P
    stopm(mp);
    goto top;
  }
  p* pp = mp->pp;
  if (sched.gcwaiting.load(std::memory_order_acquire)) {
    gcstopm(mp);
    goto top;
  }
  if (pp->retire.load(std::memory_order_relaxed)) [[unlikely]] {
    retire_standin(mp);  // leaves mp with an idle P or none (it stops at the top)
    goto top;
  }

  int64_t poll_until;
  bool ran;
  int64_t now = checktimers(pp, 0, &poll_until, &ran);

  if (pp->schedtick.load(std::memory_order_relaxed) % 61 == 0 &&
      sched.runqsize.load(std::memory_order_relaxed) > 0) {
    os::rt_lock_guard lk(sched.lock);
    if (g* gp = globrunqget(pp, 1)) return gp;
  }

  if (g* gp = runqget(pp, inherit)) return gp;

  if (sched.runqsize.load(std::memory_order_relaxed) != 0) {
    os::rt_lock_guard lk(sched.lock);
    if (g* gp = globrunqget(pp, 0)) return gp;
  }

  // Non-blocking poll, when someone waits on it and no M is blocked in it already.
  if (netpoll_waiters.load(std::memory_order_relaxed) > 0 &&
      sched.lastpoll.load(std::memory_order_relaxed) != 0) {
    if (g* list = netpoll(0)) {
      g* gp = list;
      injectglist(list->schedlink);
      gp->schedlink = nullptr;
      set_runnable_after_wait(gp);
      return gp;
    }
  }

  // Steal, if at most half of the busy Ps have a spinning M already.
  if (mp->spinning || 2 * sched.nmspinning.load(std::memory_order_relaxed) <
                          live_procs() - sched.npidle.load(std::memory_order_relaxed)) {
    if (!mp->spinning) {
      mp->spinning = true;
      sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
    }
    bool new_work;
    if (g* gp = steal_work(mp, &now, &poll_until, &new_work, inherit)) return gp;
    if (new_work) goto top;
  }

  // Nothing: release the P.
  int32_t procs = sched.nprocs.load(std::memory_order_acquire);
  sched.lock.lock();
  if (sched.gcwaiting.load(std::memory_order_relaxed) || sched.exiting.load()) {
    sched.lock.unlock();
    goto top;
  }
  if (sched.runqsize.load(std::memory_order_relaxed) != 0) {
    g* gp = globrunqget(pp, 0);
    sched.lock.unlock();
    return gp;
  }
  releasep(mp);
  pidleput(pp);
  sched.lock.unlock();

  bool was_spinning = mp->spinning;
  if (mp->spinning) {
    // Drop spinning, then look again: a goroutine readied between our checks and the
    // decrement would otherwise wait for nobody (the "publish; barrier; check nmspinning"
    // protocol's other half).
    mp->spinning = false;
    if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0)
      fatal("findrunnable: negative nmspinning");
    for (int32_t i = 0; i < procs; i++) {
      p* p2 = sched.allp[i];
      if (!runqempty(p2) || sched.runqsize.load(std::memory_order_seq_cst) != 0) {
        sched.lock.lock();
        p* got = pidleget();
        sched.lock.unlock();
        if (got != nullptr) {
          acquirep(mp, got);
          mp->spinning = true;
          sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
          goto top;
        }
        break;
      }
    }
  }

  // The earliest timer of every P.
  for (int32_t i = 0; i < procs; i++) {
    int64_t w = sched.allp[i]->timer0when.load(std::memory_order_acquire);
    if (w != 0 && (poll_until == 0 || w < poll_until)) poll_until = w;
  }

  // Block in the poller until then, if no other M does.
  if ((netpoll_waiters.load(std::memory_order_relaxed) > 0 || poll_until != 0) &&
      sched.lastpoll.exchange(0, std::memory_order_acq_rel) != 0) {
    sched.pollUntil.store(poll_until, std::memory_order_release);
    int64_t delay = -1;
    if (poll_until != 0) {
      delay = poll_until - os::nanotime();
      if (delay < 0) delay = 0;
    }
    g* list = netpoll(delay);
    now = os::nanotime();
    sched.pollUntil.store(0, std::memory_order_relaxed);
    sched.lastpoll.store(now, std::memory_order_release);
    sched.lock.lock();
    p* got = sched.exiting.load() ? nullptr : pidleget();
    sched.lock.unlock();
    if (got == nullptr) {
      injectglist(list);
    } else {
      acquirep(mp, got);
      if (list != nullptr) {
        g* gp = list;
        injectglist(list->schedlink);
        gp->schedlink = nullptr;
        set_runnable_after_wait(gp);
        return gp;
      }
      if (was_spinning) {
        mp->spinning = true;
        sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      goto top;
    }
  } else if (poll_until != 0) {
    int64_t until = sched.pollUntil.load(std::memory_order_acquire);
    if (until == 0 || until > poll_until) netpoll_break();
  }
  stopm(mp);
  goto top;
}

}  // namespace

void schedule(m* mp) {
  for (;;) {
    // The hook of the goroutine that switched to g0 ran in switch_context already; here
    // we only decide what runs next.
    if (mp->exit_thread) {
      if (mp->pp != nullptr) handoffp(releasep(mp));
      os::rt_lock_guard lk(sched.lock);
      sched.mcount--;
      return;
    }
    if (mp->lockedg != nullptr && !sched.exiting.load(std::memory_order_acquire)) {
      stoplockedm(mp);
      if (mp->pp != nullptr && mp->lockedg != nullptr) {
        execute(mp, mp->lockedg, false);
        continue;
      }
      continue;
    }
    g* gp;
    bool inherit = false;
    if (mp->pending_g != nullptr) {
      gp = mp->pending_g;
      mp->pending_g = nullptr;
      if (gp->sp == nullptr && mp->pp != nullptr)  // see stackcache_keep_spare
        stackcache_keep_spare(&mp->pp->stackcache, sched.stack_size.load(std::memory_order_relaxed));
    } else {
      gp = findrunnable(mp, &inherit);
      if (gp == nullptr) return;
    }
    if (mp->spinning) resetspinning(mp);
    if (gp->lockedm != nullptr && gp->lockedm != mp) {
      startlockedm(mp, gp);
      continue;
    }
    execute(mp, gp, inherit);
  }
}

}  // namespace gort::rt
