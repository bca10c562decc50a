// timers: the per-P 4-ary timer heaps (Go 1.14-1.22: addtimer, deltimer, modtimer,
// checkTimers in time.go). There is no timer thread: the scheduler runs due timers from
// schedule/findrunnable, thieves run an idle P's due timers, and the M that blocks in
// netpoll sleeps until the earliest timer of all Ps.
//
// Deletion is eager (under the heap's lock) rather than Go's lazy status marking; the
// observable behaviour is Go's: deltimer reports whether it stopped a pending timer, and a
// timer's f may already be running when deltimer returns false.
#pragma once
#include <cstdint>

#include "sched/runtime2.hpp"

namespace gort::rt {

// Adds t (not in any heap) to the current P's heap, or to some P's if the caller has none.
// A timer still in a heap is a fatal error ("addtimer called with initialized timer").
void addtimer(timer* t);
// Removes t from its heap. True if it was pending (and so will not fire).
bool deltimer(timer* t);
// deltimer, then set when/period and add again. Returns whether it was pending.
bool modtimer(timer* t, int64_t when, int64_t period);

// Runs pp's due timers. now == 0: read the clock (only if some timer could be due).
// Returns the time used, and via next the heap's next when (0: none), via ran whether any
// timer ran.
int64_t checktimers(p* pp, int64_t now, int64_t* next, bool* ran);

// Moves every timer of from into to (procresize). Both heaps locked inside.
void movetimers(p* from, p* to);
// Drops every timer of pp (end of a gort::run).
void cleartimers(p* pp);

// For tests: pp's heap is in order, each slot's when and position match its timer's, and
// timer0when is the top's when (checked under the heap's lock).
bool timer_heap_valid(p* pp);

}  // namespace gort::rt
