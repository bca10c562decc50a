// fork: what the child of a fork keeps of the runtime. Go has no fork without exec (only
// ForkExec); a C++ program can fork anywhere, and only the forking thread comes along:
// sysmon, the other Ms and the threads the goroutines were running on are gone.
//
//  * Forked outside any gort::run: the child's next gort::run starts the runtime's threads
//    again (sysmon; Ms as needed) and works as in the parent.
//  * Forked during a run (by a goroutine): the parent's goroutines never run in the
//    child (its run queues and timers are emptied), and the child can only exec, exit,
//    or return from the main goroutine (if main forked on the thread that called
//    gort::run, gort::run returns in the child and a later one works; if main forked on
//    another thread, the process exits with main's code). Anything that needs another
//    goroutine to run (a park, a yield, gort::go starting an M, a goroutine's end) is a
//    fatal error rather than a hang:
//      fatal error: fork without exec: a forked child cannot schedule goroutines
//  * Either way the child gets its own epoll instance (netpoll_after_fork), never the
//    parent's (shared across fork), with the descriptors open at the fork registered in
//    it again: a worker forked after its parent listened can accept (prefork).
//
// Invariant: the locks a later run in the child needs are held across fork() (prepare
// handlers), so the child's copies of what they guard are whole. In the order taken, the
// order the runtime nests them: the services' (on_fork below: time channels and their
// registry, sync.Pool's caches and registry, the poller's descriptors, their cache and the
// thread waiters', sync.Map's reader registry, the semaphore table's), the scheduler's
// (sched.lock, allglock, gflock), the G pool's, the stack pool's, the heap's. Locks the
// lost threads may have held over state that the child drops anyway are re-initialised
// instead (per-P timer locks; the symboliser's, with a fresh handle), and what they were
// in the middle of is settled in the child: sync.Map's read sections and grace period
// (which the child's grace periods would wait for), the poller's count of waiting
// goroutines (counted again from the descriptors). Not covered: the program's own objects
// that a lost goroutine was using, as with pthreads: a channel's lock, a gort::sync::mutex
// it held (which stays held; a goroutine of the child that waits for it is a deadlock,
// reported as one).
#pragma once
#include "sched/runtime2.hpp"

namespace gort::rt {

// Registers the fork handlers (once, at runtime start-up).
void install_fork_handlers();

// A runtime service (time channels, sync.Pool, the poller, the semaphore table) registers
// the locks that a forked child's later run needs: `prepare` takes them, before any
// scheduler lock, and `after` releases them, in the parent and in the child. So a
// service's locks must never be taken under a scheduler lock nor under another service's
// (run-end hooks run with none held). Register from static initialisers; at most 8. The
// second form runs `child` instead of `parent` in the child, after the scheduler's own
// clean-up.
void on_fork(void (*prepare)(), void (*after)());
void on_fork(void (*prepare)(), void (*parent)(), void (*child)());

// Set in the child of a fork made during a run, until that run ends.
extern std::atomic<bool> forked_during_run;

// Called by leave() when forked_during_run: lets the main goroutine's return through (on
// m0; elsewhere the process exits with main's code) and makes anything else fatal.
void forked_child_leaves(m* mp, g* gp, bool dying);
// Called by startm when forked_during_run: starting an M is fatal in such a child.
[[noreturn]] void forked_child_needs_thread();

// Called by gort::run before it starts: restarts the runtime's threads if this process
// is a forked child whose runtime threads did not come along. Returns at once otherwise.
void restart_after_fork();

}  // namespace gort::rt
