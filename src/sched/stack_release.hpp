// stack_release: gives back the stack pages of goroutines that sit idle on the network
// poller, keeping only the bytes their frames use (gort's stand-in for Go's stack
// shrinking, which halves an idle goroutine's stack at each GC).
//
// A goroutine parked in "IO wait" (an idle connection's reader) holds a whole page of
// stack for a frame chain of a kilobyte or so. When sysmon's sweep (every kSweepNs while
// some poller waiter still holds its pages) finds one that has been parked there since
// before the previous sweep, it copies [sp, stk.hi) aside and releases those pages. The
// pages then carry guard markers (MADV_GUARD_INSTALL), so that any access to them faults
// instead of reading zeros; the SIGSEGV handler puts the bytes back and the access
// retries. Whoever switches to the goroutine puts them back first.
//
// States of g::stk_state and who moves them:
//   resident --sysmon--> releasing --sysmon--> released --restorer--> restoring --> resident
// sysmon holds the goroutine in gstatus::copystack from before `releasing` to after
// `released`, so no waker can make it runnable (nor a P run it) in between. While the
// pages are copied out (`releasing`) or back (`restoring`) they are PROT_NONE and the
// copying goes through /proc/self/mem, so another thread's load or store faults and waits
// rather than seeing zeros or being lost. A restorer (the scheduler about to run the
// goroutine, the fault handler, a traceback) wins the CAS released -> restoring; the
// others wait for resident. Needs guard markers (Linux >= 6.13) and a /proc/self/mem that
// writes through protections (the default; `proc_mem.force_override=never` forbids it).
//
// Only slab stacks (stack.cpp) take part; never under ASan or TSan.
// GODEBUG=gcshrinkstackoff=1 turns it off, as it does Go's shrinking.
// Limit: a system call that reads or writes a released page fails with EFAULT instead of
// faulting (the kernel raises no signal for its own accesses). gort's own I/O calls touch
// their buffers first (touch_user_buffer); ordinary loads and stores from any thread are
// handled.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gort::rt {

struct g;

enum : uint8_t { stk_resident = 0, stk_releasing = 1, stk_released = 2, stk_restoring = 3 };

inline constexpr int64_t kStackSweepNs = 50'000'000;  // how often sysmon sweeps
// sysmon's work per round, within its own longest sleep (Go's sysmon sleeps up to 10 ms).
inline constexpr int64_t kStackSweepSliceNs = 5'000'000;
inline constexpr size_t kStackReleaseMaxBytes = 16 * 1024;  // deeper frame chains stay

// Whether this process releases idle stacks (kernel support, no sanitizer, GODEBUG).
bool stack_release_enabled();
// stack.cpp registers every slab so that a fault address maps to its stack.
void register_stack_slab(uintptr_t base, size_t stride, size_t barrier, size_t count);
// fork: the registry's lock, held across fork() by stack_pool_fork_prepare (stack.hpp).
void slab_registry_lock();
void slab_registry_unlock();
// The net layer's walk over the goroutines parked on the poller (poll_desc.cpp).
void set_io_waiter_walk(void (*walk)(void (*visit)(g*)));
// Called by a goroutine about to park on the poller.
void note_io_park(g* gp);
// sysmon, on every round: starts a sweep every kStackSweepNs while some poller waiter
// holds its pages (collecting the waiters), and releases the stacks of those parked since
// before the previous sweep for at most kStackSweepSliceNs, so that sysmon's other duties
// wait no longer than that. True while the sweep is unfinished.
bool stack_release_tick(int64_t now);
// The longest sysmon may sleep without delaying the sweep (INT64_MAX: no limit).
int64_t stack_release_wait_cap();
// Stacks released now, and releases so far (a statistic).
extern std::atomic<int32_t> released_stacks;
extern std::atomic<uint64_t> stack_releases_total;
// Puts gp's stack back (a no-op if it is resident); async-signal-safe.
void restore_stack(g* gp);
// The scheduler, before switching to gp (gp->stk_saved != null): restore and free the copy.
void resume_released_stack(g* gp);
// Before a system call reads or writes [p, p + len) for the caller: touches each page of it,
// so that a page of another goroutine's released stack (the buffer may live there) comes
// back through the fault handler instead of failing the call with EFAULT.
inline void touch_user_buffer(const void* p, size_t len) {
  if (len == 0) return;
  auto* b = static_cast<const volatile unsigned char*>(p);
  for (size_t off = 0; off < len; off += 4096) (void)b[off];
  (void)b[len - 1];
}

// The SIGSEGV handler: true if the fault at addr (an instruction fetch when `fetch`) came
// from a released or changing stack page, now usable again (retry the access).
bool restore_stack_after_fault(uintptr_t addr, bool fetch);

}  // namespace gort::rt
