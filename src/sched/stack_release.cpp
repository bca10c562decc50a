// stack_release: see stack_release.hpp.
#include "sched/stack_release.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#include "gort/mem.hpp"
#include "os/clock.hpp"
#include "os/vm.hpp"
#include "sched/fatal.hpp"
#include "sched/netpoll.hpp"
#include "sched/sched.hpp"

namespace gort::rt {

std::atomic<int32_t> released_stacks{0};
std::atomic<uint64_t> stack_releases_total{0};

namespace {

// Every slab of stacks, so that a fault address maps to its stack without a lock: entries
// are written once, before nslabs publishes them, and never removed (slabs are never
// unmapped). `parked[i]` is the g whose stack i of the slab is released, or null.
struct slab_entry {
  uintptr_t base;
  size_t stride;
  size_t barrier;  // each stack's guard, below its usable part
  size_t count;
  std::atomic<g*>* parked;
};
constexpr size_t kMaxSlabs = 1 << 16;  // 8 Mi stacks
slab_entry slabs[kMaxSlabs];
std::atomic<size_t> nslabs{0};
std::mutex slabs_mu;  // writers

// The slot of the slab stack whose usable part holds addr, or null (not a slab stack, or
// its guard page).
std::atomic<g*>* parked_slot(uintptr_t addr) {
  size_t n = nslabs.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; i++) {
    const slab_entry& e = slabs[i];
    if (addr >= e.base && addr < e.base + e.stride * e.count) {
      size_t k = (addr - e.base) / e.stride;
      if (addr - e.base - k * e.stride < e.barrier) return nullptr;
      return &e.parked[k];
    }
  }
  return nullptr;
}

// /proc/self/mem, which reads and writes through page protections (as a debugger does):
// the release copies the pages out, and the restore fills them, while they are
// inaccessible to every other thread. -1 if the kernel refuses (the release is then off).
int proc_mem_fd = -1;

void (*io_waiter_walk)(void (*visit)(g*)) = nullptr;
std::atomic<uint64_t> sweeps{0};  // sweeps started

// sysmon's sweep in progress: the waiters it found, the next one to look at.
uint64_t this_sweep = 0;
int64_t this_sweep_start = 0;
std::vector<g*> sweep_list;
size_t sweep_next = 0;

// Puts the released bytes back (the caller won released -> restoring). The pages are
// inaccessible until they hold the bytes again: a thread that touches them meanwhile
// faults and waits for `resident` (while the slot still names gp) or retries (after).
void put_back(g* gp) {
  uintptr_t lo = gp->stk_released_lo, hi = gp->stk.hi;
  auto sp = reinterpret_cast<uintptr_t>(gp->sp);
  void* range = reinterpret_cast<void*>(lo);
  if (mprotect(range, hi - lo, PROT_NONE) != 0 ||
      madvise(range, hi - lo, os::kMadvGuardRemove) != 0 ||
      pwrite(proc_mem_fd, gp->stk_saved, hi - sp, off_t(sp)) != ssize_t(hi - sp) ||
      mprotect(range, hi - lo, PROT_READ | PROT_WRITE) != 0)
    fatal("runtime: cannot restore a released goroutine stack");
  released_stacks.fetch_sub(1, std::memory_order_relaxed);
  gp->stk_state.store(stk_resident, std::memory_order_release);
  if (std::atomic<g*>* slot = parked_slot(lo)) slot->store(nullptr, std::memory_order_relaxed);
}

// Whether /proc/self/mem reads and writes a page no one may access (PROT_NONE), as
// release and put_back need; opens proc_mem_fd.
[[maybe_unused]] bool proc_mem_writable() {
  int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  size_t ps = page_size();
  void* p = mmap(nullptr, ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  bool ok = false;
  if (p != MAP_FAILED) {
    const unsigned char probe = 0x5a;
    unsigned char back = 0;
    auto at = off_t(reinterpret_cast<uintptr_t>(p));
    ok = pwrite(fd, &probe, 1, at) == 1 && pread(fd, &back, 1, at) == 1 && back == probe;
    munmap(p, ps);
  }
  if (!ok) {
    close(fd);
    return false;
  }
  proc_mem_fd = fd;
  // The descriptor names the memory of the process that opened it, and a forked child
  // inherits it: the child must reach its own memory, not its parent's.
  pthread_atfork(nullptr, nullptr, [] {
    int own = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (own >= 0) {
      dup2(own, proc_mem_fd);
      close(own);
    } else {  // a restore in the child is then fatal, never a write to the parent
      close(proc_mem_fd);
      proc_mem_fd = -1;
    }
  });
  return true;
}

// gp is held in copystack by sysmon, parked on the poller since before the last sweep.
void release(g* gp, std::atomic<g*>* slot) {
  auto sp = reinterpret_cast<uintptr_t>(gp->sp);
  uintptr_t hi = gp->stk.hi, lo = sp & ~(page_size() - 1);
  size_t live = hi - sp;
  unsigned char* copy;
  try {
    copy = static_cast<unsigned char*>(gort::mem::alloc(live, 16));
  } catch (const std::bad_alloc&) {
    return;  // keep the pages
  }
  void* range = reinterpret_cast<void*>(lo);
  // A copy left from an earlier release that a fault (not a resume) undid.
  if (gp->stk_saved != nullptr) gort::mem::free(gp->stk_saved);
  gp->stk_saved = copy;
  gp->stk_released_lo = lo;
  slot->store(gp, std::memory_order_release);
  gp->stk_state.store(stk_releasing, std::memory_order_release);
  // Inaccessible while we copy and zap: any other thread's access faults and waits for
  // `released` (read-only would not do: installing the markers zaps the pages first, and a
  // read in between would map a zero page).
  bool ok = mprotect(range, hi - lo, PROT_NONE) == 0;
  if (ok) {
    ok = pread(proc_mem_fd, copy, live, off_t(sp)) == ssize_t(live) &&
         madvise(range, hi - lo, os::kMadvGuardInstall) == 0;
    // Writable again (and merged back into the slab's mapping); the markers stay.
    if (mprotect(range, hi - lo, PROT_READ | PROT_WRITE) != 0)
      fatal("runtime: cannot make a goroutine stack writable again");
  }
  if (!ok) {
    slot->store(nullptr, std::memory_order_relaxed);
    gp->stk_saved = nullptr;
    gp->stk_state.store(stk_resident, std::memory_order_release);
    gort::mem::free(copy);
    return;
  }
  // Below the live frames the stack holds only dead ones (deeper calls made earlier): those
  // pages go as they are, nothing to keep (Go's shrinking frees them too).
  uintptr_t usable_lo = gp->stk.usable_lo;
  if (lo > usable_lo) madvise(reinterpret_cast<void*>(usable_lo), lo - usable_lo, MADV_DONTNEED);
  released_stacks.fetch_add(1, std::memory_order_relaxed);
  stack_releases_total.fetch_add(1, std::memory_order_relaxed);
  gp->stk_state.store(stk_released, std::memory_order_release);
}

// Some goroutine parked on the poller still holds its stack pages.
bool idle_stacks_held() {
  return netpoll_waiters.load(std::memory_order_relaxed) >
         released_stacks.load(std::memory_order_relaxed);
}

bool parked_long_enough(const g* gp) {
  return gp->io_park_sweep.load(std::memory_order_relaxed) + 2 <= this_sweep;
}

void try_release(g* gp) {
  if (!parked_long_enough(gp) || gp->stk_state.load(std::memory_order_relaxed) != stk_resident)
    return;  // hints, checked again below
  gstatus s = gstatus::waiting;
  if (!gp->status.compare_exchange_strong(s, gstatus::copystack, std::memory_order_acquire))
    return;
  // Parked (and held so), so these fields are stable now.
  auto sp = reinterpret_cast<uintptr_t>(gp->sp);
  const stack& st = gp->stk;
  if (gp->waitreason == wait_reason::io_wait && parked_long_enough(gp) &&
      gp->stk_state.load(std::memory_order_acquire) == stk_resident && st.guarded &&
      !st.own_mapping && sp >= st.usable_lo &&
      sp < st.hi && st.hi - sp <= kStackReleaseMaxBytes) {
    if (std::atomic<g*>* slot = parked_slot(st.usable_lo)) release(gp, slot);
  }
  // Only the end of a gort::run (zombie) changes a copystack status behind our back.
  s = gstatus::copystack;
  gp->status.compare_exchange_strong(s, gstatus::waiting, std::memory_order_release);
}

// A finished gort::run leaves its goroutines behind as zombies that never run again (all Ms
// at rest): their released stacks come back, so that their memory reads as it did before
// (a dangling pointer into one does not fault), the copies are freed and the count starts
// from zero for the next run. A release sysmon was in the middle of is waited for; one it
// starts on a goroutine before the run's end marks it a zombie, and finishes after this
// pass, stays released (the zombie never runs, so nothing reads it but a stray pointer,
// which faults and restores it).
void restore_zombie_stacks() {
  size_t n = nslabs.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < slabs[i].count; k++) {
      if (g* gp = slabs[i].parked[k].load(std::memory_order_acquire))
        if (gp->stk_saved != nullptr) resume_released_stack(gp);
    }
  }
}

[[maybe_unused]] const bool registered = (on_run_end(restore_zombie_stacks), true);

[[maybe_unused]] bool godebug_off() {
  const char* v = getenv("GODEBUG");
  return v != nullptr && strstr(v, "gcshrinkstackoff=1") != nullptr;
}

}  // namespace

bool stack_release_enabled() {
#if defined(GORT_ASAN) || defined(GORT_TSAN)
  return false;
#else
  static const bool on = !godebug_off() && guard_markers() && proc_mem_writable();
  return on && io_waiter_walk != nullptr;
#endif
}

namespace {

// `count` parked slots for a new slab (under slabs_mu), cut from blocks of kSlotBlock that
// are mapped straight from the OS and never freed, as slabs are never unmapped. Not one
// heap block per slab: those come from glibc's per-thread arena, which grows its heap with
// an mprotect per few slabs, and each takes the mmap lock for writing, stalling every other
// thread's page faults (parked starts a slab every 128 goroutines). Null when the OS
// refuses.
std::atomic<g*>* new_parked_slots(size_t count) {
  constexpr size_t kSlotBlock = 65536;  // 512 KiB, committed as used: 512 slabs of 128
  static std::atomic<g*>* next = nullptr;
  static size_t left = 0;
  if (count > kSlotBlock) return nullptr;
  if (left < count) {
    void* m = mmap(nullptr, kSlotBlock * sizeof(std::atomic<g*>), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    next = static_cast<std::atomic<g*>*>(m);
    left = kSlotBlock;
  }
  std::atomic<g*>* slots = next;
  next += count;
  left -= count;
  for (size_t i = 0; i < count; i++) new (&slots[i]) std::atomic<g*>(nullptr);  // only these
  return slots;
}

}  // namespace

void register_stack_slab(uintptr_t base, size_t stride, size_t barrier, size_t count) {
  std::lock_guard<std::mutex> lk(slabs_mu);
  size_t n = nslabs.load(std::memory_order_relaxed);
  std::atomic<g*>* parked = n == kMaxSlabs ? nullptr : new_parked_slots(count);
  if (parked == nullptr) return;  // its stacks just never get released
  slabs[n] = slab_entry{base, stride, barrier, count, parked};
  nslabs.store(n + 1, std::memory_order_release);
  stack_release_enabled();  // decided here, never first in the SIGSEGV handler
}

void slab_registry_lock() { slabs_mu.lock(); }
void slab_registry_unlock() { slabs_mu.unlock(); }

void set_io_waiter_walk(void (*walk)(void (*visit)(g*))) { io_waiter_walk = walk; }

void note_io_park(g* gp) {
  gp->io_park_sweep.store(sweeps.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

bool stack_release_tick(int64_t now) {
  if (!stack_release_enabled()) return false;
  if (sweep_next == sweep_list.size()) {
    sweep_list.clear();
    sweep_next = 0;
    if (now - this_sweep_start < kStackSweepNs || !idle_stacks_held()) return false;
    this_sweep_start = now;
    this_sweep = sweeps.fetch_add(1, std::memory_order_relaxed) + 1;
    io_waiter_walk([](g* gp) { sweep_list.push_back(gp); });
  }
  int64_t end = now + kStackSweepSliceNs;
  while (sweep_next < sweep_list.size() && !process_dying()) {  // a dump may be walking stacks
    try_release(sweep_list[sweep_next++]);
    if (sweep_next % 16 == 0 && os::nanotime() >= end) break;
  }
  return sweep_next < sweep_list.size() && !process_dying();
}

int64_t stack_release_wait_cap() {
  if (!stack_release_enabled()) return INT64_MAX;
  if (sweep_next < sweep_list.size()) return 0;
  return idle_stacks_held() ? kStackSweepNs : INT64_MAX;
}

void restore_stack(g* gp) {
  int spins = 0;
  for (;;) {
    uint8_t st = gp->stk_state.load(std::memory_order_acquire);
    if (st == stk_resident) return;
    if (st == stk_released &&
        gp->stk_state.compare_exchange_strong(st, stk_restoring, std::memory_order_acquire)) {
      put_back(gp);
      return;
    }
    os::spin_then_yield(spins);  // releasing (sysmon) or restoring (another thread)
  }
}

void resume_released_stack(g* gp) {
  restore_stack(gp);
  unsigned char* copy = gp->stk_saved;
  gp->stk_saved = nullptr;
  gort::mem::free(copy);
}

bool restore_stack_after_fault(uintptr_t addr, bool fetch) {
  // A slab stack's usable part is always readable and writable except while this file
  // changes its protection, so a data access that faulted there is ours: wait for the
  // change to end (or end it) and retry. An instruction fetch there is a real fault.
  std::atomic<g*>* slot = parked_slot(addr);
  if (slot == nullptr || fetch || !stack_release_enabled()) return false;
  g* gp = slot->load(std::memory_order_acquire);
  if (gp != nullptr && addr >= gp->stk_released_lo && addr < gp->stk.hi) restore_stack(gp);
  return true;
}

}  // namespace gort::rt
