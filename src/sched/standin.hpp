// standin: stand-in Ps, gort's answer to a goroutine that computes without reaching a safe
// point (Go 1.14+ would preempt it with a signal; gort cannot safely interrupt C++ code,
// see docs/preemption.md).
//
// sysmon flags a goroutine that has run for 10 ms; if it still has not yielded 1 ms
// later (a hog: a goroutine that reaches safe points yields within microseconds of the
// flag) and work waits for its P (its run queue, its due timers, or the global
// queue while no P is idle), sysmon lends one extra P, a stand-in, and wakes an M for it.
// That M steals the hog's queue and runs its timers as any idle P's would, so the other
// goroutines run while the hog keeps its thread: as if the hog were in a blocking call.
// When the hog reaches a safe point (its P's schedtick moves on) or leaves its P, sysmon
// asks the stand-in to retire: at once if it is idle, else when its owner next goes
// through findrunnable (sysmon flags the goroutine on it, and fast_pick's direct switches
// send the owner there on every 61st tick), which gives its queue to the global one.
//
// Invariants:
//  - A stand-in lives in allp[gomaxprocs, nprocs); a retired one there has status dead and
//    holds nothing (no goroutines, timers, free Gs, stacks or cached spans).
//  - At most one stand-in per hogged P, and none for a stand-in: nstandins <= gomaxprocs,
//    so at most 2 × GOMAXPROCS threads run goroutines at once, and nprocs <= 2 × gomaxprocs.
//  - standin and standin_for change under sched.lock; only sysmon lends and asks to retire.
//  - A stop-the-world stops stand-ins like any P, and procresize retires them all.
#pragma once
#include <atomic>
#include <cstdint>

#include "sched/runtime2.hpp"

namespace gort::rt {

// sysmon: pp's goroutine has kept it since sysmon's schedtick `tick` was seen; lends a
// stand-in if work waits for pp and none is lent for it. True if one was lent.
bool lend_standin(p* pp, uint32_t tick, int64_t now);
// sysmon: asks the stand-ins whose hogs moved on to retire; retires idle ones at once.
// True while one asked has not retired yet (sysmon then looks again soon).
bool check_standins();
// The owner of a stand-in asked to retire (pp->retire): gives its goroutines to the
// global queue and its timers to P 0. mp then holds an idle P if no M watches the poller
// or the global queue has work (the caller goes on looking for work with it), else no P
// (the caller stops mp).
void retire_standin(m* mp);
// sched.lock held: pp is no stand-in (any more), and no request to retire is pending.
void forget_standin(p* pp);
// sched.lock held, every M at rest or the world stopped: retires stand-in pp (its runnable
// goroutines go to the global queue). Its cache is flushed too.
void retire_standin_locked(p* pp);

// How many stand-ins sysmon has lent since the process started (for tests).
extern std::atomic<uint64_t> standins_lent;
// No stand-ins are lent while set: GODEBUG=asyncpreemptoff=1, Go's switch for its own
// answer to such goroutines (asynchronous preemption), sets it at start-up; tests that
// need one P's exact order set it too.
extern std::atomic<bool> standins_off;

// Ps that may run goroutines now: GOMAXPROCS plus the live stand-ins.
inline int32_t live_procs() {
  return sched.gomaxprocs.load(std::memory_order_relaxed) +
         sched.nstandins.load(std::memory_order_relaxed);
}

}  // namespace gort::rt
