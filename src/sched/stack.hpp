// stack: goroutine stack memory (Go: stack.go, but fixed-size rather than copying).
//
// A stack is reserved virtual memory (MAP_NORESERVE), committed page by page by the OS as
// the goroutine touches it. Layout, low to high: [lo, usable_lo) is the overflow barrier,
// [usable_lo, hi) is the stack proper; a closure too big for the G sits at the top.
//
// Stacks are not tied to Gs: a goroutine gets one when it first runs (or at creation when
// its closure must live on it) and gives it back when it exits. Free stacks keep their
// pages and wait in a per-P LIFO stack_cache, so the next goroutine to start on that P
// runs on memory the last one just left, still in cache; a cache that overflows (or
// belongs to a P being destroyed) passes stacks to a global list, and one that runs dry
// takes some back from it before reserving new ones.
//
// Overflow is never silent. Stacks are carved from slabs of 128, and slabs from reservations
// (one VMA each) that double in size up to 64 slabs, since a classic guard page (mprotect)
// splits VMAs and the kernel allows only 65530 per process (vm.max_map_count), far fewer
// than a million goroutines need:
//  - on Linux >= 6.13 each slab stack gets a guard page installed as a page-table marker
//    (madvise MADV_GUARD_INSTALL), which costs no VMA: an overflow faults and the SIGSEGV
//    handler reports it;
//  - on older kernels the first kGuardedBudget live stacks get an mprotect guard page each,
//    and the rest a 16 KiB red zone that is never written legitimately: every switch away
//    from such a goroutine checks that its sp is above the red zone and that the red zone's
//    top is still zero (this catches overflows by frames smaller than the red zone);
//  - the main goroutine's 8 MiB stack always has an mprotect guard page.
// Slabs are registered with stack_release.cpp, which releases the pages of goroutines
// idle on the network poller.
#pragma once
#include <cstddef>
#include <cstdint>

struct iovec;

namespace gort::rt {

struct stack {
  uintptr_t lo = 0;         // start of the reservation (barrier included)
  uintptr_t usable_lo = 0;  // lowest address the goroutine may use
  uintptr_t hi = 0;         // one past the top
  bool guarded = false;      // a real guard page (mprotect or marker) below usable_lo
  bool own_mapping = false;  // its own mmap (else carved from a slab)

  size_t usable_size() const { return hi - usable_lo; }
  bool contains(uintptr_t a) const { return a >= usable_lo && a < hi; }
  bool in_barrier(uintptr_t a) const { return a >= lo && a < usable_lo; }
};

inline constexpr size_t kDefaultStackSize = 128 * 1024;
inline constexpr size_t kMinStackSize = 16 * 1024;
inline constexpr size_t kMainStackSize = 8 * 1024 * 1024;
inline constexpr size_t kRedZoneSize = 16 * 1024;
inline constexpr size_t kRedZoneCheckBytes = 64;

// Allocates a stack with `size` usable bytes (a multiple of the page size). `force_guard`
// gives it a guard page regardless of the budget. Throws std::bad_alloc when the OS refuses.
stack stack_alloc(size_t size, bool force_guard = false);
// Returns the memory: unmapped (guarded) or released and pooled (slab).
void stack_free(const stack& s);
// Whether this kernel installs guard-page markers (MADV_GUARD_INSTALL, Linux >= 6.13).
bool guard_markers();
// The OS page size.
size_t page_size();

// fork: the stack pool's locks (and the slab registry's) are held across fork() and
// released on both sides (fork.cpp registers these), so that a child that runs goroutines
// again finds the pool whole, not locked for ever by a thread that did not come along.
// Taken after the scheduler's locks and before the heap's: the order in which they nest.
void stack_pool_fork_prepare();
void stack_pool_fork_after();

// A P's cache of free stacks, all of one usable size, most recently freed last.
struct stack_cache {
  static constexpr int kMax = 32;  // beyond this, half goes to the global list
  int n = 0;
  stack items[kMax];
};

// A stack of `size` usable bytes: from `c` (may be null), else the global list, else new.
// Stacks of another size (the size was changed since) are released on the way.
stack stackcache_get(stack_cache* c, size_t size);
// stackcache_get's fast path: moves c's most recently freed stack into *out when it has
// `size` usable bytes. Inline, so that the stack is copied once, straight into its G (a
// returned copy read back at once stalls on store forwarding: a tenth of `spawn`).
inline bool stackcache_pop(stack_cache* c, size_t size, stack* out) {
  if (c->n == 0 || c->items[c->n - 1].usable_size() != size) return false;
  *out = c->items[--c->n];
  return true;
}
// stackcache_put when `c` is null or full: to the global list (with the older half of c).
void stackcache_put_global(stack_cache* c, const stack& s);
// Gives s back to `c` (null: to the global list). Its pages stay committed. Inline, with
// the global list out of line, so that the common case saves no registers.
inline void stackcache_put(stack_cache* c, const stack& s) {
  if (c != nullptr && c->n < stack_cache::kMax) [[likely]] {
    c->items[c->n++] = s;
    return;
  }
  stackcache_put_global(c, s);
}
// Before g0 starts a goroutine's first run: tops `c` up to two stacks of `size`, from the
// global list or the OS, placed under the warm ones, so that one is left after that
// goroutine takes its stack. leave() hands the switch straight to a goroutine that has not
// run yet only when the cache has a stack for it (else it goes through g0, so that no
// stack is made while the hook's lock is held), and an ending goroutine's own stack is in
// use until the switch: a cache that held just the one stack passed from goroutine to
// goroutine would send every such switch through g0. Without memory, adds what it can.
void stackcache_keep_spare(stack_cache* c, size_t size);
// Empties `c` into the global list (a P being destroyed).
void stackcache_flush(stack_cache* c);

// For unguarded stacks: true while the red zone's top is intact and sp is above it.
inline bool stack_barrier_intact(const stack& s, uintptr_t sp) {
  if (s.guarded) return true;
  if (sp < s.usable_lo) return false;
  auto* w = reinterpret_cast<const volatile uint64_t*>(s.usable_lo - kRedZoneCheckBytes);
  uint64_t acc = 0;
  for (size_t i = 0; i < kRedZoneCheckBytes / 8; i++) acc |= w[i];
  return acc == 0;
}

}  // namespace gort::rt
