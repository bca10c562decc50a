// runq: the local run queue of a P and the global run queue (Go: runqput, runqget,
// runqgrab, runqsteal, globrunqput*, globrunqget in proc.go).
//
// Local queue invariants: head and tail only grow (slot = index % 256); only the owning P's
// m pushes (release-store of tail); the owner and thieves pop with a CAS on head; runnext is
// a one-slot queue in front, taken by CAS. A full ring spills half of itself plus the new g
// to the global queue in one batch. The global queue is a FIFO ring of g pointers under
// sched.lock (see schedt::runq_buf).
#pragma once
#include "sched/runtime2.hpp"

namespace gort::rt {

// Puts gp on pp's local queue; with next, into runnext (the g there moves to the tail).
// Caller owns pp.
void runqput(p* pp, g* gp, bool next);
// Takes a g from pp's local queue (runnext first). inherit is set when the g came from
// runnext and so inherits the current time slice. Caller owns pp.
g* runqget(p* pp, bool* inherit);
bool runqempty(p* pp);
uint32_t runqlen(p* pp);
// Steals half (rounded up) of p2's queue into pp's; returns one g to run or null.
g* runqsteal(p* pp, p* p2, bool steal_runnext);

// Global queue; sched.lock must be held.
void globrunqput(g* gp);
void globrunqputhead(g* gp);
void globrunqputbatch(g* head, int32_t n);  // the first n of a list through schedlink
void globrunqputarray(g* const* gs, uint32_t n);
// Takes a batch for pp (at most max, 0: no limit beyond Go's rules); returns one to run and
// moves the rest into pp's local queue.
g* globrunqget(p* pp, int32_t max);

}  // namespace gort::rt
