// stack: reservation, guard pages, slabs and pools for goroutine stacks. See stack.hpp for
// the layout and the two kinds of overflow barrier.
#include "sched/stack.hpp"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "os/vm.hpp"
#include "sched/stack_release.hpp"

namespace gort::rt {
namespace {

constexpr size_t kGuardedBudget = 8192;   // 2 VMAs each: 16384 of the 65530 allowed
constexpr size_t kStacksPerSlab = 128;    // one guard install and one populate call each
constexpr size_t kPopulateBatch = 16;     // top pages the first slab maps at a time
constexpr size_t kMaxSlabsPerRegion = 64; // slabs reserved by one mmap, at most

struct stack_pool {
  std::mutex mu;
  size_t guarded_live = 0;
  size_t slab_live = 0;
  // Released slab stacks by usable size, and the unused remainder of the current slab.
  std::unordered_map<size_t, std::vector<uintptr_t>> slab_free;
  std::unordered_map<size_t, std::pair<uintptr_t, size_t>> slab_cursor;  // base, remaining
  size_t slabs_made = 0;
  // Free stacks that kept their pages, passed on by stack caches (any size).
  std::vector<stack> cached;
  // Reserved address space not yet cut into slabs (see carve_slab), under region_mu.
  std::mutex region_mu;
  uintptr_t region_next = 0;
  size_t region_left = 0;
  size_t region_slabs = 1;  // slabs the next reservation holds: doubles up to the maximum
};

stack_pool& pool() {
  static auto* p = new stack_pool;  // never destroyed: Ms may outlive static destruction
  return *p;
}

// Reserves `bytes` of address space for stacks; null when the OS refuses.
void* try_reserve(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void* reserve(size_t bytes) {
  void* p = try_reserve(bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

stack guarded_stack(size_t size) {
  size_t guard = page_size();
  auto base = reinterpret_cast<uintptr_t>(reserve(size + guard));
  if (mprotect(reinterpret_cast<void*>(base), guard, PROT_NONE) != 0) {
    munmap(reinterpret_cast<void*>(base), size + guard);
    throw std::bad_alloc();
  }
  return stack{base, base + guard, base + guard + size, true, true};
}

// One madvise(advice) over `n` (at most a slab's) ranges of `len` bytes, `stride` apart
// from `first`. The ranges live on this stack: a heap block would come from glibc's
// per-thread arena, which grows and trims its heap with mprotect and madvise around every
// such block, and each of those takes the mmap lock for writing, stalling every other
// thread's page faults and populates.
bool madvise_strided(uintptr_t first, size_t stride, size_t len, size_t n, int advice) {
  iovec iov[kStacksPerSlab];
  if (n > kStacksPerSlab) std::abort();
  for (size_t i = 0; i < n; i++) iov[i] = {reinterpret_cast<void*>(first + i * stride), len};
  return os::madvise_ranges(iov, n, advice);
}

// The address range of a new slab of `bytes`, cut from a reservation that holds up to
// kMaxSlabsPerRegion of them. Reserving slab by slab costs an mmap each, which takes the
// process's mmap lock for writing: it waits for every other thread's madvise and page
// fault in flight, and they wait for it, so Ps starting goroutines on fresh stacks
// (parked) took turns instead of running side by side. Reservations double in size, so a
// program with few goroutines reserves one slab. Throws std::bad_alloc.
uintptr_t carve_slab(size_t bytes) {
  auto& p = pool();
  std::lock_guard<std::mutex> lk(p.region_mu);
  if (p.region_left < bytes) {
    size_t n = p.region_slabs;
    void* r = try_reserve(n * bytes);
    while (r == nullptr && n > 1) r = try_reserve((n /= 2) * bytes);  // a smaller one, then
    if (r == nullptr) throw std::bad_alloc();
    p.region_next = reinterpret_cast<uintptr_t>(r);
    p.region_left = n * bytes;
    p.region_slabs = std::min(2 * n, kMaxSlabsPerRegion);
  }
  uintptr_t base = p.region_next;
  p.region_next += bytes;
  p.region_left -= bytes;
  return base;
}

// Reserves a new slab of kStacksPerSlab stacks and installs every stack's guard marker
// (for good: MADV_DONTNEED keeps it) in one batched call, outside the pool's lock so that
// other Ps starting goroutines never wait on these syscalls; with `mapped`, also maps every
// stack's top page, which its first run touches (see stack_alloc). Throws std::bad_alloc
// when the OS refuses the reservation or a guard.
uintptr_t new_slab(size_t size, size_t barrier, bool markers, bool mapped) {
  size_t stride = size + barrier;
  uintptr_t base = carve_slab(stride * kStacksPerSlab);
  if (markers && !madvise_strided(base, stride, barrier, kStacksPerSlab, os::kMadvGuardInstall)) {
    for (size_t i = 0; i < kStacksPerSlab; i++) {
      void* guard = reinterpret_cast<void*>(base + i * stride);
      if (madvise(guard, barrier, os::kMadvGuardInstall) != 0) {
        munmap(reinterpret_cast<void*>(base), stride * kStacksPerSlab);
        throw std::bad_alloc();
      }
    }
  }
  if (mapped)
    madvise_strided(base + stride - page_size(), stride, page_size(), kStacksPerSlab,
                    os::kMadvPopulateWrite);
  if (markers) register_stack_slab(base, stride, barrier, kStacksPerSlab);
  return base;
}

// A slab stack's base (its barrier's lowest address) from the pool, or 0 when the caller
// should make a guarded stack of its own mapping instead. *populate: how many stacks from
// this one on (taken next from the slab, stride apart) the caller should map the top
// pages of, at every kPopulateBatch-th stack of a slab; 0 otherwise.
uintptr_t take_slab_stack(stack_pool& p, size_t size, size_t barrier, bool force_guard,
                          bool markers, size_t* populate) {
  std::unique_lock<std::mutex> lk(p.mu);
  if (force_guard || (!markers && p.guarded_live < kGuardedBudget)) {
    p.guarded_live++;
    return 0;
  }
  size_t stride = size + barrier;
  for (;;) {
    auto& fl = p.slab_free[size];
    if (!fl.empty()) {
      uintptr_t base = fl.back();
      fl.pop_back();
      p.slab_live++;
      return base;
    }
    auto& cur = p.slab_cursor[size];
    if (cur.second != 0) {
      uintptr_t base = cur.first;
      // The first slab maps its top pages 16 at a time (a program with a few goroutines
      // keeps at most 15 unused); later slabs come mapped (new_slab).
      if (p.slabs_made == 1 && (kStacksPerSlab - cur.second) % kPopulateBatch == 0)
        *populate = std::min(kPopulateBatch, cur.second);
      cur.first += stride;
      cur.second--;
      p.slab_live++;
      return base;
    }
    bool mapped = p.slabs_made > 0;
    lk.unlock();
    uintptr_t slab = new_slab(size, barrier, markers, mapped);  // may throw
    lk.lock();
    auto& c = p.slab_cursor[size];
    if (c.second == 0) {
      c = {slab, kStacksPerSlab};
      p.slabs_made++;
    } else {  // another P made one meanwhile: ours waits on the free list
      auto& fl2 = p.slab_free[size];
      for (size_t i = kStacksPerSlab; i-- > 0;) fl2.push_back(slab + i * stride);
    }
  }
}

}  // namespace

size_t page_size() {
  static const size_t ps = size_t(sysconf(_SC_PAGESIZE));
  return ps;
}

bool guard_markers() {
  static const bool ok = [] {
    size_t ps = page_size();
    void* p = mmap(nullptr, 2 * ps, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    bool r = madvise(p, ps, os::kMadvGuardInstall) == 0;
    munmap(p, 2 * ps);
    return r;
  }();
  return ok;
}

void stack_pool_fork_prepare() {
  auto& p = pool();
  p.region_mu.lock();
  p.mu.lock();
  slab_registry_lock();
}

void stack_pool_fork_after() {
  auto& p = pool();
  slab_registry_unlock();
  p.mu.unlock();
  p.region_mu.unlock();
}

stack stack_alloc(size_t size, bool force_guard) {
  size = (size + page_size() - 1) & ~(page_size() - 1);
  auto& p = pool();
  bool markers = guard_markers();
  size_t barrier = markers ? page_size() : kRedZoneSize;
  size_t populate = 0;
  if (uintptr_t base = take_slab_stack(p, size, barrier, force_guard, markers, &populate)) {
    // Each stack's first run touches its top page: mapping a batch of them in one call
    // costs a fraction of a page fault per page (0.5 us against 8 us on a VM, about a third
    // on bare metal). Best effort: a page not mapped now faults in on first touch.
    if (populate != 0) {
      size_t stride = size + barrier;
      madvise_strided(base + stride - page_size(), stride, page_size(), populate,
                      os::kMadvPopulateWrite);
    }
    return stack{base, base + barrier, base + barrier + size, markers, false};
  }
  try {
    return guarded_stack(size);
  } catch (...) {
    std::lock_guard<std::mutex> lk(pool().mu);
    pool().guarded_live--;
    throw;
  }
}

void stack_free(const stack& s) {
  auto& p = pool();
  if (s.own_mapping) {
    munmap(reinterpret_cast<void*>(s.lo), s.hi - s.lo);
    std::lock_guard<std::mutex> lk(p.mu);
    p.guarded_live--;
    return;
  }
  // Give the pages back but keep the reservation (and the guard) for the next stack.
  madvise(reinterpret_cast<void*>(s.usable_lo), s.hi - s.usable_lo, MADV_DONTNEED);
  std::lock_guard<std::mutex> lk(p.mu);
  p.slab_live--;
  p.slab_free[s.hi - s.usable_lo].push_back(s.lo);
}

// ---- Stack caches (Go: stackcache, though Go's caches hold stack memory by order). ----

stack stackcache_get(stack_cache* c, size_t size) {
  if (c != nullptr) {
    for (stack s; c->n > 0; stack_free(c->items[--c->n]))  // the wrong size on top: released
      if (stackcache_pop(c, size, &s)) return s;
  }
  std::vector<stack> wrong_size;
  stack got{};
  {
    auto& p = pool();
    std::lock_guard<std::mutex> lk(p.mu);
    // Take one, and refill the cache up to half, so that the next gets stay local.
    while (!p.cached.empty()) {
      if (got.hi != 0 && (c == nullptr || c->n == stack_cache::kMax / 2)) break;
      stack s = p.cached.back();
      p.cached.pop_back();
      if (s.usable_size() != size)
        wrong_size.push_back(s);
      else if (got.hi == 0)
        got = s;
      else
        c->items[c->n++] = s;
    }
  }
  for (const stack& s : wrong_size) stack_free(s);
  return got.hi != 0 ? got : stack_alloc(size);
}

void stackcache_put_global(stack_cache* c, const stack& s) {
  auto& p = pool();
  std::lock_guard<std::mutex> lk(p.mu);
  p.cached.push_back(s);
  if (c == nullptr) return;
  // Keep the most recently freed (warmest) half; the oldest half goes.
  constexpr int kHalf = stack_cache::kMax / 2;
  p.cached.insert(p.cached.end(), c->items, c->items + kHalf);
  std::copy(c->items + kHalf, c->items + c->n, c->items);
  c->n -= kHalf;
}

void stackcache_keep_spare(stack_cache* c, size_t size) {
  while (c->n < 2) {
    stack spare;
    try {
      spare = stackcache_get(nullptr, size);  // the global list, else the OS
    } catch (const std::bad_alloc&) {
      return;
    }
    std::copy_backward(c->items, c->items + c->n, c->items + c->n + 1);
    c->items[0] = spare;
    c->n++;
  }
}

void stackcache_flush(stack_cache* c) {
  if (c->n == 0) return;
  auto& p = pool();
  std::lock_guard<std::mutex> lk(p.mu);
  p.cached.insert(p.cached.end(), c->items, c->items + c->n);
  c->n = 0;
}

}  // namespace gort::rt
