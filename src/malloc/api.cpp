// api: gort::mem (alloc/free/make), gort::read_mem_stats and gort::debug::free_os_memory on
// top of the allocator core.
#include <cstring>
#include <new>

#include "gort/mem.hpp"
#include "malloc/malloc.hpp"

namespace gort::mem {

void* alloc(std::size_t size, std::size_t align) {
  if ((align & (align - 1)) != 0) throw std::bad_alloc();
  void* p = align <= 8 ? malloc::mallocgc(size, false, true) : malloc::malloc_aligned(size, align, true);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* alloc_noscan(std::size_t size) {
  void* p = malloc::mallocgc(size, true, true);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void free(void* p) noexcept { malloc::freegc(p); }

std::size_t usable_size(const void* p) { return malloc::usable_size(p); }

}  // namespace gort::mem

namespace gort {

namespace {

struct sums {
  std::uint64_t nmalloc[malloc::num_size_classes], nfree[malloc::num_size_classes];
  std::uint64_t ntiny, nlarge_alloc, large_alloc_bytes, nlarge_free, large_free_bytes;
};

void add_cache(const malloc::mcache& c, void* arg) {
  auto* s = static_cast<sums*>(arg);
  for (int i = 0; i < malloc::num_size_classes; i++) {
    s->nmalloc[i] += c.mallocs_of(i);
    s->nfree[i] += c.frees_of(i);
  }
  s->ntiny += c.ntiny.load(std::memory_order_relaxed);
  s->nlarge_alloc += c.nlarge_alloc.load(std::memory_order_relaxed);
  s->large_alloc_bytes += c.large_alloc_bytes.load(std::memory_order_relaxed);
  s->nlarge_free += c.nlarge_free.load(std::memory_order_relaxed);
  s->large_free_bytes += c.large_free_bytes.load(std::memory_order_relaxed);
}

}  // namespace

mem_stats read_mem_stats() {
  sums s{};
  malloc::retired_stats r{};
  malloc::visit_caches(add_cache, &s, r);
  // Small objects are counted when a cache window is loaded; the calling thread's unused
  // ones are taken back here (other threads' stay counted until their spans leave).
  if (const malloc::mcache* own = malloc::peek_mcache()) {
    for (int i = 1; i < malloc::num_size_classes; i++) s.nmalloc[i] -= own->unused_in_cache(i);
  }
  for (int i = 0; i < malloc::num_size_classes; i++)
    s.nfree[i] += malloc::orphans.nfree[i].load(std::memory_order_relaxed);
  s.nlarge_free += malloc::orphans.nlarge_free.load(std::memory_order_relaxed);
  s.large_free_bytes += malloc::orphans.large_free_bytes.load(std::memory_order_relaxed);
  malloc::heap_stats_snapshot h{};
  malloc::heap_stats(h);
  mem_stats m{};
  std::uint64_t alloc_bytes = 0, freed_bytes = 0, nmalloc = 0, nfree = 0;
  for (int i = 0; i < malloc::num_size_classes; i++) {
    std::uint64_t a = s.nmalloc[i] + r.nmalloc[i], f = s.nfree[i] + r.nfree[i];
    m.by_size[i] = {malloc::class_to_size[i], a, f};
    alloc_bytes += a * malloc::class_to_size[i];
    freed_bytes += f * malloc::class_to_size[i];
    nmalloc += a;
    nfree += f;
  }
  std::uint64_t ntiny = s.ntiny + r.ntiny;
  alloc_bytes += s.large_alloc_bytes + r.large_alloc_bytes;
  freed_bytes += s.large_free_bytes + r.large_free_bytes;
  // Go counts tiny allocations inside an existing block as both allocated and freed.
  m.mallocs = nmalloc + ntiny + s.nlarge_alloc + r.nlarge_alloc;
  m.frees = nfree + ntiny + s.nlarge_free + r.nlarge_free;
  m.total_alloc = alloc_bytes;
  m.heap_alloc = m.alloc = alloc_bytes >= freed_bytes ? alloc_bytes - freed_bytes : 0;
  m.heap_objects = m.mallocs >= m.frees ? m.mallocs - m.frees : 0;
  m.heap_sys = h.heap_sys;
  m.heap_inuse = h.heap_inuse;
  m.heap_idle = h.heap_sys - h.heap_inuse;
  m.heap_released = h.heap_released;
  m.mspan_inuse = h.mspan_inuse;
  m.mspan_sys = h.mspan_sys;
  m.mcache_inuse = h.mcache_inuse;
  m.mcache_sys = h.mcache_sys;
  m.other_sys = h.other_sys;
  m.sys = m.heap_sys + m.mspan_sys + m.mcache_sys + m.other_sys;
  return m;
}

namespace debug {

void free_os_memory() {
  if (malloc::mcache* c = malloc::peek_mcache()) c->release_all();
  malloc::reclaim_all();
  malloc::scavenge(true);
}

}  // namespace debug

}  // namespace gort
