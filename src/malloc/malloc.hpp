// malloc: the allocator's internal structures, Go's names (malloc.go, mheap.go, mcache.go,
// mcentral.go, mbitmap.go). This header is shared by the malloc layer only; the public face
// is include/gort/mem.hpp and, for LD_PRELOAD, src/malloc/preload.cpp.
//
// Shape (Go's): mheap owns 64 MiB arenas and hands out runs of 8 KiB pages as mspans; a span
// of a small size class is cut into equal objects; mcentral (one per span class, own lock)
// keeps the spans not cached anywhere; an mcache (one per P, used by the thread holding the
// P, plus one per thread that allocates without a P; see mcache.cpp) owns one span per
// span class and allocates from it without locks.
//
// Explicit free (the GC is not there yet) is where we differ from Go, which only frees by
// sweeping: an mcache also keeps the spans it ran out of ("retained"), so that its own
// frees into them need no lock and no atomic. Invariants that make it safe:
//  * alloc_bits[i] == 1  <=>  object i is allocated (or freed remotely, see free_bits).
//    alloc_bits words are written only by the span's owner: the mcache that caches it, or
//    whoever holds its mcentral's lock while it is uncached. Others only read them.
//  * A free on the owner's thread clears the alloc bit directly. A free on any other thread
//    sets the object's bit in free_bits (atomic OR, release) and the owner folds free_bits
//    into alloc_bits later (exchange, acquire): when its span runs out, when it uncaches the
//    span, or mcentral when it looks for space. A bit already clear in alloc_bits, or already
//    set in free_bits, is a double free. A remote free also sets owner_remote_bit in the
//    span's owner word, which the owner's free compares anyway, so the owner's fast path
//    never reads free_bits (another cache miss): with frees pending, the compare fails and
//    the slow path checks them. As a second line of defence, an object whose
//    free bit is set is never handed out before the fold (refill_cache skips alloc|free),
//    and a fold that finds a free bit over a clear alloc bit reports a double free.
//  * Magazines and the page cache (below) keep freed objects and emptied spans for the
//    thread's next allocations, and the heap's span stash keeps spans for any thread's;
//    all keep every double free detectable.
//  * `owner` goes from uncached to an mcache and back only under the span's mcentral lock
//    (cache_span / uncache_span); the owning mcache alone flips it between its current and
//    retained tags.
//  * An mspan struct is never unmapped (fixalloc), so a stale lookup reads garbage, not a
//    fault; spans[] of an arena maps every page of an in-use span to it, null otherwise.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "malloc/pcache.hpp"
#include "malloc/size_classes.hpp"
#include "os/lock.hpp"

#if defined(GORT_ASAN)
#include <sanitizer/asan_interface.h>
#define GORT_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define GORT_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define GORT_POISON(p, n) ((void)(p), (void)(n))
#define GORT_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace gort::malloc {

inline constexpr std::size_t arena_shift = 26;  // Go: heapArenaBytes = 64 MiB
inline constexpr std::size_t arena_bytes = std::size_t{1} << arena_shift;
inline constexpr std::size_t pages_per_arena = arena_bytes / page_size;  // 8192
inline constexpr std::size_t chunk_pages = 512;  // Go: pallocChunkPages (4 MiB)
inline constexpr std::size_t chunks_per_arena = pages_per_arena / chunk_pages;  // 16
inline constexpr int heap_addr_bits = 48;  // Go: heapAddrBits
inline constexpr std::size_t arena_l2_entries = std::size_t{1} << (heap_addr_bits - arena_shift);
inline constexpr std::uintptr_t arena_base_hint = 0x00c000000000;  // Go's first arena hint
inline constexpr int tiny_size = 16;  // Go: maxTinySize
inline constexpr int tiny_span_class = 5;  // Go: tinySpanClass (class 2, noscan)
inline constexpr int max_objs_per_span = 1024;  // class 1: 8192 / 8
inline constexpr int bitmap_words = max_objs_per_span / 64;

inline constexpr std::uintptr_t owner_uncached = 1;
inline constexpr std::uint32_t cross_retain_max = 8;  // see mcache::retain
inline constexpr std::uintptr_t owner_tiny_bit = 1, owner_remote_bit = 2;

constexpr std::uint8_t make_span_class(int sizeclass, bool noscan) {
  return std::uint8_t(sizeclass << 1 | (noscan ? 1 : 0));
}

struct mcache;

// The span class (scan) of every small size, indexed by (size - 1) / 8: Go's two tables
// (size_to_class8 and size_to_class128) merged into one of 4096 bytes, with each class
// already turned into its span class, so that malloc's fast path makes one range check and
// one lookup (the range check's size - 1 is the index's too) and indexes its cache with the
// byte as it is. Every class size is a multiple of 8, so all sizes in (8i, 8(i+1)] share
// class size_to_class(8(i+1)).
struct scan_spanclass_table {
  std::uint8_t v[max_small_size / 8];
  constexpr scan_spanclass_table() : v{} {
    for (std::size_t i = 0; i < max_small_size / 8; i++) v[i] = make_span_class(size_to_class((i + 1) * 8), false);
  }
};
inline constexpr scan_spanclass_table size_to_scan_spc{};
// make_span_class(size_to_class(size), false), for 0 < size <= max_small_size.
constexpr std::size_t size_to_scan_spanclass(std::size_t size) { return size_to_scan_spc.v[(size - 1) / 8]; }
static_assert(size_to_scan_spanclass(1) == make_span_class(size_to_class(1), false) &&
              size_to_scan_spanclass(8) == make_span_class(size_to_class(8), false) &&
              size_to_scan_spanclass(9) == make_span_class(size_to_class(9), false) &&
              size_to_scan_spanclass(16) == make_span_class(size_to_class(16), false) &&
              size_to_scan_spanclass(1017) == make_span_class(size_to_class(1017), false) &&
              size_to_scan_spanclass(6529) == make_span_class(size_to_class(6529), false) &&
              size_to_scan_spanclass(max_small_size) == make_span_class(size_to_class(max_small_size), false));

enum : std::uint8_t { span_dead = 0, span_in_use = 1 };
enum : std::uint8_t { list_none = 0, list_partial = 1, list_full = 2 };

// Go: mspan. Laid out by who touches what on the fast paths: a free on the owner's thread
// reads one cache line (the second) for everything it needs: the geometry, the owner word,
// the free countdown and the first alloc_bits words (objects 0..191; every class of
// 48 B and up has its whole bitmap there), so that a free of a cold object misses on the
// spans[] entry and this line only. The first line is written by the owner on every
// allocation; free_bits, written by frees from other threads, has lines of its own.
struct alignas(64) mspan {
  // Owner-only, written on every allocation.
  // Go: allocCache, one bitmap word at a time: bit k set => object freeindex - 64 + k is
  // free and not handed out yet (Go's starts at freeindex itself and shifts as it goes;
  // here an allocation clears its bit and nothing moves).
  std::uint64_t alloc_cache;
  // Go: freeIndex. The first object the next refill looks at, always a multiple of 64: the
  // refill that loads a bitmap word into alloc_cache moves it past that word.
  std::uint32_t freeindex;
  std::atomic<std::uint8_t> list;  // which mcentral list holds it (written under that lock)
  bool needzero;              // pages may hold old data (false: fresh from the OS)
  // Set with alloc_cache by refill_cache, meaningful while alloc_cache != 0: the bitmap
  // word it covers (alloc_bits[freeindex / 64 - 1]) and the address of that word's first
  // object, so that an allocation finds its bit and its address without deriving them
  // from freeindex.
  std::atomic<std::uint64_t>* cache_word;
  std::uintptr_t cache_base;
  mspan* next;                // mcentral list, mcache retained list, fixalloc free list
  mspan* prev;
  std::size_t npages;

  // Set when the span is created or changes hands; read by every free.
  alignas(64) std::uintptr_t start;  // Go: startAddr
  // Go's divMul, widened to 64 bits: ceil(2^64 / elemsize) (0 for class 0). For every
  // offset inside a span (below 2^32), offset / elemsize is the high half of the 128-bit
  // product offset * div_magic, and the offset is a multiple of elemsize exactly when the
  // low half is below div_magic (Lemire, Kaser and Kurz, "Faster remainder by direct
  // computation", 2019): one multiply gives free both the index and the interior-pointer
  // check. See locate().
  std::uint64_t div_magic;
  std::uint32_t elemsize;     // object size (0 for class 0: a large span's size is npages)
  std::uint16_t nelems;       // objects in the span (at most max_objs_per_span)
  // The owner's frees through the bitmap (the free fast path's, the magazines' flushes)
  // until it must look at the span again, when this reaches 0 (mcache::countdown_ended):
  // for a retained span, when its live count falls to room_mark (room again) or to 0
  // (empty); for a span in alloc[], after 65,535 of them (nothing to do but restart).
  // One decrement and one branch on the fast path, for any span the thread caches.
  std::uint16_t free_countdown;
  // The live count at which a retained span has room again (nelems minus 1/8 of it, at
  // least one object).
  std::uint16_t room_mark;
  std::uint8_t spanclass;     // Go: spanclass = sizeclass<<1 | noscan
  std::atomic<std::uint8_t> state;
  bool retained;              // kept aside by its owner (mcache::retain); owner-only
  // A retained span's live count (allocated objects as its owner counts them) is
  // live_floor + free_countdown, where live_floor is room_mark or 0: the next event.
  std::uint16_t live_floor;
  // Who may write alloc_bits: owner_uncached (mcentral's lock holder; also every large
  // span), or the caching mcache's address (plus owner_tiny_bit for the tiny span class),
  // whether the span is its current one or retained; plus owner_remote_bit while remote
  // frees are pending: set (release) by a remote free after its free_bits OR, cleared by
  // the owner's fold before it reads free_bits, kept by every change of owner. So the
  // free fast path's single compare with the caller's cache means "small, not tiny, cached
  // by this thread, no remote frees to look at" (and the free_bits lines stay unread).
  std::atomic<std::uintptr_t> owner;
  std::atomic<std::uint64_t> alloc_bits[bitmap_words];  // Go: allocBits; starts in this line
  // Written by frees from other threads.
  alignas(64) std::atomic<std::uint64_t> free_bits[bitmap_words];  // not yet folded in
  // Written by the owner at retain / take_retained only (see mcache::retain): the live
  // count when it was last retained, and whether a retained stretch of it saw remote frees
  // and no local ones (a producer/consumer span, which goes back to mcentral when it runs
  // out instead of being retained). Cleared when the span is set up for a class.
  std::uint32_t live_at_retain;
  bool cross;
  // Off the fast paths.
  std::atomic<std::uint8_t>* tiny_refs;    // tiny span class: live sub-objects per block
  std::uint64_t* gcmark_bits;              // Go: gcmarkBits; for the collector (unused yet)

  static constexpr std::uint16_t countdown_unretained = 0xffff;
  // Hands the span to a new owner tag (see owner), not retained; a pending remote free
  // stays flagged.
  void set_owner(std::uintptr_t tag) {
    retained = false;
    free_countdown = countdown_unretained;
    std::uintptr_t old = owner.load(std::memory_order_relaxed);
    while (!owner.compare_exchange_weak(old, tag | (old & owner_remote_bit), std::memory_order_relaxed)) {
    }
  }
  std::uintptr_t owner_tag() const { return owner.load(std::memory_order_relaxed) & ~owner_remote_bit; }
  bool remote_pending(std::memory_order mo = std::memory_order_acquire) const {
    return (owner.load(mo) & owner_remote_bit) != 0;
  }
  std::uint32_t retained_live() const { return std::uint32_t(live_floor) + free_countdown; }
  void set_retained_live(std::uint32_t live) {
    live_floor = live > room_mark ? room_mark : 0;
    free_countdown = std::uint16_t(live - live_floor);
  }
  int sizeclass() const { return spanclass >> 1; }
  bool owned_by(const mcache* c) const {
    return c != nullptr && (owner.load(std::memory_order_relaxed) & ~(owner_tiny_bit | owner_remote_bit)) ==
                               reinterpret_cast<std::uintptr_t>(c);
  }
  bool noscan() const { return spanclass & 1; }
  std::uint32_t nwords() const { return (nelems + 63) / 64; }
  std::uintptr_t limit() const { return start + npages * page_size; }
  // Where address p (inside this small span) falls: its object's index, and whether p is
  // that object's start.
  struct position {
    std::uintptr_t idx;  // below max_objs_per_span; full width so that it needs no extension
    bool at_start;
  };
  position locate(std::uintptr_t p) const {
    unsigned __int128 prod = static_cast<unsigned __int128>(p - start) * div_magic;
    return {std::uintptr_t(prod >> 64), std::uint64_t(prod) < div_magic};
  }
  std::uint32_t obj_index(std::uintptr_t p) const { return std::uint32_t(locate(p).idx); }
  // Go: allocCount, counted from the bitmap (the owner's view; the caller owns the span).
  // Objects in the owner's magazine are not in it (see the magazines below).
  std::uint32_t count_alloc() const;
  bool has_remote() const;  // some free_bits word is set
  // Folds free_bits into alloc_bits; the caller owns the span. Returns objects freed.
  std::uint32_t collect_remote();
  // Finds the first bitmap word at or after freeindex with a free object and loads
  // alloc_cache with that word's free objects (freeindex moves past the word); wraps
  // once (after folding remote frees) when the span still has at least 1/8 free (any free
  // object when `fresh`, i.e. just taken from mcentral). Returns false when the caller
  // should give the span back. Called only while the owner's magazine of the class is
  // empty (every allocation pops it first), so a clear bit is a free object.
  bool refill_cache(bool fresh = false);
};

static_assert(offsetof(mspan, alloc_bits) == 64 + 40, "alloc_bits[0..2] share the free path's line");

// The empty span every mcache slot starts with (Go: emptymspan): its cache is 0 and it has
// no objects, so the fast path falls into refill without a null check.
extern mspan empty_mspan;

// Magazines (gort's addition; tcmalloc's and mimalloc's free lists have the same effect):
// per span class, the last few objects this thread freed into its own spans, handed out
// again first (LIFO), so that a free followed by a malloc of the same class reuses an
// object still in cache. Pushing and popping clear and set the object's alloc bit, like a
// free and an allocation through the bitmap, and nothing else about the span: the free
// fast path checks one bit, and never reads or writes the object (a cold object costs no
// miss; user data cannot look like a freed object). A push does prefetch the object's
// first line for writing, which never stalls the free: the malloc that pops it, usually
// soon, then hands out a line already in cache, as a free list's pop does (tcmalloc's and
// mimalloc's frees write their link into the object). `mixed`, whose frees hit random cold
// objects, took 8 % less CPU with it (1.59-1.66x -> 1.46-1.50x tcmalloc); the other
// workloads did not move. What tells a magazine object from a
// free one is the magazine itself, which only the owner reads: its spans stay with it
// (a span with objects in the magazine is never given back, so the objects count in its
// owner's `live` and in live_objects), and every allocation of the class pops the
// magazine before it scans the bitmap, so a scan runs only with the magazine empty
// (next_free checks it). So a double free of a magazine object, on any thread, finds its
// alloc bit clear and is reported, like any other. Off under ASan, whose builds keep
// every free object poisoned. (An earlier design kept magazine objects allocated in the
// bitmap, marked by a random key in their first word, which frees had to load: larson ran
// 20 % slower, as a free of a cold object missed on it.)
//
// Capacity: up to 30 objects, within 64 KiB per class (at least 4 objects), so a cache
// holds at most about 2.6 MiB in its magazines (7 per class, before: 2.5 MiB). The room
// matters when a thread allocates and frees many classes at random (larson): with 7
// entries a magazine ran full or empty every few operations and the branches that test
// for it mispredicted (larson 0.35 -> 0.24 s CPU in A/B; pairs16, mixed within noise).
// A magazine is an array of {object, its alloc bit} entries that fills downwards: the cache's
// mag_top[spc] points at the newest object, the entry above the oldest is always null and
// the entry below the last free slot holds the full marker. So a pop reads the entry at
// mag_top (null: empty) and a push the one below it (the marker: full), and neither needs
// a count, a capacity or the magazine's address on its fast path.
#if defined(GORT_ASAN)
inline constexpr bool use_magazines = false;
#else
inline constexpr bool use_magazines = true;
#endif
inline constexpr int magazine_max = 30;
inline constexpr std::size_t magazine_bytes = 64 << 10;
constexpr std::uint32_t magazine_capacity(std::size_t elemsize) {
  std::size_t n = elemsize != 0 ? magazine_bytes / elemsize : magazine_max;
  return std::uint32_t(n > std::size_t(magazine_max) ? magazine_max : n < 4 ? 4 : n);
}
struct magazine_entry {
  void* p;  // the object; null above the oldest, mag_full_marker below the last free slot
  // The object's alloc bit as one number: the address of its span's alloc_bits[0] times 8,
  // plus the object's index. The word is then at (alloc_bit >> 6) * 8 (alloc_bits is
  // 8-byte aligned) and the bit is alloc_bit % 64, so a push makes it with one lea and a
  // pop sets the bit without a span lookup or a division. Addresses are below 2^61.
  std::uint64_t alloc_bit;

  static std::uint64_t pack(const mspan* s, std::uintptr_t idx) {
    return (reinterpret_cast<std::uintptr_t>(&s->alloc_bits[0]) << 3) + idx;
  }
  // The pop: the owner marks the object allocated again.
  void set_alloc_bit() const {
    const std::uint64_t t = alloc_bit;
    auto* w = reinterpret_cast<std::atomic<std::uint64_t>*>((t >> 6) << 3);
    w->store(w->load(std::memory_order_relaxed) | std::uint64_t{1} << (t % 64), std::memory_order_relaxed);
  }
};
inline void* const mag_full_marker = reinterpret_cast<void*>(1);
// e[magazine_max + 1] is the null end; a class of capacity cap uses e[magazine_max + 1 -
// cap .. magazine_max] and has its full marker just below.
struct alignas(64) magazine {
  // Left unwritten by mcache(): a class's magazine is set up when the cache first uses the
  // class (mcache::next_free), so a cache's unused magazines never become resident.
  magazine() {}
  magazine_entry e[magazine_max + 2];
  magazine_entry* end() { return &e[magazine_max + 1]; }
  const magazine_entry* end() const { return &e[magazine_max + 1]; }
};

// gort's page cache (Go keeps a per-P pageCache of 64 pages for small spans): the empty
// spans a thread gave up most recently, whole, kept by page count so that the next span of
// that many pages (any size class, or a large object) reuses them without the heap lock,
// the page allocator or spans[] updates, and on pages the thread touched last (still
// resident and in cache), which keeps the heap's resident set small under churn.
inline constexpr std::size_t span_cache_max_pages = 16;  // spans of up to 128 KiB
inline constexpr int span_cache_ways = 32;                // per page count, newest last
inline constexpr std::size_t span_cache_cap_pages = 1024; // 8 MiB per thread at most
// The heap's span stash (mheap.cpp) is the same idea one level down, shared by all threads
// under the heap lock: whole spans of up to span_cache_max_pages that page caches evicted or
// aged out (or that were freed without one), kept by page count, newest reused first, for
// two scavenger ticks. A span of n pages then comes back on pages that spans of n pages
// used last (resident, and touched where such spans touch them) rather than on the
// lowest free run, which under churn of many sizes is a different, cold run each time: in
// the `mixed` workload, 56,000 page faults without the stash, 42,000 with it (tcmalloc's
// exact-size page lists: 34,500). Bounded by an eighth of the heap in use, 8 MiB at least.
inline constexpr int span_stash_ways = 256;                // per page count, ring
inline constexpr std::size_t span_stash_min_pages = 1024;  // 8 MiB
struct span_cache_slot {
  mspan* s[span_cache_ways];
  std::uint32_t stamp[span_cache_ways];  // scavenger tick when cached
  std::uint32_t n;
};

// Go: mcache. Used by one thread at a time (mcache.cpp); stats are atomics only so that read_mem_stats may read
// them from another thread (relaxed; the owner does plain load+store updates). As in Go,
// small allocations are counted in bulk: each alloc_cache load adds the objects it offers,
// and a span leaving the cache takes back the ones it did not hand out.
//
// Counting a magazine's traffic: a pop counts one in mag_pops; a push counts nothing, as
// every object pushed is since popped (mag_pops), still in the magazine (its occupancy,
// read when stats are read) or flushed back to its span (counted in nfree by the flush),
// so frees = nfree + mag_pops + occupancy (frees_of) and the free fast path saves a
// counter update.
struct mcache {
  mcache() {}  // every member but mag is zeroed by its initializer
  mspan* alloc[num_span_classes]{};
  std::atomic<std::uint64_t> nmalloc[num_size_classes]{};  // small objects allocated by class
  std::atomic<std::uint64_t> nfree[num_span_classes]{};    // small objects freed here by span class
  std::atomic<std::uint64_t> mag_pops[num_span_classes]{}; // objects handed out by a magazine
  // Each class's newest magazine object (its magazine's end when empty; &dormant[1] until
  // the class is first used). Written by the owner only (relaxed); read_mem_stats reads
  // it from other threads for the occupancy.
  std::atomic<magazine_entry*> mag_top[num_span_classes]{};
  // The magazine of every class this cache has not used yet: empty ([1] is null) and full
  // ([0] is the full marker), so the fast paths neither pop from it nor push into it.
  magazine_entry dormant[2]{};
  magazine mag[num_span_classes];
  // Spans this cache ran out of but keeps (gort's addition to Go's mcache: with explicit
  // free, keeping them makes this thread's frees into them lock- and atomic-free). FIFO;
  // a span that frees bring back to 1/8 free moves to the front; an empty one goes back
  // to the heap at once. Linked through mspan::next/prev.
  mspan* retained_head[num_span_classes]{};
  mspan* retained_tail[num_span_classes]{};
  std::uint32_t nretained[num_span_classes]{};  // spans on each retained list
  std::uintptr_t tiny{};        // Go: tiny; current 16-byte block (0 if none)
  std::uintptr_t tinyoffset{};  // Go: tinyoffset
  mspan* tinyspan{};            // span of the tiny block (its refcount holds one ref for us)
  std::atomic<std::uint64_t> ntiny{};         // Go: tinyAllocCount
  std::atomic<std::uint64_t> nlarge_alloc{}, large_alloc_bytes{}, nlarge_free{}, large_free_bytes{};
  // Page cache (see span_cache_slot): spans in it are dead (state != in_use, owner
  // uncached, pages poisoned) but keep their pages and spans[] entries, so a free of a
  // pointer into one reports a double free. Entries that sat through a whole scavenger tick
  // go back to the heap at this thread's next use of the cache; thread exit and
  // free_os_memory return them all.
  span_cache_slot span_cache[span_cache_max_pages + 1]{};
  std::size_t span_cache_pages{};
  std::uint32_t span_cache_tick{};  // scavenger tick last seen
  mcache* all_next{};  // heap's list of live caches
  mcache* all_prev{};
  bool is_p_cache{};   // a P's (new_p_cache), not a thread's own
  // The thread a P's cache is bound to (its tls_own's address), null while unbound: the
  // check of "one thread at a time" (mcache.cpp).
  std::atomic<const void*> bound_thread{};

  void init();
  void activate_magazine(int spc);     // sets up mag[spc] at the class's first use
  void* next_free(int spc);            // Go: mcache.nextFree (slow path of the fast path)
  mspan* refill(int spc);               // Go: mcache.refill
  void release_all();                   // Go: mcache.releaseAll
  void drop_tiny();
  void retain(int spc, mspan* s);       // s leaves alloc[spc] but stays this cache's
  mspan* take_retained(int spc);        // a retained span with room, or null
  // This cache's thread freed an object of s (cached here) through s's bitmap: counts it
  // in nfree, then in s's free_countdown, whose end may give s back (malloc_fast.hpp).
  void count_bitmap_free(mspan* s, std::size_t spc);
  // s (cached here) reached the end of its free_countdown: a retained span that is
  // empty or has room again moves; any other restarts its countdown.
  void countdown_ended(mspan* s);
  void unlink_retained(mspan* s);
  void link_retained(int spc, mspan* s, bool front);
  void flush_magazines();               // their objects become free in their spans
  bool in_magazine(int spc, const void* p) const;
  // How many objects of s (owned by this cache) its magazine holds.
  std::uint32_t magazine_objects(const mspan* s) const;
  // s's allocated objects as its owner counts them: the bitmap's plus the magazine's.
  std::uint32_t live_objects(const mspan* s) const;
  // Takes back empty span s (owned by this thread, on no list): keeps it in the page cache
  // or gives it to the heap.
  void free_span(mspan* s);
  // A span of npages from the page cache, set up for spanclass (owner uncached, in use),
  // or null.
  mspan* cached_span(std::size_t npages, std::uint8_t spanclass);
  void flush_span_cache(bool all);  // all, or those older than a scavenger tick
  // Objects counted in nmalloc but still waiting in alloc_cache (owner thread only).
  std::uint64_t unused_in_cache(int sizeclass) const;
  // Small objects of a size class this cache has handed out / taken back so far (any
  // thread may ask; relaxed reads, exact for the owner).
  std::uint64_t mallocs_of(int sizeclass) const;
  std::uint64_t frees_of(int sizeclass) const;
};

// Go: mcentral. One per span class, cache-line padded, its own lock.
struct alignas(64) mcentral {
  os::light_rt_mutex lock;
  std::uint8_t spanclass;
  mspan* partial_head;  // spans with at least one free object (as last seen)
  mspan* partial_tail;
  mspan* full_head;     // spans seen full (remote frees may have freed some since)
  mspan* full_tail;

  mspan* cache_span(mcache* c);        // Go: mcentral.cacheSpan
  void uncache_span(mspan* s);          // Go: mcentral.uncacheSpan
  // Folds remote frees of every uncached span; empty spans go back to the heap. Go's
  // sweeper does this work in Go; here it runs before the heap grows and in the scavenger.
  std::size_t reclaim();
  // A remote free reached uncached span s (lock held): a full span moves to partial.
  void note_remote_free(mspan* s);
  void push(mspan* s, std::uint8_t which, bool front);
  void unlink(mspan* s);
};

// ---- mheap (mheap.cpp) ----

// Per-arena metadata (Go: heapArena), kept outside the arena.
struct heap_arena {
  std::atomic<mspan*> spans[pages_per_arena];  // page -> in-use span
  std::uintptr_t base;
  std::uint64_t alloc[pages_per_arena / 64];   // page allocator bitmap: 1 = in use
  std::uint64_t scav[pages_per_arena / 64];    // 1 = released to the OS (Go: scavenged)
  struct summary {
    std::uint16_t start, max, end;             // Go: pallocSum (free pages at start, max run, end)
  } sum[chunks_per_arena];
  std::uint64_t fresh[pages_per_arena / 64];  // pages freed since the last scavenger tick
};

struct heap_stats_snapshot {
  std::uint64_t heap_sys, heap_inuse, heap_released, mspan_inuse, mspan_sys, mcache_inuse,
      mcache_sys, other_sys, nspans_small, nspans_large;
};

// Small-object allocation (malloc.cpp).
void* mallocgc_slow(std::size_t size, bool noscan, bool zero);  // tiny, large, no cache yet
void free_slow(void* p, mspan* s, mcache* c);  // large, tiny class, bad pointers
void* malloc_aligned(std::size_t size, std::size_t align, bool zero);
std::size_t usable_size(const void* p);  // 0 for null; aborts on a bad pointer
// Grows large object p (its start) in place to at least `size` bytes when the pages after
// it are free (realloc without a copy); false, and p unchanged, otherwise.
bool grow_in_place(void* p, std::size_t size);
bool owns(const void* p);            // p is inside an in-use span of this heap
mcache* create_cache();               // the slow path of get_mcache
std::size_t live_caches();            // caches in the heap's list (threads' and Ps')

// Heap (mheap.cpp).
void heap_init();
mspan* heap_alloc_span(std::size_t npages, std::uint8_t spanclass, std::size_t align_pages);
void heap_free_span(mspan* s);
// Extends large span s (in use, the caller's) by n pages in place when the n pages right
// after it are free; false (and nothing changed) when they are not.
bool heap_extend_span(mspan* s, std::size_t n);
std::size_t heap_stash_pages();  // pages in the heap's span stash now
// Free pages not released to the OS: the heap's count, and a recount from the page
// bitmaps (for tests: the two must agree).
std::size_t heap_free_resident_pages();
std::size_t heap_recount_free_resident_pages();
// The first run of n clear bits (free pages) in bits[0..nwords*64), bit 0 of word 0 first:
// its bit index, or ~0 if there is none. The page allocator's search inside a chunk.
std::size_t first_free_run(const std::uint64_t* bits, std::size_t nwords, std::size_t n);
// Geometry of a new or reused span; counts it in the heap's span totals when `count`.
void init_span_class(mspan* s, std::uint8_t spanclass, bool count = true);
void uncount_span(const mspan* s);  // takes s out of the heap's span totals
// Makes s, a dead span kept whole (page cache, heap stash) with nothing allocated, a new
// in-use span of spanclass (owner uncached, dirty pages). `counted`: s is still in the
// heap's span totals under its old class (the page cache keeps it there; the stash not).
void revive_span(mspan* s, std::uint8_t spanclass, bool counted);
extern std::atomic<std::uint32_t> scavenger_ticks;  // bumped every scavenger tick
extern heap_arena* arena_index[arena_l2_entries];  // Go: mheap.arenas; __atomic access
// The first 64 GiB of heap address space from Go's arena hint also have one flat page ->
// span table (BSS: only the pages of it that map heap pages get backed), so that span_of
// for the usual heap is one load instead of two dependent ones (arena_index, then the
// arena's spans[]); the two levels still hold everything, for addresses outside the window.
inline constexpr std::uintptr_t flat_base = arena_base_hint;
inline constexpr std::size_t flat_pages = std::size_t{1} << 23;  // 64 GiB / 8 KiB
extern mspan* flat_spans[flat_pages];  // __atomic access
mcentral& central(int spc);
mcache* heap_new_mcache();
void heap_free_mcache(mcache* c);
void heap_stats(heap_stats_snapshot& out);
void heap_lock_all();    // fork: prepare
void heap_unlock_all();  // fork: parent
void heap_after_fork_child();
std::size_t scavenge(bool force);     // releases free pages; returns bytes released
// Tests only: called by a thread releasing heap pages just before its madvise, with the
// heap lock let go (a test allocates meanwhile).
extern std::atomic<void (*)()> before_release_syscall;
void start_scavenger();               // background scavenger thread (idempotent)
int scavenger_tid();                  // its thread id, 0 if none (the deadlock check skips it)
void reclaim_all();                   // every mcentral's reclaim

[[noreturn]] void fatal(const char* msg, const void* p);

// Stats that outlive their cache (thread exit) are folded in here under the heap lock.
struct retired_stats {
  std::uint64_t nmalloc[num_size_classes], nfree[num_size_classes];
  std::uint64_t ntiny, nlarge_alloc, large_alloc_bytes, nlarge_free, large_free_bytes;
};
void visit_caches(void (*fn)(const mcache&, void*), void* arg, retired_stats& retired);

// Frees made by threads without a cache (exiting threads).
struct orphan_stats {
  std::atomic<std::uint64_t> nfree[num_size_classes];
  std::atomic<std::uint64_t> nlarge_free, large_free_bytes;
};
extern orphan_stats orphans;

}  // namespace gort::malloc

#include "malloc/malloc_fast.hpp"
