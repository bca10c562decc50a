// sched: the scheduler's internal interface (Go: proc.go), shared by the runtime's files and
// by the layers above (chan, sync, net, time), which wait only through gopark/goready.
//
// Threading rules: functions marked "sched.lock" must be called with sched.lock held.
// Anything that can run on a g0 (hooks, timer callbacks) must not block or park.
#pragma once
#include <atomic>
#include <cstdint>

#include "os/clock.hpp"
#include "sched/runtime2.hpp"

namespace gort::rt {

// ---- Current m/g/p. Never cached across a switch: goroutines migrate between threads. ----
}  // namespace gort::rt

// The current M, one initial-exec TLS slot per thread.
extern "C" __thread gort::rt::m* gort_tls_m __attribute__((tls_model("initial-exec")));

namespace gort::rt {

// Reads the slot with a volatile %fs-relative load: the compiler can neither cache the value
// nor the slot's address across a context switch (the goroutine may resume on another
// thread, with another slot).
inline m* current_m() {
  m* r;
  asm volatile("movq gort_tls_m@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0" : "=r"(r));
  return r;
}
inline g* current_g() {
  m* mp = current_m();
  return mp != nullptr ? mp->curg.load(std::memory_order_relaxed) : nullptr;
}
inline p* current_p() {
  m* mp = current_m();
  return mp != nullptr ? mp->pp : nullptr;
}
void set_current_m(m* mp);
uint32_t fastrand();

// ---- Park and ready: the only way a goroutine waits. ----
// Parks the current goroutine. After it is switched out (so nothing can run it yet),
// unlockf(gp, arg) runs on another stack; if it returns false the goroutine is made
// runnable again at once. unlockf may be null. (Go: gopark)
void gopark(bool (*unlockf)(g* gp, void* arg), void* arg, wait_reason reason);
// Parks, unlocking lock once the goroutine is switched out. (Go: goparkunlock) A
// light_rt_mutex only where its storage outlives the unlock whatever the woken goroutine
// does (the semaphore table's); channels end their parks themselves (chan/chan.cpp).
void goparkunlock(os::rt_mutex* lock, wait_reason reason);
void goparkunlock(os::light_rt_mutex* lock, wait_reason reason);
// Makes a parked goroutine runnable, in runnext of the caller's P. Callable from any thread.
void goready(g* gp);
// waiting -> runnable, waiting out a copystack hold (stack_release.cpp). False, with the
// status seen in *seen, when gp was in neither state.
bool cas_waiting_to_runnable(g* gp, gstatus* seen = nullptr);
// A goroutine taken off the poller (or handed to injectglist) becomes runnable.
inline void set_runnable_after_wait(g* gp) {
  if (!cas_waiting_to_runnable(gp)) gp->status.store(gstatus::runnable, std::memory_order_release);
}
// Yields the P: the goroutine goes to the global run queue. (Go: Gosched)
// False (and nothing done) when the caller is not a goroutine.
bool gosched();
// Go: goyield — like gosched, but onto this P's local queue, so a goroutine just readied
// into runnext runs next and the caller soon after. False when not on a P.
bool goyield();
// Go: sync_runtime_canSpin — whether a sync primitive should spin (iteration iter) before
// parking.
bool sync_can_spin(int iter);
// The safe point: yields if sysmon asked the current goroutine to. Cheap when it did not.
void check_preempt();
// Asks gp to yield at its next safe point, and sets gort::detail::preempt_hint so that the
// safe points that look only at the hint (sync's unlocks) look at gp's flag.
void flag_preempt(g* gp);
// sysmon, once per round: clears the hint when no running goroutine is flagged.
void refresh_preempt_hint();

// ---- Goroutine creation (behind gort::go). ----
inline constexpr size_t kMaxInlineClosure = 1024;
// Reserves a g with room for a closure of size/align (<= kMaxInlineClosure) at *storage.
g* newproc_alloc(size_t size, size_t align, void** storage);
// Starts the goroutine: entry(storage) runs on it. gopc names the creator in tracebacks.
void newproc_start(g* gp, void (*entry)(void*), uintptr_t gopc);
// Gives back a g whose closure could not be constructed.
void newproc_abort(g* gp);
// Ends the current goroutine after its destructors ran (Go: goexit1). Never returns.
[[noreturn]] void goexit0(g* gp);
int64_t goroutine_count();
// Moves all of pp's free Gs to the global free list (procresize).
void gfree_give_back(p* pp);
// fork.cpp: the G pool's lock, held across fork() (see fork.hpp).
void gpool_lock();
void gpool_unlock();
// Counts a goroutine start (+1) or end (-1) on pp (its owner), or globally for null.
void count_goroutine(p* pp, int64_t delta);

// ---- Ms and Ps (m.cpp). ----
void wakep();
void startm(p* pp, bool spinning);
void stopm(m* mp);
void handoffp(p* pp);
void acquirep(m* mp, p* pp);
p* releasep(m* mp);
void pidleput(p* pp);             // sched.lock
p* pidleget();                    // sched.lock
void mput(m* mp);                 // sched.lock
m* mget();                        // sched.lock
void mremove(m* mp);              // sched.lock; no-op if mp is not idle
void resetspinning(m* mp);
void injectglist(g* head);
// Wakes a sleeping sysmon and resets its interval to 20 us (Go: the wake-ups in
// entersyscall, exitsyscall and startTheWorld, after which a P may need retaking soon).
void wake_sysmon();
// Wakes a sleeping sysmon so that it watches the goroutine a P is about to run, at the
// interval it had backed off to (see pidleget).
void wake_sysmon_to_watch();
void startlockedm(m* mp, g* gp);
void stoplockedm(m* mp);
// The scheduler loop on an M's g0. Returns only on m0 when a gort::run ends.
void schedule(m* mp);
// Switches from g0 to gp.
void execute(m* mp, g* gp, bool inherit);

// Runs fn at the start of every garbage-collection cycle (Go: clearpools at gcStart). Until
// gort has a collector, sysmon starts a "cycle" every 2 minutes (Go's forcegcperiod).
// Register from static initialisers or before gort::run; at most 8 hooks.
void on_gc_start(void (*fn)());
void gc_start_hooks();
// Functions the layers above register to drop their references to goroutines that a
// finished gort::run left behind (e.g. semaphore waiters). Called with every M at rest and
// no scheduler lock held (they take their services' locks, which nest outside those: see
// fork.hpp).
void on_run_end(void (*fn)());
void run_end_hooks();

// ---- Timers and the poller. ----
// Makes sure some M will look at a timer due at `when` (Go: wakeNetPoller).
void wake_netpoller(int64_t when);

// ---- Deadlock detection (checkdead.cpp). sched.lock. ----
void checkdead();

// ---- Coarse clock updated by sysmon, for wait times in tracebacks and the switch's
// cold-stack test. Inline: gopark and the switch read it on every park and resume. ----
extern std::atomic<int64_t> coarse_now;  // sysmon.cpp; 0 until sysmon's first round
inline int64_t coarse_nanotime() {
  int64_t t = coarse_now.load(std::memory_order_relaxed);
  return t != 0 ? t : os::nanotime();
}

}  // namespace gort::rt
