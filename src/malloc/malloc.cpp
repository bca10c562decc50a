// malloc: allocation and free entry points (Go: malloc.go mallocgc, the tiny allocator,
// largeAlloc; free is gort's own, as the GC is not there yet).
//
// Invariants:
//  * Small objects (<= 32 KiB) come from the thread's mcache without locks: the fast path
//    takes the lowest set bit of the span's alloc_cache (Go: nextFreeFast).
//  * Tiny objects (noscan, < 16 B) share 16-byte blocks of the tiny span class (Go's rules:
//    aligned to 8/4/2 by size, bump inside the block, keep the block with more room). As
//    frees are explicit, each block of that class has a live-object count (the current
//    block also holds one for the cache); the block is freed when it drops to 0.
//  * Large objects get a span of their own from the heap and go straight back to it.
//  * Every free is checked: a pointer outside any in-use span, inside an object, or to an
//    object that is not allocated stops the process with a message (never corrupts).
//  * ASan builds poison every object that is not allocated.
#include <cerrno>
#include <cstring>

#include "malloc/malloc.hpp"

namespace gort::malloc {

orphan_stats orphans;

namespace {


template <class T>
inline void bump(std::atomic<T>& x, T by = 1) {
  x.store(x.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

[[noreturn, gnu::noinline]] void bad_free(const char* why, const void* p) { fatal(why, p); }

// Frees object idx of a small span (the caller checked the pointer).
void free_object(mspan* s, std::uint32_t idx, mcache* c) {
  std::uint32_t w = idx / 64;
  std::uint64_t m = std::uint64_t{1} << (idx % 64);
  void* obj = reinterpret_cast<void*>(s->start + std::uintptr_t(idx) * s->elemsize);
  const int spc = s->spanclass;  // s may be reused by someone else once the free is published
  if (s->owned_by(c)) {
    std::uint64_t a = s->alloc_bits[w].load(std::memory_order_relaxed);
    if ((a & m) == 0 && use_magazines && c->in_magazine(spc, obj))
      bad_free("free: double free of an object", obj);
    if ((a & m) == 0 || (s->free_bits[w].load(std::memory_order_relaxed) & m) != 0)
      bad_free("free: double free or free of an object that is not allocated", obj);
    GORT_POISON(obj, s->elemsize);
    s->alloc_bits[w].store(a & ~m, std::memory_order_relaxed);
    c->count_bitmap_free(s, std::size_t(spc));
    return;
  } else {
    // (An object in its owner's magazine has its bit clear too: freed there already.)
    if ((s->alloc_bits[w].load(std::memory_order_relaxed) & m) == 0)
      bad_free("free: double free or free of an object that is not allocated", obj);
    GORT_POISON(obj, s->elemsize);
    // A remote free into a full span that no cache holds takes its mcentral's lock around
    // the publication, so that the span goes back to the partial list (while our object
    // is still allocated, nobody can free the span under us; after the OR, anyone may).
    bool move = s->owner_tag() == owner_uncached &&
                s->list.load(std::memory_order_relaxed) == list_full;
    mcentral* mc = move ? &central(spc) : nullptr;
    if (mc != nullptr) mc->lock.lock();
    if (s->free_bits[w].fetch_or(m, std::memory_order_release) & m) {
      if (mc != nullptr) mc->lock.unlock();
      bad_free("free: double free of an object", obj);
    }
    if (!s->remote_pending(std::memory_order_relaxed)) s->owner.fetch_or(owner_remote_bit, std::memory_order_release);
    if (mc != nullptr) {
      mc->note_remote_free(s);
      mc->lock.unlock();
    }
  }
  if (c != nullptr) bump(c->nfree[spc]); else orphans.nfree[spc >> 1].fetch_add(1, std::memory_order_relaxed);
}

// Drops one reference to tiny-class block idx; frees the block at zero.
void tiny_unref(mspan* s, std::uint32_t idx, mcache* c, const void* p) {
  std::uint8_t r = s->tiny_refs[idx].fetch_sub(1, std::memory_order_acq_rel);
  if (r == 0) {
    s->tiny_refs[idx].fetch_add(1, std::memory_order_relaxed);
    bad_free("free: double free of a tiny object", p);
  }
  if (r == 1) free_object(s, idx, c);
}

void* tiny_alloc(mcache* c, std::size_t size) {
  std::uintptr_t off = c->tinyoffset;
  if ((size & 7) == 0) off = (off + 7) & ~std::uintptr_t{7};       // Go: align by size
  else if ((size & 3) == 0) off = (off + 3) & ~std::uintptr_t{3};
  else if ((size & 1) == 0) off = (off + 1) & ~std::uintptr_t{1};
  if (c->tiny != 0 && off + size <= std::size_t(tiny_size)) {
    mspan* s = c->tinyspan;
    s->tiny_refs[(c->tiny - s->start) / tiny_size].fetch_add(1, std::memory_order_relaxed);
    c->tinyoffset = off + size;
    bump(c->ntiny, std::uint64_t{1});
    return reinterpret_cast<void*>(c->tiny + off);
  }
  void* p = alloc_from(c, tiny_span_class);
  if (p == nullptr) return nullptr;
  mspan* s = c->alloc[tiny_span_class];
  std::uint32_t idx = std::uint32_t((reinterpret_cast<std::uintptr_t>(p) - s->start) / tiny_size);
  GORT_UNPOISON(p, tiny_size);
  std::memset(p, 0, tiny_size);
  if (size < c->tinyoffset || c->tiny == 0) {  // keep the block with more room left
    s->tiny_refs[idx].store(2, std::memory_order_relaxed);  // the object and the cache
    c->drop_tiny();
    c->tiny = reinterpret_cast<std::uintptr_t>(p);
    c->tinyoffset = size;
    c->tinyspan = s;
  } else {
    s->tiny_refs[idx].store(1, std::memory_order_relaxed);
  }
  return p;
}

void* large_alloc(mcache* c, std::size_t size, bool noscan, bool zero, std::size_t align_pages) {
  if (size > (std::size_t{1} << heap_addr_bits)) return nullptr;
  std::size_t npages = (size + page_size - 1) >> page_shift;
  mspan* s = align_pages == 1 ? c->cached_span(npages, make_span_class(0, noscan)) : nullptr;
  if (s == nullptr) s = heap_alloc_span(npages, make_span_class(0, noscan), align_pages);
  if (s == nullptr) return nullptr;
  s->alloc_bits[0].store(1, std::memory_order_relaxed);
  void* p = reinterpret_cast<void*>(s->start);
  GORT_UNPOISON(p, size);
  if (zero && s->needzero) std::memset(p, 0, size);
  bump(c->nlarge_alloc, std::uint64_t{1});
  bump(c->large_alloc_bytes, std::uint64_t(npages * page_size));
  return p;
}

// The allocations mallocgc's fast path does not take (noscan classes, the classes an
// alignment picks): the magazine first, as there, so that this thread's frees of these
// classes are reused rather than held in the magazine until the thread exits. Tiny spans'
// objects are never in a magazine (their frees go through tiny_unref).
void* small_alloc(mcache* c, int cls, bool noscan, std::size_t size, bool zero) {
  std::size_t spc = make_span_class(cls, noscan);
  void* p = nullptr;
  if (spc != tiny_span_class) p = magazine_pop(c, spc);
  if (p == nullptr) p = alloc_from(c, spc);
  if (__builtin_expect(p == nullptr, 0)) return nullptr;
  if (spc == tiny_span_class) {  // a whole 16-byte block: one reference
    mspan* s = c->alloc[tiny_span_class];
    s->tiny_refs[(reinterpret_cast<std::uintptr_t>(p) - s->start) / tiny_size].store(1, std::memory_order_relaxed);
  }
  GORT_UNPOISON(p, size);
  if (zero) std::memset(p, 0, size);
  return p;
}

}  // namespace

void mcache::drop_tiny() {
  if (tiny == 0) return;
  mspan* s = tinyspan;
  std::uint32_t idx = std::uint32_t((tiny - s->start) / tiny_size);
  tiny = 0;
  tinyoffset = 0;
  tinyspan = nullptr;
  tiny_unref(s, idx, this, nullptr);
}

namespace {

void* slow_alloc(std::size_t size, bool noscan, bool zero) {
  mcache* c = get_mcache();
  if (__builtin_expect(c == nullptr, 0)) return nullptr;
  if (size == 0) size = 1;  // Go returns &zerobase; we hand out a distinct object
  if (__builtin_expect(size <= max_small_size, 1)) {
    if (noscan && size < std::size_t(tiny_size)) return tiny_alloc(c, size);
    return small_alloc(c, size_to_class(size), noscan, size, zero);
  }
  return large_alloc(c, size, noscan, zero, 1);
}

}  // namespace

void* mallocgc_slow(std::size_t size, bool noscan, bool zero) {
  void* p = slow_alloc(size, noscan, zero);
  if (__builtin_expect(p == nullptr, 0)) errno = ENOMEM;  // see mallocgc
  return p;
}

void* malloc_aligned(std::size_t size, std::size_t align, bool zero) {
  if (align <= 8) return mallocgc(size, false, zero);
  if (align & (align - 1)) return nullptr;  // not a power of two
  mcache* c = get_mcache();
  if (c == nullptr) return nullptr;
  if (size < align) size = align;
  if (align <= page_size && size <= max_small_size) {
    // The smallest class whose size is a multiple of align: its objects are aligned, as
    // spans start on a page. Powers of two up to 8 KiB are all classes, so one exists.
    int cls = size_to_class(size);
    while (cls != 0 && cls < num_size_classes && class_to_size[cls] % align != 0) cls++;
    if (cls != 0 && cls < num_size_classes) return small_alloc(c, cls, false, size, zero);
  }
  std::size_t align_pages = align <= page_size ? 1 : align / page_size;
  return large_alloc(c, size, false, zero, align_pages);
}

void free_slow(void* p, mspan* s, mcache* c) {
  if (p == nullptr) return;  // free(nullptr) comes here (see freegc)
  std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p);
  if (s == nullptr)
    bad_free("free: pointer was not allocated by gort's heap (or its span was already freed)", p);
  if (s->state.load(std::memory_order_relaxed) != span_in_use)
    bad_free("free: double free (span not in use)", p);
  // No cache is created here: a thread that is exiting (its cache already given back)
  // still frees, e.g. glibc's own thread teardown under LD_PRELOAD; its counts go to orphans.
  if (s->sizeclass() == 0) {
    if (a != s->start) bad_free("free: pointer into the middle of a large object", p);
    if (s->alloc_bits[0].exchange(0, std::memory_order_acq_rel) == 0) bad_free("free: double free", p);
    if (c != nullptr) {
      bump(c->nlarge_free, std::uint64_t{1});
      bump(c->large_free_bytes, std::uint64_t(s->npages * page_size));
    } else {
      orphans.nlarge_free.fetch_add(1, std::memory_order_relaxed);
      orphans.large_free_bytes.fetch_add(s->npages * page_size, std::memory_order_relaxed);
    }
    if (c != nullptr) c->free_span(s); else heap_free_span(s);
    return;
  }
  mspan::position pos = s->locate(a);
  if (s->tiny_refs != nullptr) {
    tiny_unref(s, pos.idx, c, p);
    return;
  }
  if (!pos.at_start) bad_free("free: pointer into the middle of an object", p);
  free_object(s, pos.idx, c);
}

std::size_t usable_size(const void* p) {
  if (p == nullptr) return 0;
  std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p);
  mspan* s = span_of(a);
  if (s == nullptr || s->state.load(std::memory_order_relaxed) != span_in_use)
    fatal("malloc_usable_size: pointer was not allocated by gort's heap", p);
  if (s->sizeclass() == 0) return s->npages * page_size - (a - s->start);
  std::uintptr_t obj = s->start + std::uintptr_t(s->obj_index(a)) * s->elemsize;
  return s->elemsize - (a - obj);
}

bool grow_in_place(void* p, std::size_t size) {
  if (size > (std::size_t{1} << heap_addr_bits)) return false;
  std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p);
  mspan* s = span_of(a);
  if (s == nullptr || s->state.load(std::memory_order_relaxed) != span_in_use || s->sizeclass() != 0 ||
      a != s->start)
    return false;
  std::size_t npages = (size + page_size - 1) >> page_shift;
  if (npages > s->npages) {
    mcache* c = get_mcache();
    if (c == nullptr) return false;
    std::uintptr_t old_limit = s->limit();
    if (!heap_extend_span(s, npages - s->npages)) return false;
    bump(c->large_alloc_bytes, std::uint64_t(s->limit() - old_limit));
  }
  GORT_UNPOISON(p, size);  // the allocation unpoisoned only the size asked for then
  return true;
}

bool owns(const void* p) {
  mspan* s = span_of(reinterpret_cast<std::uintptr_t>(p));
  return s != nullptr && s->state.load(std::memory_order_relaxed) == span_in_use;
}

}  // namespace gort::malloc
