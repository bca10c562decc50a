// fork: see fork.hpp.
#include "sched/fork.hpp"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "malloc/pcache.hpp"
#include "sched/fatal.hpp"
#include "sched/netpoll.hpp"
#include "sched/runq.hpp"
#include "sched/sched.hpp"
#include "sched/stack.hpp"
#include "sched/sysmon.hpp"
#include "sched/threads.hpp"
#include "sched/timers.hpp"

namespace gort::rt {

std::atomic<bool> forked_during_run{false};

namespace {

// Set in a forked child; cleared by the child's next gort::run once it restarted the
// runtime's threads. Only the child's one thread touches it before that run.
bool restart_pending = false;

// Only the calling thread's M exists in the child: forget the others (their m structs
// leak, as their threads are gone). Caller holds sched.lock or is the only thread.
void forget_other_ms(m* self) {
  sched.midle = nullptr;
  sched.nmidle = 0;
  sched.nmidlelocked = 0;
  sched.nmspinning.store(0, std::memory_order_relaxed);
  sched.allm.clear();
  if (self != nullptr && !self->is_m0) sched.allm.push_back(self);
  sched.mcount = self != nullptr ? 1 : 0;
  int32_t procs = sched.nprocs.load(std::memory_order_acquire);
  for (int32_t i = 0; i < procs; i++) {
    p* pp = sched.allp[i];
    // The cache of a P whose thread is gone may have been mid-allocation: a new one (the
    // old one's spans stay allocated to it, a leak in the child only).
    if (malloc::bound_to_other_thread(pp->mcache)) pp->mcache = malloc::new_p_cache();
  }
}

struct fork_hook {
  void (*prepare)();
  void (*parent)();
  void (*child)();
};
constexpr int kMaxForkHooks = 8;
fork_hook fork_hooks[kMaxForkHooks] = {};
int n_fork_hooks = 0;

// The locks every run needs, which a thread of a run in progress may hold at the fork, in
// the order the runtime nests them. The services' come first (on_fork), the semaphore
// table's among them: a timer's lock is held while arming it wakes a P (sched.lock), and a
// goroutine parking on a semaphore holds its root's lock until the park commits, while
// leave() may take sched.lock before that to pick the next goroutine (fast_pick). Then the
// scheduler's, and the leaves taken under it: the G free list's (procresize gives Gs back
// under sched.lock) and the G pool's.
void fork_prepare() {
  for (int i = 0; i < n_fork_hooks; i++) fork_hooks[i].prepare();
  sched.lock.lock();
  sched.allglock.lock();
  sched.gflock.lock();
  gpool_lock();
}

void unlock_after_fork(bool child) {
  gpool_unlock();
  sched.gflock.unlock();
  sched.allglock.unlock();
  sched.lock.unlock();
  for (int i = n_fork_hooks; i-- > 0;) (child ? fork_hooks[i].child : fork_hooks[i].parent)();
}

void fork_parent() { unlock_after_fork(false); }

void fork_child() {
  restart_pending = true;
  sysmon_forget_after_fork();
  netpoll_after_fork();
  if (sched.running.load(std::memory_order_relaxed)) {
    forked_during_run.store(true, std::memory_order_relaxed);
    forget_other_ms(current_m());
    // A preemption request the parent's sysmon left would make the next safe point yield,
    // which is fatal here; no sysmon makes new ones.
    if (g* self = current_g()) self->preempt.store(false, std::memory_order_relaxed);
    // None of the parent's goroutines runs here: empty the run queues and the timers.
    int32_t procs = sched.nprocs.load(std::memory_order_acquire);
    for (int32_t i = 0; i < procs; i++) {
      p* pp = sched.allp[i];
      runqdrop(pp);
      pp->timers_lock.reinit_in_forked_child();
      cleartimers(pp);
    }
    sched.runq.clear();
    sched.runq_woken.clear();
    sched.runqsize.store(0, std::memory_order_relaxed);
  }
  unlock_after_fork(true);
}

}  // namespace

void install_fork_handlers() {
  // Prepare handlers run in the reverse order of registration: the scheduler's locks, then
  // the stack pool's, then the heap's, the order in which the runtime nests them.
  malloc::install_fork_handlers();  // see pcache.hpp
  pthread_atfork(stack_pool_fork_prepare, stack_pool_fork_after, stack_pool_fork_after);
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void on_fork(void (*prepare)(), void (*after)()) { on_fork(prepare, after, after); }

void on_fork(void (*prepare)(), void (*parent)(), void (*child)()) {
  if (n_fork_hooks == kMaxForkHooks) fatal("on_fork: too many hooks");
  fork_hooks[n_fork_hooks++] = {prepare, parent, child};
}

void forked_child_leaves(m* mp, g* gp, bool dying) {
  if (dying && gp->is_main && sched.exiting.load(std::memory_order_acquire)) {
    if (mp->is_m0) return;  // the run ends as usual and gort::run returns
    // The thread that called gort::run did not come along: exit as Go's main does.
    fflush(nullptr);
    _exit(sched.exit_code);
  }
  forked_child_needs_thread();
}

void forked_child_needs_thread() {
  fatal("fork without exec: a forked child cannot schedule goroutines");
}

void restart_after_fork() {
  if (!restart_pending) return;
  restart_pending = false;
  forked_during_run.store(false, std::memory_order_relaxed);
  {
    os::rt_lock_guard lk(sched.lock);
    forget_other_ms(nullptr);
  }
  runtime_threads_starting();
  start_sysmon();
  runtime_threads_started();
}

}  // namespace gort::rt
