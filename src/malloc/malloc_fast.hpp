// malloc_fast: the inlined fast paths of allocation and free (Go: mallocgc's small-object
// path with nextFreeFast, spanOf), shared by the library's entry points and by
// libgort_malloc.so so that malloc/free cost no extra call. Included at the end of
// malloc.hpp; the slow paths live in malloc.cpp.
#pragma once
#include <cstring>

namespace gort::malloc {

// The cache the calling thread allocates from: its P's while it holds one, else its own
// (mcache.cpp); initial-exec TLS, one %fs-relative load.
extern constinit thread_local mcache* tls_cache [[gnu::tls_model("initial-exec")]];

[[gnu::always_inline]] inline mcache* get_mcache() {
  mcache* c = tls_cache;
  if (__builtin_expect(c != nullptr, 1)) return c;
  return create_cache();
}
inline mcache* peek_mcache() { return tls_cache; }

// Go: spanOf. Null for addresses outside every arena or in a page of no in-use span.
[[gnu::always_inline]] inline mspan* span_of(std::uintptr_t p) {
  std::uintptr_t page = (p - flat_base) >> page_shift;  // below the window wraps round: not in it
  if (__builtin_expect(page < flat_pages, 1)) return __atomic_load_n(&flat_spans[page], __ATOMIC_ACQUIRE);
  if (__builtin_expect(p >> heap_addr_bits, 0)) return nullptr;
  heap_arena* a = __atomic_load_n(&arena_index[p >> arena_shift], __ATOMIC_ACQUIRE);
  if (__builtin_expect(a == nullptr, 0)) return nullptr;
  return a->spans[(p >> page_shift) % pages_per_arena].load(std::memory_order_acquire);
}

// Hands out the first free object the span's allocation cache shows (cache != 0, the
// span's alloc_cache, which covers the bitmap word cache_word) and marks it allocated.
[[gnu::always_inline]] inline void* take_cached(mspan* s, std::uint64_t cache) {
  std::uintptr_t b = std::uint32_t(__builtin_ctzll(cache));  // zero-extended: no movslq
  s->alloc_cache = cache & (cache - 1);  // the lowest set bit cleared
  std::atomic<std::uint64_t>* w = s->cache_word;
  w->store(w->load(std::memory_order_relaxed) | std::uint64_t{1} << b, std::memory_order_relaxed);
  return reinterpret_cast<void*>(s->cache_base + b * s->elemsize);
}

// Go: nextFreeFast, falling back to mcache.nextFree.
[[gnu::always_inline]] inline void* alloc_from(mcache* c, std::size_t spc) {
  mspan* s = c->alloc[spc];
  std::uint64_t cache = s->alloc_cache;
  if (__builtin_expect(cache == 0, 0)) return c->next_free(int(spc));
  return take_cached(s, cache);
}

// The newest object of c's magazine for span class spc, marked allocated again; null when
// the magazine is empty (always, where use_magazines is off).
[[gnu::always_inline]] inline void* magazine_pop(mcache* c, std::size_t spc) {
  if constexpr (!use_magazines) return nullptr;
  magazine_entry* top = c->mag_top[spc].load(std::memory_order_relaxed);
  void* p = top->p;
  if (p == nullptr) return nullptr;
  c->mag_top[spc].store(top + 1, std::memory_order_relaxed);
  top->set_alloc_bit();
  auto& n = c->mag_pops[spc];
  n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return p;
}

// Go: mallocgc. Null when out of memory, with errno = ENOMEM (set by the slow paths, so
// that the fast paths need no test and make no call).
[[gnu::always_inline]] inline void* mallocgc(std::size_t size, bool noscan, bool zero) {
  mcache* c = tls_cache;
  if (__builtin_expect(c != nullptr && size - 1 < max_small_size && !noscan, 1)) {
    std::size_t uspc = size_to_scan_spanclass(size);  // unsigned: no extension when indexing
    void* p = magazine_pop(c, uspc);
    if (p != nullptr) {
      if (zero) std::memset(p, 0, size);
      return p;
    }
    p = alloc_from(c, uspc);
    if (__builtin_expect(p == nullptr, 0)) return nullptr;
    GORT_UNPOISON(p, size);
    if (zero) std::memset(p, 0, size);
    return p;
  }
  return mallocgc_slow(size, noscan, zero);
}

[[gnu::always_inline]] inline void mcache::count_bitmap_free(mspan* s, std::size_t spc) {
  auto& n = nfree[spc];
  n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (__builtin_expect(--s->free_countdown == 0, 0)) countdown_ended(s);  // may give s back: counted first
}

// Frees p; aborts on a pointer the heap did not hand out or an object not allocated.
[[gnu::always_inline]] inline void freegc(void* p) {
  // Null needs no test here: it is outside every arena, so span_of gives null and the
  // slow path returns.
  std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p);
  mspan* s = span_of(a);
  mcache* c = tls_cache;
  // One compare: a small, non-tiny span this thread caches, current or retained, with no
  // remote frees pending (a null c matches no owner).
  if (__builtin_expect(s == nullptr || s->owner.load(std::memory_order_relaxed) != reinterpret_cast<std::uintptr_t>(c), 0))
    goto slow;
  {
    // Local free: the span is cached by this thread, so its alloc bits are ours to write,
    // and the word read here stays as read until this free is done.
    mspan::position pos = s->locate(a);
    if (__builtin_expect(!pos.at_start, 0)) goto slow;  // reports the interior pointer
    std::atomic<std::uint64_t>& word = s->alloc_bits[pos.idx / 64];
    const unsigned bit = unsigned(pos.idx % 64);
    const std::uint64_t bits = word.load(std::memory_order_relaxed);
    if (__builtin_expect(((bits >> bit) & 1) == 0, 0))
      goto slow;  // reports the error (a magazine object's bit is clear too)
    word.store(bits & ~(std::uint64_t{1} << bit), std::memory_order_relaxed);
    std::size_t spc = s->spanclass;
    if (use_magazines) {
      magazine_entry* slot = c->mag_top[spc].load(std::memory_order_relaxed) - 1;
      if (slot->p != mag_full_marker) {  // not counted here: see mcache (frees_of)
        __builtin_prefetch(p, 1);  // warm for the pop that hands it out again (see magazines)
        slot->p = p;
        slot->alloc_bit = magazine_entry::pack(s, pos.idx);
        c->mag_top[spc].store(slot, std::memory_order_relaxed);
        return;  // the span's live count keeps counting it (see the magazines)
      }
    }
    GORT_POISON(p, s->elemsize);
    c->count_bitmap_free(s, spc);
    return;
  }
slow:
  free_slow(p, s, c);
}

}  // namespace gort::malloc
