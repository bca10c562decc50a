// stack: reservation, guard pages, slabs and pools for goroutine stacks. See stack.hpp for
// the layout and the two kinds of overflow barrier.
#include "sched/stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace gort::rt {
namespace {

constexpr size_t kGuardedBudget = 8192;   // 2 VMAs each: 16384 of the 65530 allowed
constexpr size_t kStacksPerSlab = 128;    // one VMA per 128 slab stacks
constexpr int kMadvGuardInstall = 102;    // Linux 6.13 (not in older headers)

size_t page_size() {
  static const size_t ps = size_t(sysconf(_SC_PAGESIZE));
  return ps;
}

struct stack_pool {
  std::mutex mu;
  size_t guarded_live = 0;
  size_t slab_live = 0;
  // Released slab stacks by usable size, and the unused remainder of the current slab.
  std::unordered_map<size_t, std::vector<uintptr_t>> slab_free;
  std::unordered_map<size_t, std::pair<uintptr_t, size_t>> slab_cursor;  // base, remaining
  // Free stacks that kept their pages, passed on by stack caches (any size).
  std::vector<stack> cached;
};

stack_pool& pool() {
  static auto* p = new stack_pool;  // never destroyed: Ms may outlive static destruction
  return *p;
}

void* reserve(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

// Whether this kernel installs guard-page markers (MADV_GUARD_INSTALL).
bool guard_markers() {
  static const bool ok = [] {
    size_t ps = page_size();
    void* p = mmap(nullptr, 2 * ps, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    bool r = madvise(p, ps, kMadvGuardInstall) == 0;
    munmap(p, 2 * ps);
    return r;
  }();
  return ok;
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

// A slab stack's base (its barrier's lowest address) from the pool, or 0 when the caller
// should make a guarded stack of its own mapping instead. *fresh: never handed out before.
uintptr_t take_slab_stack(stack_pool& p, size_t size, size_t barrier, bool force_guard,
                          bool markers, bool* fresh) {
  std::lock_guard<std::mutex> lk(p.mu);
  if (force_guard || (!markers && p.guarded_live < kGuardedBudget)) {
    p.guarded_live++;
    return 0;
  }
  auto& fl = p.slab_free[size];
  if (!fl.empty()) {
    uintptr_t base = fl.back();
    fl.pop_back();
    p.slab_live++;
    return base;
  }
  size_t stride = size + barrier;
  auto& cur = p.slab_cursor[size];
  if (cur.second == 0) {
    cur.first = reinterpret_cast<uintptr_t>(reserve(stride * kStacksPerSlab));  // may throw
    cur.second = kStacksPerSlab;
  }
  uintptr_t base = cur.first;
  cur.first += stride;
  cur.second--;
  p.slab_live++;
  *fresh = true;
  return base;
}

}  // namespace

stack stack_alloc(size_t size, bool force_guard) {
  size = (size + page_size() - 1) & ~(page_size() - 1);
  auto& p = pool();
  bool markers = guard_markers();
  size_t barrier = markers ? page_size() : kRedZoneSize;
  bool fresh = false;
  if (uintptr_t base = take_slab_stack(p, size, barrier, force_guard, markers, &fresh)) {
    // A fresh slab stack gets its guard marker, which stays for good (MADV_DONTNEED keeps
    // it), outside the pool's lock: other Ps starting goroutines must not wait on a syscall.
    if (fresh && markers &&
        madvise(reinterpret_cast<void*>(base), barrier, kMadvGuardInstall) != 0) {
      std::lock_guard<std::mutex> lk(p.mu);
      p.slab_live--;  // its slot is abandoned: it must never be used without a guard
      throw std::bad_alloc();
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
    while (c->n > 0) {
      stack s = c->items[--c->n];
      if (s.usable_size() == size) return s;
      stack_free(s);
    }
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

void stackcache_put(stack_cache* c, const stack& s) {
  if (c != nullptr && c->n < stack_cache::kMax) {
    c->items[c->n++] = s;
    return;
  }
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

void stackcache_flush(stack_cache* c) {
  if (c->n == 0) return;
  auto& p = pool();
  std::lock_guard<std::mutex> lk(p.mu);
  p.cached.insert(p.cached.end(), c->items, c->items + c->n);
  c->n = 0;
}

}  // namespace gort::rt
