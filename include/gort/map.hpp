// gort/map.hpp — Go's map (Go 1.19 runtime/map.go: hmap, bmap, mapassign, mapaccess,
// mapdelete, hashGrow, evacuate, mapiterinit/mapiternext).
//
//   auto m = gort::make_map<std::string, int>();   // make(map[string]int)
//   m["a"] = 1;                                     // m["a"] = 1   (also m.set("a", 1))
//   int v = m.get("b");                             // v := m["b"]  (0: absent)
//   auto [w, ok] = m.get_ok("a");                   // w, ok := m["a"]
//   m.erase("a");                                   // delete(m, "a")
//   for (auto [k, v] : m) { ... }                   // for k, v := range m (random order)
//   gort::map<int, int> nil;                        // var nil map[int]int
//   nil.get(1);                                     // 0; nil.set(1, 1) panics
//
// A gort::map is a reference, as in Go: copies share one table, and a default-constructed
// map is the nil map (reads and len see nothing, erase and clear do nothing, a write throws
// gort::runtime_error "assignment to entry in nil map").
//
// Operations (Go spelling on the right):
//
//   m.get(k)            v := m[k]          a copy of the value, or V{} when absent
//   m.get_ok(k)         v, ok := m[k]      {value, ok} for `auto [v, ok] = ...`
//   m.find(k)           —                  V* into the table, or nullptr (valid until the next write)
//   m.contains(k)       _, ok := m[k]
//   m[k]                m[k] (as an lvalue) the value's slot, inserting V{} when absent
//   m.set(k, v)         m[k] = v
//   m.erase(k)          delete(m, k)
//   m.clear()           clear(m) (Go 1.21; removes NaN keys too)
//   m.len()             len(m)
//   for (auto [k, v] : m)   for k, v := range m
//
// The table is Go 1.19's: 2^B buckets of 8 slots, each bucket a tophash byte per slot (the top
// byte of the hash, or one of the special values below 5), then the 8 keys, then the 8
// values, then an overflow pointer; a per-map random seed; load factor 6.5 entries per
// bucket; doubling growth, and same-size growth when overflow buckets pile up; incremental
// evacuation of at most two old buckets per write; reads look in the old bucket while it is
// not yet evacuated. Maps never shrink.
//
// Iteration starts at a random bucket and a random slot every time. An entry deleted during
// a range is not seen afterwards; an entry present for the whole range is seen exactly once,
// even while the map grows; an entry inserted during a range may or may not be seen.
//
// Misuse is detected as Go does, best effort, with the hashWriting flag: a write during
// another write ends the program with "fatal error: concurrent map writes", a read during a
// write with "concurrent map read and map write", an iteration step during a write with
// "concurrent map iteration and map write" (goroutine dump, exit 2). Concurrent reads and
// ranges are fine.
//
// Keys need gort::hash<K> (gort/hash.hpp) and an equality (std::equal_to<K> by default).
// Floating point keys follow Go: +0 == -0, and NaN != NaN, so every m.set(NaN, v) adds an
// entry that can never be found or erased; ranges return them; clear removes them.
//
// References and pointers into the table (m[k], find, the range's references) stay valid
// until the next write to the map (an insert may move entries, as growth does in Go). Keys
// and values may be any C++ types (move-only included); each is destroyed exactly once.
// Differences from Go: keys and values larger than 128 bytes are stored inline (Go stores a
// pointer). A range must not outlive its map. Evacuation leaves a copy of each key behind for
// ranges still walking the old buckets; a move-only key cannot be copied, so a range that
// spans a growth may miss entries with move-only keys.
#pragma once
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "gort/errors.hpp"
#include "gort/hash.hpp"

namespace gort {

// ---- The runtime's interface (src/containers/runtime.cpp); not for direct use. ----
namespace rt {

// The one allocation pair behind every map bucket and slice backing array: zeroed memory.
void* containers_alloc(size_t bytes, size_t align);
void containers_free(void* p, size_t bytes, size_t align) noexcept;
[[noreturn]] void map_fatal(const char* msg);

namespace mapdef {
inline constexpr int bucket_cnt = 8;  // Go: bucketCnt
// Go: loadFactorNum/loadFactorDen = 13/2 = 6.5 entries per bucket.
inline constexpr uint64_t load_factor_num = 13;
inline constexpr uint64_t load_factor_den = 2;
// tophash values (Go: emptyRest, emptyOne, evacuatedX, evacuatedY, evacuatedEmpty, minTopHash).
inline constexpr uint8_t empty_rest = 0;       // this slot and every later one (overflow too) is empty
inline constexpr uint8_t empty_one = 1;        // this slot is empty
inline constexpr uint8_t evacuated_x = 2;      // moved to the same index in the new array
inline constexpr uint8_t evacuated_y = 3;      // moved to index + 2^oldB
inline constexpr uint8_t evacuated_empty = 4;  // empty, and the bucket is evacuated
inline constexpr uint8_t min_top_hash = 5;     // the smallest tophash of a full slot
// hmap.flags (Go: iterator, oldIterator, hashWriting, sameSizeGrow).
inline constexpr uint8_t f_iterator = 1;
inline constexpr uint8_t f_old_iterator = 2;
inline constexpr uint8_t f_hash_writing = 4;
inline constexpr uint8_t f_same_size_grow = 8;

inline bool is_empty(uint8_t x) { return x <= empty_one; }
inline uint8_t tophash(uint64_t hash) {
  uint8_t top = uint8_t(hash >> 56);
  if (top < min_top_hash) top += min_top_hash;
  return top;
}
// Go: overLoadFactor — count > 8 and count > 6.5 * 2^B.
inline bool over_load_factor(uint64_t count, uint8_t B) {
  return count > uint64_t(bucket_cnt) && count > load_factor_num * ((uint64_t(1) << B) / load_factor_den);
}
// Go: tooManyOverflowBuckets — noverflow >= 2^min(B, 15).
inline bool too_many_overflow_buckets(uint16_t noverflow, uint8_t B) {
  if (B > 15) B = 15;
  return noverflow >= uint16_t(uint32_t(1) << (B & 15));
}
// SWAR over the 8 tophash bytes: a mask with 0x80 set in exactly the bytes equal to `b`.
inline uint64_t match_byte(uint64_t word, uint8_t b) {
  uint64_t x = word ^ (0x0101010101010101ULL * b);
  // A byte of x is zero iff adding 0x7f to its low 7 bits leaves bit 7 clear and bit 7
  // was clear already: no carries cross bytes, so no false positives.
  uint64_t y = ((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7f7f7f7f7f7f7f7fULL) | x;
  return ~y & 0x8080808080808080ULL;
}
// The bytes below 2 (emptyRest, emptyOne): the lowest flagged byte is always one (higher
// ones may be false positives).
inline uint64_t empty_slots(uint64_t word) {
  return (word - 0x0202020202020202ULL) & ~word & 0x8080808080808080ULL;
}
inline bool has_zero_byte(uint64_t word) {
  return ((word - 0x0101010101010101ULL) & ~word & 0x8080808080808080ULL) != 0;
}

// A bucket's 8 tophash bytes, loaded once, and the slot masks a probe needs: bit i of a
// mask is slot i. The portable form works on the 64-bit word (SWAR); with SSE2 a match is a
// byte compare and a movemask (three instructions that wait on the bucket's cache line,
// against eight). Both agree on the lowest bit of every mask (tests check).
struct tophash_group_swar {
  uint64_t w;
  explicit tophash_group_swar(const uint8_t* p) noexcept { std::memcpy(&w, p, 8); }
  static uint8_t needle(uint8_t top) noexcept { return top; }
  // 0x80 in byte i -> bit i.
  static unsigned bits(uint64_t m) noexcept { return unsigned(((m >> 7) * 0x0102040810204080ULL) >> 56); }
  // Slots whose tophash is `top`.
  unsigned match(uint8_t top) const noexcept { return bits(match_byte(w, top)); }
  // The first empty slot (emptyRest or emptyOne): empty_slots' lowest flagged byte is exact,
  // higher ones may not be.
  unsigned empty() const noexcept {
    uint64_t e = empty_slots(w);
    return bits(e & (0 - e));
  }
  // Whether some slot is emptyRest: nothing further in this chain.
  bool any_empty_rest() const noexcept { return has_zero_byte(w); }
};
#if defined(__SSE2__)
struct tophash_group_sse2 {
  __m128i v;  // the 8 bytes, then 8 zero bytes
  explicit tophash_group_sse2(const uint8_t* p) noexcept
      : v(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))) {}
  // The top byte to look for, broadcast (computed before the bucket arrives).
  static __m128i needle(uint8_t top) noexcept { return _mm_set1_epi8(char(top)); }
  // A needle is a full slot's tophash (>= min_top_hash), so the zero upper half never matches.
  unsigned match(__m128i n) const noexcept { return unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, n))); }
  // Every empty slot (callers use the lowest).
  unsigned empty() const noexcept {
    return unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(1)), v))) & 0xffu;
  }
  bool any_empty_rest() const noexcept {
    return (unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()))) & 0xffu) != 0;
  }
};
using tophash_group = tophash_group_sse2;
#else
using tophash_group = tophash_group_swar;
#endif
// The lowest slot in a non-empty mask (a 64-bit count: no widening before the address math).
inline size_t first_slot(unsigned mask) noexcept { return size_t(std::countr_zero(uint64_t(mask))); }
}  // namespace mapdef

// How a probe hashes its key and compares it with the keys in the table: with the map's Hash
// and Eq; or, for a key type with a map_probe (gort::string) and the default hash and
// equality, through it (it loads the key's words once, for the hash and every compare).
template <class K, class KK, class Hash, class Eq>
struct map_probe_for {
  const KK& k;
  const Hash& h;
  const Eq& e;
  map_probe_for(const KK& key, const Hash& hh, const Eq& ee) noexcept : k(key), h(hh), e(ee) {}
  uint64_t hash(uint64_t seed) const { return h(k, seed); }
  bool matches(const K& stored) const { return e(stored, k); }
};
template <class K>
  requires requires { typename K::map_probe; }
struct map_probe_for<K, K, gort::hash<K>, std::equal_to<K>> {
  typename K::map_probe p;
  map_probe_for(const K& key, const gort::hash<K>&, const std::equal_to<K>&) noexcept : p(key) {}
  uint64_t hash(uint64_t seed) const noexcept { return p.hash(seed); }
  bool matches(const K& stored) const noexcept { return p.matches(stored); }
};

// One bucket (Go: bmap): tophash[8], the 8 keys together, the 8 values together, then the
// overflow pointer.
template <class K, class V>
struct bmap {
  uint8_t tophash[mapdef::bucket_cnt];
  alignas(K) unsigned char kbytes[mapdef::bucket_cnt * sizeof(K)];
  alignas(V) unsigned char vbytes[mapdef::bucket_cnt * sizeof(V)];
  bmap* overflow;

  K* key(size_t i) noexcept { return std::launder(reinterpret_cast<K*>(kbytes) + i); }
  V* val(size_t i) noexcept { return std::launder(reinterpret_cast<V*>(vbytes) + i); }
  // Go: evacuated(b) — the first slot says whether the bucket has been moved.
  bool evacuated() const noexcept {
    uint8_t h = tophash[0];
    return h > mapdef::empty_one && h < mapdef::min_top_hash;
  }
};

// A bucket array: a small header (reference count, sizes) before 2^B buckets and the
// preallocated overflow buckets. The map holds one reference to its current and its old
// array; a range holds one to each array it may walk (Go's GC keeps them alive instead).
struct barray_hdr {
  std::atomic<int64_t> refs;
  uint64_t nbase;   // 2^B
  uint64_t nalloc;  // 2^B plus preallocated overflow buckets
  uint64_t bytes;
};

template <class K, class V, class Hash, class Eq>
class hmap {
 public:
  using bucket = bmap<K, V>;
  static constexpr size_t bsize = sizeof(bucket);
  static constexpr size_t balign = alignof(bucket) > 16 ? alignof(bucket) : 16;
  static constexpr size_t hdr_size = (sizeof(barray_hdr) + balign - 1) / balign * balign;
  static constexpr bool reflexive = detail::hash_reflexive<Hash>();
  static constexpr bool trivial_k = std::is_trivially_destructible_v<K>;
  static constexpr bool trivial_v = std::is_trivially_destructible_v<V>;

  std::atomic<int64_t> refs{1};  // handles sharing this map
  uint64_t count = 0;            // live entries (Go: count)
  std::atomic<uint8_t> flags{0};
  uint8_t B = 0;           // log2 of the number of buckets
  uint16_t noverflow = 0;  // approximate number of overflow buckets
  uint64_t hash0;          // the seed
  bucket* buckets = nullptr;
  bucket* oldbuckets = nullptr;  // the previous array, while growing
  uint64_t nevacuate = 0;        // old buckets below this are evacuated
  bucket* next_overflow = nullptr;  // the next free preallocated overflow bucket
  bucket* overflow_end = nullptr;
  [[no_unique_address]] Hash hasher;
  [[no_unique_address]] Eq eq;

  static barray_hdr* hdr(bucket* b) noexcept {
    return reinterpret_cast<barray_hdr*>(reinterpret_cast<char*>(b) - hdr_size);
  }
  static uint64_t rand64() noexcept { return uint64_t(containers_rand()) << 32 | containers_rand(); }

  uint8_t load_flags() const noexcept { return flags.load(std::memory_order_relaxed); }
  void store_flags(uint8_t f) noexcept { flags.store(f, std::memory_order_relaxed); }

  explicit hmap(int64_t hint) : hash0(rand64()) {
    if (hint < 0) hint = 0;
    uint8_t b = 0;
    while (mapdef::over_load_factor(uint64_t(hint), b)) b++;
    B = b;
    if (B != 0) buckets = make_bucket_array(B);
  }
  ~hmap() {
    if (buckets != nullptr) release_array(buckets);
    if (oldbuckets != nullptr) release_array(oldbuckets);
  }
  hmap(const hmap&) = delete;
  hmap& operator=(const hmap&) = delete;

  bool growing() const noexcept { return oldbuckets != nullptr; }
  bool same_size_grow() const noexcept { return (load_flags() & mapdef::f_same_size_grow) != 0; }
  uint64_t noldbuckets() const noexcept {
    uint8_t ob = B;
    if (!same_size_grow()) ob--;
    return uint64_t(1) << ob;
  }
  uint64_t oldbucketmask() const noexcept { return noldbuckets() - 1; }

  // Go: makeBucketArray. 2^b buckets, plus 2^(b-4) preallocated overflow buckets when b >= 4.
  bucket* make_bucket_array(uint8_t b) {
    uint64_t base = uint64_t(1) << b;
    uint64_t n = base;
    if (b >= 4) n += base >> 4;
    uint64_t bytes = hdr_size + n * bsize;
    char* mem = static_cast<char*>(containers_alloc(bytes, balign));
    auto* h = new (mem) barray_hdr{};
    h->refs.store(1, std::memory_order_relaxed);
    h->nbase = base;
    h->nalloc = n;
    h->bytes = bytes;
    auto* arr = reinterpret_cast<bucket*>(mem + hdr_size);
    if (n != base) {
      next_overflow = arr + base;
      overflow_end = arr + n;
    } else {
      next_overflow = overflow_end = nullptr;
    }
    return arr;
  }

  static void acquire_array(bucket* arr) noexcept { hdr(arr)->refs.fetch_add(1, std::memory_order_relaxed); }

  // Destroys what the slots of one bucket hold: keys and values of full slots, the key left
  // behind in an evacuated slot.
  static void destroy_bucket(bucket* b) noexcept {
    if constexpr (!trivial_k || !trivial_v) {
      for (unsigned i = 0; i < mapdef::bucket_cnt; i++) {
        uint8_t t = b->tophash[i];
        if (t >= mapdef::min_top_hash) {
          if constexpr (!trivial_k) std::destroy_at(b->key(i));
          if constexpr (!trivial_v) std::destroy_at(b->val(i));
        } else if (t == mapdef::evacuated_x || t == mapdef::evacuated_y) {
          if constexpr (!trivial_k) std::destroy_at(b->key(i));
        }
      }
    }
  }

  // Frees the overflow buckets of arr that were allocated one by one (not preallocated).
  static void free_overflows(bucket* arr) noexcept {
    barray_hdr* h = hdr(arr);
    bucket* lo = arr;
    bucket* hi = arr + h->nalloc;
    for (uint64_t i = 0; i < h->nbase; i++) {
      bucket* o = arr[i].overflow;
      while (o != nullptr) {
        bucket* next = o->overflow;
        if (o < lo || o >= hi) containers_free(o, bsize, balign);
        o = next;
      }
    }
  }

  // Destroys every entry of an array and marks its slots empty (a range still walking the
  // array then sees nothing).
  static void destroy_entries(bucket* arr) noexcept {
    barray_hdr* h = hdr(arr);
    for (uint64_t i = 0; i < h->nbase; i++) {
      for (bucket* b = &arr[i]; b != nullptr; b = b->overflow) {
        destroy_bucket(b);
        std::memset(b->tophash, mapdef::empty_rest, sizeof b->tophash);
      }
    }
  }

  // Drops one reference to an array; the last one destroys what it still holds (entries
  // not evacuated, keys left in evacuated slots) and frees it.
  static void release_array(bucket* arr) noexcept {
    barray_hdr* h = hdr(arr);
    if (h->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    destroy_entries(arr);
    free_overflows(arr);
    containers_free(reinterpret_cast<char*>(arr) - hdr_size, h->bytes, balign);
  }

  void incr_noverflow() noexcept {
    // Go: incrnoverflow — exact below B = 16, then counted with probability 1/2^(B-15).
    if (B < 16) {
      noverflow++;
      return;
    }
    uint32_t mask = (uint32_t(1) << (B - 15)) - 1;
    if ((containers_rand() & mask) == 0) noverflow++;
  }

  // Go: newoverflow.
  bucket* new_overflow(bucket* b) {
    bucket* ovf;
    if (next_overflow != nullptr) {
      ovf = next_overflow;
      next_overflow = ovf + 1 == overflow_end ? nullptr : ovf + 1;
    } else {
      ovf = static_cast<bucket*>(containers_alloc(bsize, balign));
    }
    incr_noverflow();
    b->overflow = ovf;
    return ovf;
  }

  // Starts loading every cache line of bucket b at once: the tophash byte, then the key,
  // then the value would otherwise each wait for the one before (a lookup's key and value
  // addresses depend on which tophash byte matched). Not part of Go's algorithm; only
  // memory timing changes.
  template <size_t Upto = bsize>
  static void prefetch_bucket(const bucket* b, bool write) noexcept {
#ifndef GORT_MAP_NO_PREFETCH
    // Buckets start balign-aligned, so their first Upto bytes lie in at most this many
    // consecutive lines: one prefetch a line (each takes a load-queue slot).
    constexpr size_t max_off = 64 - (balign < 64 ? balign : 64);
    constexpr size_t lines = (max_off + Upto + 63) / 64;
    if constexpr (lines <= 6) {
      const char* p = reinterpret_cast<const char*>(b);
      for (size_t i = 0; i < lines; i++) {
        if (write) {
          __builtin_prefetch(p + i * 64, 1);
        } else {
          __builtin_prefetch(p + i * 64, 0);
        }
      }
    }
#else
    (void)b;
    (void)write;
#endif
  }
  // A delete reads the tophash bytes and keys, and touches values only to destroy them.
  static constexpr size_t delete_span = trivial_v ? offsetof(bucket, vbytes) : bsize;

  void check_not_writing_for_read() const noexcept {
    if (load_flags() & mapdef::f_hash_writing) map_fatal("concurrent map read and map write");
  }

  // Go: mapaccessK — the key's slot (key and value), or {nullptr, nullptr}.
  template <class KK>
  std::pair<K*, V*> access(const KK& key) const {
    if (count == 0) return {nullptr, nullptr};
    check_not_writing_for_read();
    map_probe_for<K, KK, Hash, Eq> probe(key, hasher, eq);
    uint64_t hash = probe.hash(hash0);
    uint64_t m = (uint64_t(1) << B) - 1;
    bucket* b = buckets + (hash & m);
    if (oldbuckets != nullptr) {
      if (!same_size_grow()) m >>= 1;  // the old array had half as many buckets
      bucket* oldb = oldbuckets + (hash & m);
      if (!oldb->evacuated()) b = oldb;
    }
    prefetch_bucket<offsetof(bucket, overflow)>(b, false);  // the overflow pointer is needed only on a miss of a full bucket
    const auto needle = mapdef::tophash_group::needle(mapdef::tophash(hash));
    for (; b != nullptr; b = b->overflow) {
      mapdef::tophash_group g(b->tophash);
      for (unsigned mm = g.match(needle); mm != 0; mm &= mm - 1) {
        size_t i = mapdef::first_slot(mm);
        if (probe.matches(*b->key(i))) {
          K* k = b->key(i);
          V* v = b->val(i);
          if (k == nullptr || v == nullptr) __builtin_unreachable();  // spares the caller's null test
          return {k, v};
        }
      }
      if (g.any_empty_rest()) break;  // nothing further
    }
    return {nullptr, nullptr};
  }

  // Clears hashWriting at the end of a write; if it is already clear, another write ran
  // meanwhile (Go: the check at the end of mapassign/mapdelete).
  void end_write() noexcept {
    uint8_t f = load_flags();
    if ((f & mapdef::f_hash_writing) == 0) map_fatal("concurrent map writes");
    store_flags(f & uint8_t(~mapdef::f_hash_writing));
  }
  uint64_t begin_write() noexcept {
    uint8_t f = load_flags();
    if (f & mapdef::f_hash_writing) map_fatal("concurrent map writes");
    return f;
  }
  // An exception from a key or value constructor leaves the map consistent; the write ends.
  struct write_guard {
    hmap* h;
    ~write_guard() {
      if (h != nullptr) h->store_flags(h->load_flags() & uint8_t(~mapdef::f_hash_writing));
    }
  };

  // Go: mapassign. Finds key's slot, or makes one (constructing the key from `key` and the
  // value with make_val(void*)); returns the value's slot and whether it was inserted.
  // Kept out of line: growth makes it big, and inlined into a caller's loop it crowds out
  // the lookups there.
  template <class KK, class MakeV>
  [[gnu::noinline]] std::pair<V*, bool> assign(KK&& key, MakeV&& make_val) {
    begin_write();
    map_probe_for<K, std::remove_cvref_t<KK>, Hash, Eq> probe(key, hasher, eq);
    uint64_t hash = probe.hash(hash0);
    store_flags(load_flags() ^ mapdef::f_hash_writing);  // Go sets it after hashing
    write_guard guard{this};
    if (buckets == nullptr) buckets = make_bucket_array(0);  // Go: newobject(t.bucket)
    uint8_t top = mapdef::tophash(hash);
    const auto needle = mapdef::tophash_group::needle(top);
    for (;;) {
      uint64_t bi = hash & ((uint64_t(1) << B) - 1);
      bucket* b = buckets + bi;
      prefetch_bucket(b, true);
      if (growing()) grow_work(bi);
      bucket* insertb = nullptr;
      unsigned inserti = 0;
      // Go scans slot by slot; the same scan eight tophash bytes at a time: candidates for
      // the key, the first empty slot (emptyRest or emptyOne), and whether an emptyRest ends
      // the chain here.
      for (;;) {
        mapdef::tophash_group g(b->tophash);
        for (unsigned mm = g.match(needle); mm != 0; mm &= mm - 1) {
          size_t i = mapdef::first_slot(mm);
          if (!probe.matches(*b->key(i))) continue;
          // Found: Go overwrites the key where it needs updating (+0 replaced by -0).
          if constexpr (std::is_floating_point_v<K>) *b->key(i) = key;
          guard.h = nullptr;
          end_write();
          return {b->val(i), false};
        }
        if (insertb == nullptr) {
          if (unsigned e = g.empty()) {
            insertb = b;
            inserti = unsigned(mapdef::first_slot(e));
          }
        }
        if (g.any_empty_rest() || b->overflow == nullptr) break;
        b = b->overflow;
      }
      // Not found.
      // Grow when a new key would overload the table, then try again (Go: goto again).
      if (!growing() && (mapdef::over_load_factor(count + 1, B) || mapdef::too_many_overflow_buckets(noverflow, B))) {
        hash_grow();
        continue;
      }
      if (insertb == nullptr) {
        while (b->overflow != nullptr) b = b->overflow;
        insertb = new_overflow(b);
        inserti = 0;
      }
      V* vp = insertb->val(inserti);
      ::new (static_cast<void*>(insertb->key(inserti))) K(std::forward<KK>(key));
      if constexpr (std::is_nothrow_invocable_v<MakeV, void*>) {
        make_val(static_cast<void*>(vp));
      } else {
        try {
          make_val(static_cast<void*>(vp));
        } catch (...) {
          std::destroy_at(insertb->key(inserti));
          throw;
        }
      }
      insertb->tophash[inserti] = top;
      count++;
      guard.h = nullptr;
      end_write();
      return {vp, true};
    }
  }

  // Go: hashGrow.
  void hash_grow() {
    uint8_t bigger = 1;
    uint8_t f = load_flags();
    if (!mapdef::over_load_factor(count + 1, B)) {
      bigger = 0;
      f |= mapdef::f_same_size_grow;
    }
    bucket* old = buckets;
    bucket* nb = make_bucket_array(uint8_t(B + bigger));
    // Ranges over the current array now range over the old one.
    uint8_t nf = f & uint8_t(~(mapdef::f_iterator | mapdef::f_old_iterator));
    if (f & mapdef::f_iterator) nf |= mapdef::f_old_iterator;
    B += bigger;
    store_flags(nf);
    oldbuckets = old;
    buckets = nb;
    nevacuate = 0;
    noverflow = 0;
  }

  // Go: growWork — the old bucket feeding `bucket`, and one more to make progress.
  void grow_work(uint64_t bi) {
    evacuate(bi & oldbucketmask());
    if (growing()) evacuate(nevacuate);
  }

  struct evac_dst {
    bucket* b;
    unsigned i;
  };

  // Go: evacuate — moves one old bucket (and its overflow chain) into the new array,
  // splitting entries between X (same index) and Y (index + newbit) when doubling. The old
  // slot keeps its key, for ranges that still walk the old array (a copy while a range may
  // be reading it, else the moved-from object); it is destroyed with the array.
  void evacuate(uint64_t oldbucket) {
    bucket* b = oldbuckets + oldbucket;
    uint64_t newbit = noldbuckets();
    if (!b->evacuated()) {
      evac_dst xy[2];
      xy[0] = {buckets + oldbucket, 0};
      bool same = same_size_grow();
      if (!same) xy[1] = {buckets + oldbucket + newbit, 0};
      uint8_t f = load_flags();
      bool keep_keys = (f & mapdef::f_old_iterator) != 0;
      for (; b != nullptr; b = b->overflow) {
        for (unsigned i = 0; i < mapdef::bucket_cnt; i++) {
          uint8_t top = b->tophash[i];
          if (mapdef::is_empty(top)) {
            b->tophash[i] = mapdef::evacuated_empty;
            continue;
          }
          K* k = b->key(i);
          unsigned use_y = 0;
          if (!same) {
            uint64_t hash = hasher(*k, hash0);
            if (!reflexive && (f & mapdef::f_iterator) && !eq(*k, *k)) {
              // A NaN-like key: its hash is random, so ranges could not agree on where it
              // went; the low bit of the old tophash decides, and it gets a new tophash.
              use_y = top & 1;
              top = mapdef::tophash(hash);
            } else if (hash & newbit) {
              use_y = 1;
            }
          }
          b->tophash[i] = uint8_t(mapdef::evacuated_x + use_y);
          evac_dst& d = xy[use_y];
          if (d.i == mapdef::bucket_cnt) {
            d.b = new_overflow(d.b);
            d.i = 0;
          }
          d.b->tophash[d.i] = top;
          if constexpr (std::is_trivially_copyable_v<K>) {
            std::memcpy(static_cast<void*>(d.b->key(d.i)), static_cast<const void*>(k), sizeof(K));
          } else if constexpr (std::is_copy_constructible_v<K>) {
            if (keep_keys) {
              ::new (static_cast<void*>(d.b->key(d.i))) K(*k);
            } else {
              ::new (static_cast<void*>(d.b->key(d.i))) K(std::move(*k));
            }
          } else {
            ::new (static_cast<void*>(d.b->key(d.i))) K(std::move(*k));
          }
          V* v = b->val(i);
          if constexpr (std::is_trivially_copyable_v<V>) {
            std::memcpy(static_cast<void*>(d.b->val(d.i)), static_cast<const void*>(v), sizeof(V));
          } else {
            ::new (static_cast<void*>(d.b->val(d.i))) V(std::move(*v));
            std::destroy_at(v);
          }
          d.i++;
        }
      }
    }
    if (oldbucket == nevacuate) advance_evacuation_mark(newbit);
  }

  // Go: advanceEvacuationMark — when every old bucket is done, the old array goes.
  void advance_evacuation_mark(uint64_t newbit) {
    nevacuate++;
    uint64_t stop = nevacuate + 1024;
    if (stop > newbit) stop = newbit;
    while (nevacuate != stop && oldbuckets[nevacuate].evacuated()) nevacuate++;
    if (nevacuate == newbit) {
      bucket* old = oldbuckets;
      oldbuckets = nullptr;
      store_flags(load_flags() & uint8_t(~mapdef::f_same_size_grow));
      release_array(old);  // its entries all moved; the keys left in it go with it
    }
  }

  // Go: mapdelete. Inlined into the caller: the call's register saves and restores cost a
  // delete more than its share of code size (growth work stays out of line).
  template <class KK>
  [[gnu::always_inline]] inline void remove(const KK& key) {
    if (count == 0) return;
    begin_write();
    map_probe_for<K, KK, Hash, Eq> probe(key, hasher, eq);
    uint64_t hash = probe.hash(hash0);
    store_flags(load_flags() ^ mapdef::f_hash_writing);
    {
      write_guard guard{this};
      uint64_t bi = hash & ((uint64_t(1) << B) - 1);
      prefetch_bucket<delete_span>(buckets + bi, true);
      // Deleting a bucket's last slot reads the overflow pointer (the emptyRest check).
      if constexpr (delete_span < bsize) __builtin_prefetch(&buckets[bi].overflow, 0);
      if (growing()) grow_work(bi);  // may allocate
      guard.h = nullptr;
    }
    bucket* b = buckets + (hash & ((uint64_t(1) << B) - 1));
    bucket* borig = b;
    const auto needle = mapdef::tophash_group::needle(mapdef::tophash(hash));
    for (; b != nullptr; b = b->overflow) {
      mapdef::tophash_group g(b->tophash);
      for (unsigned mm = g.match(needle); mm != 0; mm &= mm - 1) {
        unsigned i = unsigned(mapdef::first_slot(mm));
        if (!probe.matches(*b->key(i))) continue;
        if constexpr (!trivial_k) std::destroy_at(b->key(i));
        if constexpr (!trivial_v) std::destroy_at(b->val(i));
        b->tophash[i] = mapdef::empty_one;
        // If the bucket now ends in empty slots, turn that run into emptyRest (walking
        // back, across overflow buckets), so that later scans stop early.
        if (i == mapdef::bucket_cnt - 1) {
          if (b->overflow != nullptr && b->overflow->tophash[0] != mapdef::empty_rest) goto notlast;
        } else if (b->tophash[i + 1] != mapdef::empty_rest) {
          goto notlast;
        }
        for (;;) {
          b->tophash[i] = mapdef::empty_rest;
          if (i == 0) {
            if (b == borig) break;
            bucket* c = b;
            for (b = borig; b->overflow != c; b = b->overflow) {
            }
            i = mapdef::bucket_cnt - 1;
          } else {
            i--;
          }
          if (b->tophash[i] != mapdef::empty_one) break;
        }
      notlast:
        count--;
        // A fresh seed once the map is empty, so that an attacker cannot keep colliding.
        if (count == 0) hash0 = rand64();
        goto done;
      }
      if (g.any_empty_rest()) break;  // emptyRest: the key is not here
    }
  done:
    end_write();
  }

  // clear(m): every entry goes (NaN keys too); the bucket array is kept when no range holds
  // it, else the map moves to a fresh one of the same size.
  void clear_all() {
    if (count == 0 && oldbuckets == nullptr) return;
    begin_write();
    store_flags(uint8_t((load_flags() ^ mapdef::f_hash_writing) & ~mapdef::f_same_size_grow));
    if (oldbuckets != nullptr) {
      // Entries still in old buckets are destroyed there; evacuated ones are in buckets.
      destroy_entries(oldbuckets);
      release_array(oldbuckets);
      oldbuckets = nullptr;
    }
    nevacuate = 0;
    noverflow = 0;
    count = 0;
    hash0 = rand64();
    if (buckets != nullptr) {
      barray_hdr* h = hdr(buckets);
      if (h->refs.load(std::memory_order_acquire) == 1) {
        destroy_entries(buckets);
        free_overflows(buckets);
        std::memset(static_cast<void*>(buckets), 0, h->nalloc * bsize);
        if (h->nalloc != h->nbase) {
          next_overflow = buckets + h->nbase;
          overflow_end = buckets + h->nalloc;
        } else {
          next_overflow = overflow_end = nullptr;
        }
      } else {
        destroy_entries(buckets);  // a range still walking it sees nothing more
        release_array(buckets);
        buckets = nullptr;
        buckets = make_bucket_array(B);
      }
    }
    end_write();
  }

  void retain() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

// Tests reach the table through this (defined by them only).
struct map_test_access;

// Go: hiter, mapiterinit, mapiternext.
template <class K, class V, class Hash, class Eq>
class hiter {
 public:
  using hm = hmap<K, V, Hash, Eq>;
  using bucket = typename hm::bucket;
  static constexpr uint64_t no_check = ~uint64_t(0);

  hiter() = default;
  explicit hiter(hm* h) {
    if (h == nullptr || h->count == 0) return;
    h_ = h;
    B_ = h->B;
    buckets_ = h->buckets;
    hm::acquire_array(buckets_);
    if (h->oldbuckets != nullptr) {
      old_ = h->oldbuckets;
      hm::acquire_array(old_);
    }
    uint64_t r = containers_rand();
    if (B_ > 31 - 3) r += uint64_t(containers_rand()) << 31;
    start_bucket_ = r & ((uint64_t(1) << B_) - 1);
    offset_ = uint8_t((r >> B_) & (mapdef::bucket_cnt - 1));
    bucket_ = start_bucket_;
    uint8_t f = h->load_flags();
    if ((f & (mapdef::f_iterator | mapdef::f_old_iterator)) != (mapdef::f_iterator | mapdef::f_old_iterator)) {
      h->flags.fetch_or(mapdef::f_iterator | mapdef::f_old_iterator, std::memory_order_relaxed);
    }
    next();
  }
  hiter(hiter&& o) noexcept { swap(o); }
  hiter& operator=(hiter&& o) noexcept {
    hiter tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~hiter() {
    if (buckets_ != nullptr) hm::release_array(buckets_);
    if (old_ != nullptr) hm::release_array(old_);
  }

  bool done() const noexcept { return key_ == nullptr; }
  K* key() const noexcept { return key_; }
  V* val() const noexcept { return val_; }

  void next() {
    hm* h = h_;
    if (h->load_flags() & mapdef::f_hash_writing) map_fatal("concurrent map iteration and map write");
    bucket* b = bptr_;
    uint64_t bi = bucket_;
    unsigned i = i_;
    uint64_t check = check_bucket_;
    for (;;) {
      if (b == nullptr) {
        if (bi == start_bucket_ && wrapped_) {
          key_ = nullptr;
          val_ = nullptr;
          return;
        }
        if (h->growing() && B_ == h->B) {
          // Started during this growth, which is not finished: while the old bucket is
          // not evacuated, walk it, keeping only entries bound for bucket bi.
          // A growth that began after this range did has an old array the range does
          // not hold yet: hold it, so that the growth finishing while we stand in one of
          // its buckets cannot free it under us. The array held before is let go: we
          // are between buckets, so nothing of ours points into it.
          if (h->oldbuckets != old_) {
            hm::acquire_array(h->oldbuckets);
            if (old_ != nullptr) hm::release_array(old_);
            old_ = h->oldbuckets;
          }
          bucket* ob = old_ + (bi & h->oldbucketmask());
          if (!ob->evacuated()) {
            b = ob;
            check = bi;
          } else {
            b = buckets_ + bi;
            check = no_check;
          }
        } else {
          b = buckets_ + bi;
          check = no_check;
        }
        bi++;
        if (bi == (uint64_t(1) << B_)) {
          bi = 0;
          wrapped_ = true;
        }
        i = 0;
      }
      for (; i < mapdef::bucket_cnt; i++) {
        unsigned off = (i + offset_) & (mapdef::bucket_cnt - 1);
        uint8_t t = b->tophash[off];
        if (mapdef::is_empty(t) || t == mapdef::evacuated_empty) continue;
        K* k = b->key(off);
        if (check != no_check && !h->same_size_grow()) {
          if (hm::reflexive || h->eq(*k, *k)) {
            uint64_t hash = h->hasher(*k, h->hash0);
            if ((hash & ((uint64_t(1) << B_) - 1)) != check) continue;
          } else {
            // NaN-like: evacuation sends it by the low bit of its tophash.
            if ((check >> (B_ - 1)) != uint64_t(t & 1)) continue;
          }
        }
        if ((t != mapdef::evacuated_x && t != mapdef::evacuated_y) || !(hm::reflexive || h->eq(*k, *k))) {
          key_ = k;
          val_ = b->val(off);
        } else {
          // The map grew since this range began: the entry lives elsewhere now (or was
          // deleted).
          auto [rk, rv] = h->access(*k);
          if (rk == nullptr) continue;
          key_ = rk;
          val_ = rv;
        }
        bucket_ = bi;
        bptr_ = b;
        i_ = i + 1;
        check_bucket_ = check;
        return;
      }
      b = b->overflow;
      i = 0;
    }
  }

 private:
  void swap(hiter& o) noexcept {
    std::swap(h_, o.h_);
    std::swap(key_, o.key_);
    std::swap(val_, o.val_);
    std::swap(buckets_, o.buckets_);
    std::swap(old_, o.old_);
    std::swap(bptr_, o.bptr_);
    std::swap(start_bucket_, o.start_bucket_);
    std::swap(bucket_, o.bucket_);
    std::swap(check_bucket_, o.check_bucket_);
    std::swap(B_, o.B_);
    std::swap(offset_, o.offset_);
    std::swap(wrapped_, o.wrapped_);
    std::swap(i_, o.i_);
  }

  hm* h_ = nullptr;
  K* key_ = nullptr;
  V* val_ = nullptr;
  bucket* buckets_ = nullptr;  // the array the range walks (a reference held)
  bucket* old_ = nullptr;      // the old array when the range began during growth (held)
  bucket* bptr_ = nullptr;     // the current bucket
  uint64_t start_bucket_ = 0;
  uint64_t bucket_ = 0;  // the next bucket to walk
  uint64_t check_bucket_ = no_check;
  uint8_t B_ = 0;
  uint8_t offset_ = 0;  // the random slot offset
  bool wrapped_ = false;
  unsigned i_ = 0;
};

}  // namespace rt

template <class K, class V, class Hash = gort::hash<K>, class Eq = std::equal_to<K>>
class map;

template <class K, class V, class Hash = gort::hash<K>, class Eq = std::equal_to<K>>
map<K, V, Hash, Eq> make_map(int64_t hint = 0);

template <class K, class V, class Hash, class Eq>
class map {
  using hm = rt::hmap<K, V, Hash, Eq>;

 public:
  using key_type = K;
  using mapped_type = V;

  // The nil map.
  map() noexcept = default;
  map(std::nullptr_t) noexcept {}
  map(const map& o) noexcept : h_(o.h_) {
    if (h_ != nullptr) h_->retain();
  }
  map(map&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  map& operator=(const map& o) noexcept {
    map tmp(o);
    std::swap(h_, tmp.h_);
    return *this;
  }
  map& operator=(map&& o) noexcept {
    map tmp(std::move(o));
    std::swap(h_, tmp.h_);
    return *this;
  }
  ~map() {
    if (h_ != nullptr) h_->release();
  }

  // len(m)
  size_t len() const noexcept { return h_ == nullptr ? 0 : size_t(h_->count); }
  size_t size() const noexcept { return len(); }
  bool empty() const noexcept { return len() == 0; }
  bool is_nil() const noexcept { return h_ == nullptr; }

  // v := m[k] — a copy of the value, or V{} when absent.
  V get(const K& k) const {
    V* v = find(k);
    return v != nullptr ? *v : V{};
  }
  // v, ok := m[k]
  std::pair<V, bool> get_ok(const K& k) const {
    V* v = find(k);
    if (v != nullptr) return {*v, true};
    return {V{}, false};
  }
  // The value's slot, or nullptr (valid until the next write).
  V* find(const K& k) const {
    if (h_ == nullptr) return nullptr;
    return h_->access(k).second;
  }
  bool contains(const K& k) const { return find(k) != nullptr; }

  // m[k] as an lvalue: the value's slot, with V{} inserted when absent.
  V& operator[](const K& k) const { return *assign_slot(k); }
  V& operator[](K&& k) const { return *assign_slot(std::move(k)); }

  // m[k] = v
  template <class KK, class VV>
  void set(KK&& k, VV&& v) const {
    check_nil();
    auto [slot, inserted] =
        h_->assign(std::forward<KK>(k), [&](void* p) { ::new (p) V(std::forward<VV>(v)); });
    if (!inserted) *slot = std::forward<VV>(v);
  }

  // delete(m, k)
  void erase(const K& k) const {
    if (h_ != nullptr) h_->remove(k);
  }
  // clear(m)
  void clear() const {
    if (h_ != nullptr) h_->clear_all();
  }

  // Two handles are equal when they share a table (Go compares maps only with nil).
  friend bool operator==(const map& a, std::nullptr_t) noexcept { return a.h_ == nullptr; }

  // for k, v := range m
  class iterator {
   public:
    using value_type = std::pair<const K&, V&>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(hm* h) : it_(h) {}
    std::pair<const K&, V&> operator*() const { return {*it_.key(), *it_.val()}; }
    iterator& operator++() {
      it_.next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, std::default_sentinel_t) noexcept { return a.it_.done(); }

   private:
    rt::hiter<K, V, Hash, Eq> it_;
  };
  iterator begin() const { return iterator(h_); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend map make_map<K, V, Hash, Eq>(int64_t);
  friend struct rt::map_test_access;
  explicit map(hm* h) noexcept : h_(h) {}

  void check_nil() const {
    if (h_ == nullptr) throw runtime_error("assignment to entry in nil map");
  }
  template <class KK>
  V* assign_slot(KK&& k) const {
    check_nil();
    return h_->assign(std::forward<KK>(k), [](void* p) { ::new (p) V(); }).first;
  }

  hm* h_ = nullptr;
};

// make(map[K]V, hint): room for `hint` entries without growing.
template <class K, class V, class Hash, class Eq>
map<K, V, Hash, Eq> make_map(int64_t hint) {
  return map<K, V, Hash, Eq>(new rt::hmap<K, V, Hash, Eq>(hint));
}

}  // namespace gort
