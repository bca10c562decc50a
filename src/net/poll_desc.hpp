// poll_desc: one per registered descriptor (Go: runtime.pollDesc and the poll_runtime_*
// functions of netpoll.go). Holds a read and a write waiter slot, the deadlines and their
// timers, and the closing flag.
//
// Each slot (rg, wg) is a binary semaphore: 0 (nothing), kReady (an event arrived that no
// one consumed), kWait (a goroutine is about to park), or the waiter itself: a g*, or a
// thread_waiter* tagged with bit 0 for a plain thread that blocks its own thread.
// The poller sets kReady or takes the waiter out (edge-triggered events: an event that finds
// no waiter is remembered as kReady). Deadlines and close take the waiter out without
// setting kReady, and the waiter then sees the error.
//
// Invariants:
//  - At most one waiter per slot (the fd layer serialises readers and writers).
//  - poll_desc memory is never freed (a pool, as Go's pollcache): a deadline timer or a
//    late poller event may still touch a descriptor that was closed and reused. Timers carry
//    the deadline's sequence number and are ignored when stale; a stale event only makes a
//    later waiter retry its syscall.
//  - rd/wd: 0 no deadline, -1 expired, otherwise the nanotime it passes. Changed under lock.
#pragma once
#include <atomic>
#include <cstdint>

#include "os/lock.hpp"
#include "sched/netpoll.hpp"
#include "sched/runtime2.hpp"

namespace gort::rt {

struct poll_desc final : poll_target {
  os::light_rt_mutex lock;  // poll_descs are never freed (the pool below)
  int fd = -1;
  std::atomic<uintptr_t> rg{0};
  std::atomic<uintptr_t> wg{0};
  std::atomic<bool> closing{false};
  std::atomic<bool> hup{false};  // the poller saw RDHUP/HUP/ERR: a lasting state, no more edges
  std::atomic<int64_t> rd{0};
  std::atomic<int64_t> wd{0};
  timer rt;  // read deadline timer (arg = this, seq = rseq)
  timer wt;
  uintptr_t rseq = 0;  // bumped at every deadline change and reuse (stale timers ignored)
  uintptr_t wseq = 0;
  poll_desc* link = nullptr;  // free list
};

enum poll_err : int { poll_ok = 0, poll_err_closing = 1, poll_err_timeout = 2 };

// Held across fork() (sched/fork.hpp), so that a forked child's descriptors, old and new,
// are whole and free: the thread waiters' lock, the descriptor cache's, then every
// descriptor's (none of them is held with another).
void lock_poll_descs_for_fork();
void unlock_poll_descs_after_fork();

// Go: poll_runtime_pollOpen. Registers fd (edge-triggered); null and *err = errno on failure.
poll_desc* poll_open(int fd, int* err);
// Go: poll_runtime_pollClose. No waiter may remain (call poll_evict first). The descriptor
// is unregistered here; close the fd afterwards.
void poll_close(poll_desc* pd);
// Go: poll_runtime_pollReset — before a syscall: reports closing/expired, and clears a
// stale kReady. mode 'r' or 'w'.
int poll_reset(poll_desc* pd, int mode);
// For a reader that just drained the socket (its last read returned less than it asked
// for): waits for the next readiness edge instead of trying a syscall that would say
// EAGAIN, unless an edge is already recorded. Then the caller reads. Not in Go, which
// always tries the syscall first; the result is the same with one syscall fewer per
// request/response turn. Only for TCP, whose short reads mean an empty receive queue; not
// once the peer's FIN or an error was seen (a short read may leave EOF pending, and no
// further edge would announce it).
int poll_wait_drained(poll_desc* pd, int mode);
// Go: poll_runtime_pollWait — waits until the descriptor is ready for mode, or a deadline
// passes (poll_err_timeout), or it is closed (poll_err_closing).
int poll_wait(poll_desc* pd, int mode);
// Go: poll_runtime_pollSetDeadline. d: absolute nanotime, 0 for none. mode 'r', 'w' or
// 'r'+'w'. A deadline in the past wakes the waiter with a timeout at once.
void poll_set_deadline(poll_desc* pd, int64_t d, int mode);
// Go: poll_runtime_pollUnblock — marks closing and wakes both waiters.
void poll_evict(poll_desc* pd);

}  // namespace gort::rt
