// netpoll: the epoll instance the scheduler blocks in when it has nothing to run (Go:
// netpoll_epoll.go). The M that blocks there sleeps until the earliest timer of all Ps;
// netpoll_break interrupts it (an earlier timer, new work, shutdown). The network layer
// registers descriptors through netpoll_register and gets its waiters back from netpoll.
//
// Invariant: at most one M blocks in netpoll at a time (sched.lastpoll == 0 while it does).
#pragma once
#include <atomic>
#include <cstdint>

#include "sched/runtime2.hpp"

namespace gort::rt {

void netpoll_init();
// In a forked child: a new epoll instance and wake-up descriptor. The inherited ones are
// the parent's (an epoll instance is shared across fork), and the child's registrations
// there would hand the parent events for the child's poll descriptors. The descriptors
// open at the fork (a listener inherited by prefork workers) are registered again, by the
// hook the network layer set.
void netpoll_after_fork();
void set_netpoll_reregister(void (*fn)());
// Waits up to delay_ns (< 0: forever, 0: just poll) and returns the goroutines made ready,
// linked through schedlink. Wait precision is nanoseconds (epoll_pwait2) where the kernel
// has it, milliseconds otherwise.
g* netpoll(int64_t delay_ns);
void netpoll_break();

// Something the poller calls back for each event on a registered descriptor: it returns
// the goroutines to ready (linked through schedlink) or null.
// on_event is atomic because the poller reads it on another thread, ordered after its
// initialisation only through the kernel (epoll_ctl), which race detectors cannot see.
struct poll_target {
  using callback = g* (*)(poll_target* self, uint32_t events);
  std::atomic<callback> on_event;
};
int netpoll_register(int fd, poll_target* target);  // edge-triggered IN|OUT|RDHUP
int netpoll_unregister(int fd);

// Goroutines parked on the poller; while > 0, findrunnable polls and an idle M blocks in
// netpoll even without timers.
extern std::atomic<int32_t> netpoll_waiters;

}  // namespace gort::rt
