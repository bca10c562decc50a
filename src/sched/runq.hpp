// runq: the local run queue of a P and the global run queue (Go: runqput, runqget,
// runqgrab, runqsteal, globrunqput*, globrunqget in proc.go).
//
// Local queue invariants: head and tail only grow (slot = index % 256); only the owning P's
// m pushes (release-store of tail); the owner and thieves pop with a CAS on head; runnext is
// a one-slot queue in front, taken by CAS. A full ring spills half of itself plus the new g
// to the global queue in one batch.
//
// Global queue invariants: two FIFO rings of g pointers under sched.lock (schedt::runq and
// runq_woken). globrunqput_back always uses runq (Go's tail: a goroutine that yields or is
// preempted goes behind everything queued); globrunqput, the batch puts and globrunqputhead
// use runq_woken for a g that holds a stack (sp set) and runq for one that has not started.
// runqsize is the sum of the two sizes. globrunqget takes Go's amount from the two together,
// from runq_woken first, but with one place in every batch of two or more for runq (when it
// holds any) and in every other batch of one, so that neither ring can starve the other.
// Go has one FIFO queue; gort serves woken goroutines first because its goroutines take
// their stack on their first run, not at creation (docs/stacks.md): a burst of creations
// queued ahead of a woken goroutine delays it behind many first runs, each paying for a
// fresh stack page, and grows the number of live stacks. A yielding or preempted goroutine
// (the creator of that burst, say) stays behind the burst, as in Go, which paces it.
#pragma once
#include "sched/runtime2.hpp"

namespace gort::rt {

// Puts gp on pp's local queue; with next, into runnext (the g there moves to the tail).
// Caller owns pp.
void runqput(p* pp, g* gp, bool next);
// Takes a g from pp's local queue (runnext first). inherit is set when the g came from
// runnext and so inherits the current time slice. Caller owns pp.
g* runqget(p* pp, bool* inherit);
// Whether pp's local queue holds a g, as its owner sees it: only the owner fills the ring
// and runnext, and thieves only empty them, so for the owner "no" is exact. Lets a switch
// skip runqget's call when the queue is empty (a Gosched ping-pong on one P). Caller owns pp.
inline bool runq_has_work(const p* pp) {
  return pp->runnext.load(std::memory_order_relaxed) != nullptr ||
         pp->runqhead.load(std::memory_order_relaxed) != pp->runqtail.load(std::memory_order_relaxed);
}
bool runqempty(p* pp);
uint32_t runqlen(p* pp);
// Forgets every g queued on pp, runnext included: they never run (a run that ends, a
// forked child). pp is owned by nobody else, or the run is ending.
void runqdrop(p* pp);
// Steals half (rounded up) of p2's queue into pp's; returns one g to run or null.
g* runqsteal(p* pp, p* p2, bool steal_runnext);

// Global queue; sched.lock must be held.
// runqsize changes only under sched.lock; others read it without the lock.
inline void add_runqsize(int32_t n) {
  sched.runqsize.store(sched.runqsize.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
void globrunqput(g* gp);
// Go's globrunqput for a g that gave up the processor (inline: every Gosched makes one).
inline void globrunqput_back(g* gp) {
  sched.runq.reserve(1);
  sched.runq.push_back(gp);
  add_runqsize(1);
}
void globrunqputhead(g* gp);
void globrunqputbatch(g* head, int32_t n);  // the first n of a list through schedlink
void globrunqputarray(g* const* gs, uint32_t n);
// Takes a batch for pp (at most max, 0: no limit beyond Go's rules); returns one to run and
// moves the rest into pp's local queue.
g* globrunqget(p* pp, int32_t max);

}  // namespace gort::rt
