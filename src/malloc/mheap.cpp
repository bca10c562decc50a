// mheap: arenas, the arena index, the page allocator, span structs, and the scavenger
// (Go: mheap.go, mpagealloc.go, mgcscavenge.go, malloc.go's arena setup).
//
// Invariants:
//  * Arenas are 64 MiB, 64 MiB aligned, reserved and mapped read-write at once (the kernel
//    commits pages on first touch); the first hint is 0xc000000000 as in Go. arena_index
//    (one flat level, 2^22 entries, like Go's L1=1/L2=4M on linux/amd64) maps addr>>26 to
//    its heap_arena in O(1); spans[] in the arena maps a page to its in-use span.
//  * Page allocator: per arena one bit per page (1 = in a span) and one "scavenged" bit
//    (page released to the OS; fresh arena pages count as scavenged, as in Go). Each 512-page
//    chunk has Go's summary (free pages at start, longest free run, free pages at end).
//    Allocation is address-ordered first fit: a pass over the chunk summaries of the
//    arenas in address order, carrying a free run across chunk and (contiguous) arena
//    borders, and a bit scan only inside the one chunk whose summary says the run fits.
//    That is Go's design with the radix tree cut to its leaf level: a search costs one
//    summary read per 4 MiB of heap, which for heaps up to tens of GiB is as cheap as Go's
//    5-level descent; the heap lock is taken once per span (>= 8 KiB), never per object.
//  * pages_free_resident counts free pages not released (alloc and scav bits clear). Once
//    allocations have taken 2 MiB of released pages (the resident set grew), as many free
//    resident pages go back, highest first, beyond a slack (Go's heap-growth scavenging).
//  * A large span may grow in place into the free pages right after it (realloc), the heap
//    growing at its top for it when the span ends there (heap_extend_span).
//  * Before the page allocator sits the span stash (malloc.hpp): freed spans of up to 16
//    pages, whole and dead (still mapped in spans[], so a free into one is a double free),
//    reused newest first by page count, out of the in-use totals, aged out by the scavenger.
//  * Everything here runs under heap.lock, except arena_index/spans[] reads (atomics), the
//    lock-free reads in span_of, and the system calls that release pages to the OS (their
//    pages are marked in use meanwhile: release_batch).
//  * Lock order: an mcentral lock may be held while taking the heap lock (never the reverse).
#include <sys/mman.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <new>

#include "malloc/malloc.hpp"
#include "os/vm.hpp"

#if defined(GORT_ASAN)
#include <sanitizer/lsan_interface.h>
#endif

namespace gort::malloc {

namespace {

void* sys_map(void* hint, std::size_t bytes) {
  void* p = mmap(hint, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

// A fixed-size object pool on mmap'd slabs (Go: fixalloc). Callers hold heap.lock.
struct fixalloc {
  std::size_t size;
  void* free_list;
  char* chunk;
  std::size_t left;
  std::size_t inuse;
  std::size_t sys;

  void* alloc() {
    if (free_list != nullptr) {
      void* p = free_list;
      std::memcpy(&free_list, p, sizeof(void*));
      inuse += size;
      return p;
    }
    if (left < size) {
      constexpr std::size_t slab = 256 << 10;
      void* m = sys_map(nullptr, slab);
      if (m == nullptr) return nullptr;
      chunk = static_cast<char*>(m);
      left = slab;
      sys += slab;
    }
    void* p = chunk;
    chunk += size;
    left -= size;
    inuse += size;
    return p;
  }
  void free(void* p) {
    std::memcpy(p, &free_list, sizeof(void*));
    free_list = p;
    inuse -= size;
  }
};

constexpr std::size_t max_arenas = 1 << 16;  // 4 TiB of heap

// One page count's share of the span stash (malloc.hpp): a ring, oldest entry at head.
struct span_stash_ring {
  mspan* s[span_stash_ways];
  std::uint32_t stamp[span_stash_ways];  // scavenger tick when stashed
  std::uint32_t head, n;
};

struct mheap {
  os::light_rt_mutex lock;
  std::atomic<bool> inited;
  std::atomic<bool> want_scavenger;
  heap_arena* sorted[max_arenas];          // arenas in address order
  std::size_t narenas;
  std::uintptr_t next_hint;
  fixalloc spanalloc, cachealloc, refsalloc;
  std::size_t pages_inuse;
  std::size_t pages_released;  // free and scavenged
  std::size_t pages_free_resident;  // free and not scavenged (resident, or never touched)
  std::size_t growth_pages;    // released pages allocations took since the last growth release
  std::size_t meta_sys;        // heap_arena structs, index
  std::size_t search_chunk;    // Go: searchAddr; chunks (in address order) before it are full
  std::atomic<std::size_t> nspans_small, nspans_large;  // also changed by page caches
  mcache* caches;              // live mcaches
  span_stash_ring stash[span_cache_max_pages + 1];  // by page count; dead, whole, idle
  std::size_t stash_pages;
  retired_stats retired;
  pthread_t scav_thread;
};

constinit mheap heap{};

}  // namespace

// Go: mheap.arenas (L1 = 1, L2 = 4M). BSS: the kernel backs only the pages touched.
// A plain array (zero in BSS, no constructor to run; Clang will not constant-evaluate 4M
// atomics) read and written with __atomic builtins.
heap_arena* arena_index[arena_l2_entries];
mspan* flat_spans[flat_pages];

// Calls f(used, pos, len) for each run of equal bits of x (a page-bitmap word, not all
// ones), lowest page first, until f returns true; returns whether it did. A fragmented word
// costs a few steps per run, not one per page.
template <class F>
inline bool walk_runs(std::uint64_t x, F&& f) {
  int pos = 0;
  while (pos < 64) {
    std::uint64_t rest = x >> pos;  // bit 0 = page pos; bits past 63 read as free
    bool used = rest & 1;
    // ~rest != 0 for a used run: x is not all ones, or pos > 0 brought in zeros.
    int len = used ? __builtin_ctzll(~rest) : rest == 0 ? 64 - pos : __builtin_ctzll(rest);
    if (f(used, pos, len)) return true;
    pos += len;
  }
  return false;
}

std::size_t first_free_run(const std::uint64_t* bits, std::size_t nwords, std::size_t n) {
  std::size_t run = 0, run_start = 0;
  for (std::size_t i = 0; i < nwords; i++) {
    if (bits[i] == ~std::uint64_t{0}) {
      run = 0;
      continue;
    }
    bool found = walk_runs(bits[i], [&](bool used, int pos, int len) {
      if (used) {
        run = 0;
        return false;
      }
      if (run == 0) run_start = i * 64 + std::size_t(pos);
      run += std::size_t(len);
      return run >= n;
    });
    if (found) return run_start;
  }
  return ~std::size_t{0};
}

namespace {

alignas(64) constinit mcentral centrals[num_span_classes]{};

// ---- bitmap helpers (pages of one arena) ----

void set_bits(std::uint64_t* b, std::size_t i, std::size_t n, bool v) {
  while (n > 0) {
    std::size_t off = i % 64;
    std::size_t k = 64 - off < n ? 64 - off : n;
    std::uint64_t m = (k == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << k) - 1)) << off;
    if (v) b[i / 64] |= m; else b[i / 64] &= ~m;
    i += k;
    n -= k;
  }
}

std::size_t count_bits(const std::uint64_t* b, std::size_t i, std::size_t n) {
  std::size_t c = 0;
  while (n > 0) {
    std::size_t off = i % 64;
    std::size_t k = 64 - off < n ? 64 - off : n;
    std::uint64_t m = (k == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << k) - 1)) << off;
    c += std::size_t(__builtin_popcountll(b[i / 64] & m));
    i += k;
    n -= k;
  }
  return c;
}

// Recomputes Go's (start, max, end) summary of one 512-page chunk.
void summarize(heap_arena* a, std::size_t chunk) {
  const std::uint64_t* w = a->alloc + chunk * (chunk_pages / 64);
  std::uint16_t start = 0, max = 0, run = 0;
  bool in_start = true;
  for (std::size_t i = 0; i < chunk_pages / 64; i++) {
    std::uint64_t x = w[i];
    if (x == 0) {
      run = std::uint16_t(run + 64);
      if (in_start) start = std::uint16_t(start + 64);
      continue;
    }
    if (x == ~std::uint64_t{0}) {
      if (run > max) max = run;
      run = 0;
      in_start = false;
      continue;
    }
    walk_runs(x, [&](bool used, int, int len) {
      if (used) {
        if (run > max) max = run;
        run = 0;
        in_start = false;
      } else {
        run = std::uint16_t(run + len);
        if (in_start) start = std::uint16_t(start + len);
      }
      return false;
    });
  }
  if (run > max) max = run;
  a->sum[chunk] = {start, max, run};
}

// First free run of n pages inside a chunk (the summary says one exists); page index.
std::size_t find_in_chunk(const heap_arena* a, std::size_t chunk, std::size_t n) {
  std::size_t base = chunk * chunk_pages;
  std::size_t i = first_free_run(a->alloc + base / 64, chunk_pages / 64, n);
  return i == ~std::size_t{0} ? i : base + i;
}

// Marks n pages starting at page `first` of arena sorted[ai] (may continue into the next,
// contiguous arenas) as used or free, keeping summaries and counters.
void mark_pages(std::size_t ai, std::size_t first, std::size_t n, bool used, bool* was_scav_all) {
  if (was_scav_all) *was_scav_all = true;
  while (n > 0) {
    heap_arena* a = heap.sorted[ai];
    std::size_t k = pages_per_arena - first < n ? pages_per_arena - first : n;
    if (used) {
      std::size_t sc = count_bits(a->scav, first, k);
      if (sc != k && was_scav_all) *was_scav_all = false;
      heap.pages_released -= sc;
      heap.pages_free_resident -= k - sc;
      set_bits(a->scav, first, k, false);
    } else {
      heap.pages_free_resident += k;
    }
    set_bits(a->alloc, first, k, used);
    if (!used && ai * chunks_per_arena + first / chunk_pages < heap.search_chunk)
      heap.search_chunk = ai * chunks_per_arena + first / chunk_pages;
    for (std::size_t c = first / chunk_pages; c <= (first + k - 1) / chunk_pages; c++) summarize(a, c);
    if (!used) set_bits(a->fresh, first, k, true);
    n -= k;
    first = 0;
    ai++;
  }
}

// Address-ordered first fit over all arenas. Returns false if no run of n pages is free.
bool find_pages(std::size_t n, std::size_t* out_ai, std::size_t* out_page) {
  std::size_t run = 0, run_ai = 0, run_page = 0;
  bool all_full = true;  // every chunk so far has no free page: move the hint past them
  for (std::size_t ai = heap.search_chunk / chunks_per_arena; ai < heap.narenas; ai++) {
    heap_arena* a = heap.sorted[ai];
    if (ai > 0 && heap.sorted[ai - 1]->base + arena_bytes != a->base) run = 0;
    std::size_t c0 = ai == heap.search_chunk / chunks_per_arena ? heap.search_chunk % chunks_per_arena : 0;
    for (std::size_t c = c0; c < chunks_per_arena; c++) {
      const auto& s = a->sum[c];
      if (all_full) {
        if (s.max == 0) {
          heap.search_chunk = ai * chunks_per_arena + c + 1;
          continue;
        }
        all_full = false;
      }
      if (run > 0 && run + s.start >= n) {
        *out_ai = run_ai;
        *out_page = run_page;
        return true;
      }
      if (s.max == chunk_pages) {
        if (run == 0) {
          run_ai = ai;
          run_page = c * chunk_pages;
        }
        run += chunk_pages;
        continue;
      }
      if (s.max >= n) {
        *out_ai = ai;
        *out_page = find_in_chunk(a, c, n);
        return true;
      }
      run = s.end;
      run_ai = ai;
      run_page = (c + 1) * chunk_pages - s.end;
    }
  }
  return false;
}

// Go: mheap.grow / sysAlloc. Maps enough 64 MiB arenas for n pages. Heap lock held.
bool grow(std::size_t npages) {
  if (npages > (std::size_t{1} << (heap_addr_bits - page_shift))) return false;
  std::size_t bytes = (npages * page_size + arena_bytes - 1) & ~(arena_bytes - 1);
  std::size_t narena = bytes / arena_bytes;
  if (heap.narenas + narena > max_arenas) return false;
  char* base = nullptr;
  // The hint first (Go's 0xc000000000 onwards), then anywhere, aligned by trimming.
  for (int attempt = 0; attempt < 2 && base == nullptr; attempt++) {
    void* hint = attempt == 0 ? reinterpret_cast<void*>(heap.next_hint) : nullptr;
    std::size_t want = attempt == 0 ? bytes : bytes + arena_bytes;
    void* p = sys_map(hint, want);
    if (p == nullptr) continue;
    std::uintptr_t u = reinterpret_cast<std::uintptr_t>(p);
    std::uintptr_t aligned = (u + arena_bytes - 1) & ~(arena_bytes - 1);
    if ((attempt == 0 && aligned != u) || aligned + bytes > (std::uintptr_t{1} << heap_addr_bits)) {
      munmap(p, want);
      continue;
    }
    if (aligned != u) munmap(p, aligned - u);
    std::uintptr_t end = u + want;
    if (end != aligned + bytes)
      munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
    base = reinterpret_cast<char*>(aligned);
  }
  if (base == nullptr) return false;
  heap.next_hint = reinterpret_cast<std::uintptr_t>(base) + bytes;
  for (std::size_t i = 0; i < narena; i++) {
    void* m = sys_map(nullptr, sizeof(heap_arena));  // zero-filled
    if (m == nullptr) {
      munmap(base + i * arena_bytes, (narena - i) * arena_bytes);
      return false;
    }
    heap.meta_sys += (sizeof(heap_arena) + page_size - 1) & ~(page_size - 1);
    auto* a = static_cast<heap_arena*>(m);
    a->base = reinterpret_cast<std::uintptr_t>(base) + i * arena_bytes;
#if defined(GORT_ASAN)
    // LeakSanitizer does not know this memory: without this, malloc'd memory reachable
    // only through gort objects (a std::string in a map bucket) would be reported leaked.
    __lsan_register_root_region(reinterpret_cast<void*>(a->base), arena_bytes);
#endif
    std::memset(a->scav, 0xff, sizeof(a->scav));
    for (auto& s : a->sum) {
      s = {std::uint16_t(chunk_pages), std::uint16_t(chunk_pages), std::uint16_t(chunk_pages)};
    }
    heap.pages_released += pages_per_arena;
    std::size_t at = heap.narenas;  // keep address order (an append almost always)
    while (at > 0 && heap.sorted[at - 1]->base > a->base) {
      heap.sorted[at] = heap.sorted[at - 1];
      at--;
    }
    heap.sorted[at] = a;
    heap.narenas++;
    if (at * chunks_per_arena < heap.search_chunk) heap.search_chunk = at * chunks_per_arena;
    __atomic_store_n(&arena_index[a->base >> arena_shift], a, __ATOMIC_RELEASE);
  }
  GORT_POISON(base, bytes);
  if (heap.narenas > 1) heap.want_scavenger.store(true, std::memory_order_relaxed);
  return true;
}

// Sets spans[] for the pages [lo, hi) to v.
void map_pages(std::uintptr_t lo, std::uintptr_t hi, mspan* v) {
  for (std::uintptr_t a = lo; a < hi; a += page_size) {
    heap_arena* ar = __atomic_load_n(&arena_index[a >> arena_shift], __ATOMIC_RELAXED);
    ar->spans[(a >> page_shift) % pages_per_arena].store(v, std::memory_order_release);
    if (a - flat_base < flat_pages * page_size)
      __atomic_store_n(&flat_spans[(a - flat_base) >> page_shift], v, __ATOMIC_RELEASE);
  }
}

// Sets spans[] for every page of s (or clears them).
void map_span(mspan* s, mspan* v) { map_pages(s->start, s->limit(), v); }

std::size_t arena_pos(std::uintptr_t addr) {
  heap_arena* a = __atomic_load_n(&arena_index[addr >> arena_shift], __ATOMIC_RELAXED);
  std::size_t lo = 0, hi = heap.narenas;
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    if (heap.sorted[mid]->base < a->base) lo = mid + 1; else hi = mid;
  }
  return lo;
}

void free_pages_locked(std::uintptr_t addr, std::size_t n) {
  if (n == 0) return;
  std::size_t ai = arena_pos(addr);
  mark_pages(ai, (addr - heap.sorted[ai]->base) >> page_shift, n, false, nullptr);
}

// Page ranges on their way back to the OS (MADV_DONTNEED). Adjacent ranges merge, added in
// either address order, and up to `capacity` go out per system call (process_madvise):
// each call is one TLB shootdown, which on this project's VM costs about 75 us. The call is
// made with heap.lock released, as Go's scavenger does (it allocates the pages, unlocks,
// releases them, and frees them as scavenged): the heap's pages wait marked in use (alloc
// bits set, in no span), so that nothing allocates them meanwhile. On the releasing
// thread's stack (2 KiB), so releasers do not share it.
struct release_batch {
  static constexpr std::size_t capacity = 128;
  iovec ranges[capacity];
  std::size_t n = 0;
  std::uintptr_t lo = 0, hi = 0;  // the run being built

  void add(std::uintptr_t a, std::uintptr_t b) {
    if (hi > lo && a == hi) {
      hi = b;
    } else if (hi > lo && b == lo) {
      lo = a;
    } else {
      end_run();
      lo = a;
      hi = b;
    }
  }
  // One bitmap word adds at most 32 runs (and the run being built one more range).
  bool has_room_for_a_word() const { return n + 33 <= capacity; }

  // Sends every range (madvise) with heap.lock released; heap.lock held on entry and exit.
  // The ranges stay listed for the caller.
  void send_unlocked() {
    end_run();
    if (n == 0) return;
    heap.lock.unlock();
    if (auto hook = before_release_syscall.load(std::memory_order_acquire)) hook();
    if (!os::madvise_ranges(ranges, n, MADV_DONTNEED))
      for (std::size_t i = 0; i < n; i++) madvise(ranges[i].iov_base, ranges[i].iov_len, MADV_DONTNEED);
    heap.lock.lock();
  }

 private:
  void end_run() {
    if (hi > lo) ranges[n++] = {reinterpret_cast<void*>(lo), hi - lo};
    lo = hi = 0;
  }
};

// Takes the free, resident pages `pages` (a mask) of bitmap word w of arena a out of the
// page allocator for release (batch.add), as Go's scavenger allocates what it releases.
// heap.lock held.
void take_for_release_locked(heap_arena* a, std::size_t w, std::uint64_t pages, release_batch& batch) {
  a->alloc[w] |= pages;
  summarize(a, w / (chunk_pages / 64));
  heap.pages_free_resident -= std::size_t(__builtin_popcountll(pages));
  while (pages != 0) {
    int b = __builtin_ctzll(pages);
    std::uint64_t rest = pages >> b;
    int len = ~rest == 0 ? 64 - b : __builtin_ctzll(~rest);
    std::uintptr_t lo = a->base + (w * 64 + std::size_t(b)) * page_size;
    batch.add(lo, lo + std::size_t(len) * page_size);
    pages = len == 64 ? 0 : pages & ~(((std::uint64_t{1} << len) - 1) << b);
  }
}

// Releases the heap pages the batch took (take_for_release_locked) and gives them back to
// the page allocator, free and released. heap.lock held (released for the system call).
void release_heap_pages(release_batch& batch) {
  batch.send_unlocked();
  for (std::size_t i = 0; i < batch.n; i++) {
    auto addr = reinterpret_cast<std::uintptr_t>(batch.ranges[i].iov_base);
    std::size_t n = batch.ranges[i].iov_len >> page_shift;
    heap.pages_released += n;
    for (std::size_t ai = arena_pos(addr), first = (addr - heap.sorted[ai]->base) >> page_shift; n > 0;
         ai++, first = 0) {
      heap_arena* a = heap.sorted[ai];  // a range may run on into the next, contiguous arena
      std::size_t k = std::min(pages_per_arena - first, n);
      set_bits(a->alloc, first, k, false);
      set_bits(a->scav, first, k, true);
      for (std::size_t c = first / chunk_pages; c <= (first + k - 1) / chunk_pages; c++) summarize(a, c);
      heap.search_chunk = std::min(heap.search_chunk, ai * chunks_per_arena + first / chunk_pages);
      n -= k;
    }
  }
  batch.n = 0;
}

// Go: the heap-growth scavenging of mheap.allocSpan. An allocation that takes released
// pages (never touched, or given back) grows the resident set, while free resident pages
// may sit elsewhere: a 17 MiB buffer that just misses the hole a freed 50 MiB one left
// would otherwise hold both until the scavenger's next ticks. Once such allocations have
// taken growth_release_batch pages, as many free resident pages go back, highest
// addresses first (the page allocator takes the lowest first, so these are the last it
// would reuse), beyond a slack of a sixteenth of the heap in use (1 MiB at least) kept
// for reuse. Called by the allocating thread once it has let go of heap.lock.
constexpr std::size_t growth_release_batch = 256;  // pages: 2 MiB
constexpr std::size_t growth_slack_min = 128;      // pages: 1 MiB

void release_after_growth() {
  os::rt_lock_guard g(heap.lock);
  std::size_t slack = std::max(growth_slack_min, heap.pages_inuse / 16);
  std::size_t want = heap.pages_free_resident > slack ? heap.pages_free_resident - slack : 0;
  if (want > heap.growth_pages) want = heap.growth_pages;
  heap.growth_pages = 0;
  release_batch batch;
  std::size_t done = 0;
  for (std::size_t ai = heap.narenas; ai-- > 0 && done < want;) {
    heap_arena* a = heap.sorted[ai];
    for (std::size_t w = pages_per_arena / 64; w-- > 0 && done < want;) {
      if (!batch.has_room_for_a_word()) release_heap_pages(batch);  // heap.lock let go
      std::uint64_t todo = ~(a->alloc[w] | a->scav[w]), take = 0;
      while (todo != 0 && done < want) {
        int top = 63 - __builtin_clzll(todo);  // the highest free resident page, and the
        std::uint64_t up = ~(todo << (63 - top));  // run of them that ends there
        std::size_t len = up == 0 ? 64 : std::size_t(__builtin_clzll(up));
        if (len > want - done) len = want - done;
        int bottom = top + 1 - int(len);
        std::uint64_t mask = (len == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << len) - 1) << bottom;
        take |= mask;
        todo &= ~mask;
        done += len;
      }
      if (take != 0) take_for_release_locked(a, w, take, batch);
    }
  }
  release_heap_pages(batch);
}

// Marks the n free pages at page `first` of sorted[ai] as a span's (heap_alloc_span,
// heap_extend_span), counting the released ones among them as heap growth. Returns whether
// every page was released (fresh: no zeroing needed). heap.lock held; the caller then calls
// release_after_growth, unlocked, if growth_release_due().
bool take_pages_locked(std::size_t ai, std::size_t first, std::size_t n) {
  bool all_scav = false;
  std::size_t released_before = heap.pages_released;
  mark_pages(ai, first, n, true, &all_scav);
  heap.growth_pages += released_before - heap.pages_released;
  heap.pages_inuse += n;
  return all_scav;
}

bool growth_release_due() { return heap.growth_pages >= growth_release_batch; }

// The caches of threads that exited wait on cachealloc's free list for the next thread.
// Their pages go back to the OS at the scavenger's next tick, all but the first page of
// each (it holds the list's link and the mark below), so that a program that once ran many
// threads does not keep their caches (about 14 KiB each, plus half a KiB per size class
// used) resident; the next thread to take one faults fresh pages in. Those not yet released
// leave the free list while their pages go (a thread that needs a cache meanwhile gets
// another one) and come back after. heap.lock held (released for the system call).
constexpr std::uint64_t cache_pages_released = 0x7265'6c65'6173'6564;  // "released"

void release_free_caches() {
  release_batch batch;
  void* taken = nullptr;  // the caches whose pages go now, linked as on the free list
  for (void** link = &heap.cachealloc.free_list; *link != nullptr;) {
    void* m = *link;
    auto* words = static_cast<std::uint64_t*>(m);
    if (words[1] == cache_pages_released || !batch.has_room_for_a_word()) {
      link = static_cast<void**>(m);
      continue;
    }
    std::uintptr_t at = reinterpret_cast<std::uintptr_t>(m);
    std::uintptr_t lo = (at + page_size) & ~(page_size - 1);
    std::uintptr_t hi = (at + heap.cachealloc.size) & ~(page_size - 1);
    if (hi > lo) batch.add(lo, hi);
    words[1] = cache_pages_released;
    std::memcpy(link, m, sizeof(void*));  // out of the free list
    std::memcpy(m, &taken, sizeof(void*));
    taken = m;
  }
  batch.send_unlocked();
  while (taken != nullptr) {
    void* m = taken;
    std::memcpy(&taken, m, sizeof(void*));
    std::memcpy(m, &heap.cachealloc.free_list, sizeof(void*));
    heap.cachealloc.free_list = m;
  }
}

// The background scavenger (Go: bgscavenge). Go paces itself to ~1% of CPU against a
// memory goal; ours is simpler: every 50 ms it releases the free pages that stayed free for
// a whole tick (so pages in active reuse stay, and are not faulted in again at once), bumps
// scavenger_ticks (threads' page caches give back entries that sat through a tick), and
// once a second it first gives back spans that remote frees emptied (the sweeper's part).
std::atomic<int> scav_tid{0};

void* scavenger_main(void*) {
  scav_tid.store(int(gettid()), std::memory_order_release);
  for (unsigned tick = 0;; tick++) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, nullptr);
    scavenger_ticks.fetch_add(1, std::memory_order_relaxed);  // page caches age their entries
    if (tick % 20 == 0) reclaim_all();
    scavenge(false);
  }
  return nullptr;
}

std::atomic<bool> scavenger_started{false};

}  // namespace

mspan empty_mspan{};
std::atomic<std::uint32_t> scavenger_ticks{0};
std::atomic<void (*)()> before_release_syscall{nullptr};

mcentral& central(int spc) { return centrals[spc]; }

void heap_init() {
  if (heap.inited.load(std::memory_order_acquire)) return;
  os::rt_lock_guard g(heap.lock);
  if (heap.inited.load(std::memory_order_relaxed)) return;
  heap.next_hint = arena_base_hint;
  heap.spanalloc.size = sizeof(mspan);
  heap.cachealloc.size = (sizeof(mcache) + 63) & ~std::size_t{63};
  heap.refsalloc.size = max_objs_per_span / 2;  // tiny class: 512 blocks per span
  for (int i = 0; i < num_span_classes; i++) centrals[i].spanclass = std::uint8_t(i);
  heap.inited.store(true, std::memory_order_release);
}

void init_span_class(mspan* s, std::uint8_t spanclass, bool count) {
  s->spanclass = spanclass;
  s->cross = false;
  int cls = spanclass >> 1;
  if (cls == 0) {
    s->elemsize = 0;
    s->nelems = 1;
    s->room_mark = 0;
    s->div_magic = 0;
    if (count) heap.nspans_large.fetch_add(1, std::memory_order_relaxed);
  } else {
    s->elemsize = class_to_size[cls];
    s->nelems = std::uint16_t(s->npages * page_size / s->elemsize);
    s->room_mark = std::uint16_t(s->nelems - (s->nelems / 8 > 0 ? s->nelems / 8 : 1));
    s->div_magic = ~std::uint64_t{0} / s->elemsize + 1;
    if (count) heap.nspans_small.fetch_add(1, std::memory_order_relaxed);
  }
}

void uncount_span(const mspan* s) {
  (s->sizeclass() == 0 ? heap.nspans_large : heap.nspans_small).fetch_sub(1, std::memory_order_relaxed);
}

void revive_span(mspan* s, std::uint8_t spanclass, bool counted) {
  s->alloc_cache = 0;
  s->freeindex = 0;
  s->needzero = true;
  // alloc_bits are all clear (a span is kept whole only with no object allocated) and so
  // are free_bits (folded before), so only the geometry changes; a span still counted in
  // the heap's span totals (small, large) changes there only if its kind does.
  bool same_kind = (s->sizeclass() == 0) == ((spanclass >> 1) == 0);
  if (counted && !same_kind) uncount_span(s);
  init_span_class(s, spanclass, !(counted && same_kind));
  s->set_owner(owner_uncached);
  s->state.store(span_in_use, std::memory_order_release);
}

namespace {

// s's pages go back to the page allocator and its mspan to the free list; s is out of the
// heap's in-use totals already. heap.lock held.
void release_uncounted_span_locked(mspan* s) {
  s->state.store(span_dead, std::memory_order_relaxed);
  map_span(s, nullptr);
  free_pages_locked(s->start, s->npages);
  if (s->tiny_refs != nullptr) heap.refsalloc.free(static_cast<void*>(s->tiny_refs));
  heap.spanalloc.free(s);
}

// Takes s out of the in-use totals (pages and spans), as freeing or stashing it does.
void uncount_in_use_locked(const mspan* s) {
  heap.pages_inuse -= s->npages;
  uncount_span(s);
}

void stash_drop_oldest(span_stash_ring& r) {
  mspan* s = r.s[r.head];
  r.head = (r.head + 1) % span_stash_ways;
  r.n--;
  heap.stash_pages -= s->npages;
  release_uncounted_span_locked(s);
}

// Keeps s (nothing allocated in it) in the stash if it may; false if it goes to the page
// allocator. It stays mapped in spans[], dead, so a free into it reports a double free,
// and counts as idle heap (not in use) until reused. heap.lock held.
bool stash_locked(mspan* s) {
  std::size_t np = s->npages;
  if (np > span_cache_max_pages || s->tiny_refs != nullptr) return false;
  span_stash_ring& r = heap.stash[np];
  std::size_t cap = std::max(span_stash_min_pages, heap.pages_inuse / 8);
  // Full, or over the bound: this size's oldest make room (other sizes age out on ticks).
  while (r.n == span_stash_ways || (r.n > 0 && heap.stash_pages + np > cap)) stash_drop_oldest(r);
  if (heap.stash_pages + np > cap) return false;
  s->state.store(span_dead, std::memory_order_relaxed);
  s->set_owner(owner_uncached);
  uncount_in_use_locked(s);
  std::uint32_t i = (r.head + r.n) % span_stash_ways;
  r.s[i] = s;
  r.stamp[i] = scavenger_ticks.load(std::memory_order_relaxed);
  r.n++;
  heap.stash_pages += np;
  return true;
}

// The newest stashed span of npages, revived for spanclass; null if none. heap.lock held.
mspan* unstash_locked(std::size_t npages, std::uint8_t spanclass) {
  if (npages > span_cache_max_pages || spanclass == tiny_span_class) return nullptr;
  span_stash_ring& r = heap.stash[npages];
  if (r.n == 0) return nullptr;
  r.n--;
  mspan* s = r.s[(r.head + r.n) % span_stash_ways];
  heap.stash_pages -= npages;
  heap.pages_inuse += npages;
  revive_span(s, spanclass, false);
  return s;
}

// Gives back stash entries that sat through two scavenger ticks (all of them if `all`).
void stash_age_locked(bool all) {
  std::uint32_t now = scavenger_ticks.load(std::memory_order_relaxed);
  for (auto& r : heap.stash)
    while (r.n > 0 && (all || now - r.stamp[r.head] >= 2)) stash_drop_oldest(r);
}

}  // namespace

mspan* heap_alloc_span(std::size_t npages, std::uint8_t spanclass, std::size_t align_pages) {
  heap_init();
  if (align_pages == 0) align_pages = 1;
  std::size_t want = npages + align_pages - 1;
  if (want < npages) return nullptr;
  std::size_t ai = 0, pg = 0;
  heap.lock.lock();
  if (align_pages == 1) {
    if (mspan* s = unstash_locked(npages, spanclass)) {
      heap.lock.unlock();
      return s;
    }
  }
  if (!find_pages(want, &ai, &pg)) {
    // Before growing, give back spans that remote frees emptied (Go's mheap.reclaim).
    heap.lock.unlock();
    reclaim_all();
    heap.lock.lock();
    if (!find_pages(want, &ai, &pg) && (!grow(want) || !find_pages(want, &ai, &pg))) {
      heap.lock.unlock();
      return nullptr;
    }
  }
  void* m = heap.spanalloc.alloc();
  if (m == nullptr) {
    heap.lock.unlock();
    return nullptr;
  }
  std::atomic<std::uint8_t>* refs = nullptr;
  if (spanclass == tiny_span_class) {
    refs = static_cast<std::atomic<std::uint8_t>*>(heap.refsalloc.alloc());
    if (refs == nullptr) {
      heap.spanalloc.free(m);
      heap.lock.unlock();
      return nullptr;
    }
    std::memset(static_cast<void*>(refs), 0, heap.refsalloc.size);
  }
  // An aligned span takes only the aligned part of the (longer) run found.
  std::uintptr_t align_bytes = align_pages * page_size;
  std::uintptr_t run = heap.sorted[ai]->base + pg * page_size;
  std::uintptr_t aligned = (run + align_bytes - 1) / align_bytes * align_bytes;
  if (aligned != run) {
    ai = arena_pos(aligned);
    pg = (aligned - heap.sorted[ai]->base) >> page_shift;
  }
  bool all_scav = take_pages_locked(ai, pg, npages);
  auto* s = new (m) mspan();
  s->start = aligned;
  s->npages = npages;
  s->spanclass = spanclass;
  s->needzero = !all_scav;
  s->tiny_refs = refs;
  init_span_class(s, spanclass);
  s->set_owner(owner_uncached);
  s->state.store(span_in_use, std::memory_order_relaxed);
  map_span(s, s);
  bool start = heap.want_scavenger.exchange(false, std::memory_order_relaxed);
  bool release = growth_release_due();
  heap.lock.unlock();
  if (start) start_scavenger();  // outside the lock: pthread_create may call malloc
  if (release) release_after_growth();
  return s;
}

std::size_t heap_stash_pages() {
  os::rt_lock_guard g(heap.lock);
  return heap.stash_pages;
}

bool heap_extend_span(mspan* s, std::size_t n) {
  if (n == 0 || n > (std::size_t{1} << (heap_addr_bits - page_shift))) return false;
  // A heap grown here past one arena starts the scavenger at the next heap_alloc_span or
  // heap_free_span, not now: creating the thread allocates (glibc's TLS vector), and here
  // that object would land right after the growing object, stopping its growth next step.
  {
    os::rt_lock_guard g(heap.lock);
    const std::uintptr_t at = s->limit(), end = at + n * page_size;
    for (std::uintptr_t x = at; x < end;) {  // free pages, in arenas that follow on
      heap_arena* a =
          x >> heap_addr_bits ? nullptr : __atomic_load_n(&arena_index[x >> arena_shift], __ATOMIC_RELAXED);
      if (a == nullptr && x == heap.next_hint && grow((end - x) >> page_shift))  // the heap's top
        a = __atomic_load_n(&arena_index[x >> arena_shift], __ATOMIC_RELAXED);  // null if grown elsewhere
      if (a == nullptr) return false;
      std::size_t first = (x - a->base) >> page_shift;
      std::size_t k = std::min(pages_per_arena - first, (end - x) >> page_shift);
      if (count_bits(a->alloc, first, k) != 0) return false;
      x += k * page_size;
    }
    std::size_t ai = arena_pos(at);
    take_pages_locked(ai, (at - heap.sorted[ai]->base) >> page_shift, n);
    s->npages += n;
    map_pages(at, end, s);
    if (!growth_release_due()) return true;
  }
  release_after_growth();
  return true;
}

std::size_t heap_free_resident_pages() {
  os::rt_lock_guard g(heap.lock);
  return heap.pages_free_resident;
}

std::size_t heap_recount_free_resident_pages() {
  os::rt_lock_guard g(heap.lock);
  std::size_t n = 0;
  for (std::size_t ai = 0; ai < heap.narenas; ai++)
    for (std::size_t w = 0; w < pages_per_arena / 64; w++)
      n += std::size_t(__builtin_popcountll(~(heap.sorted[ai]->alloc[w] | heap.sorted[ai]->scav[w])));
  return n;
}

void heap_free_span(mspan* s) {
  GORT_POISON(reinterpret_cast<void*>(s->start), s->npages * page_size);
  {
    os::rt_lock_guard g(heap.lock);
    if (stash_locked(s)) return;
    uncount_in_use_locked(s);
    release_uncounted_span_locked(s);
  }
  // A heap grown past one arena by heap_extend_span alone starts its scavenger here.
  if (heap.want_scavenger.exchange(false, std::memory_order_relaxed)) start_scavenger();
}


mcache* heap_new_mcache() {
  heap_init();
  os::rt_lock_guard g(heap.lock);
  void* m = heap.cachealloc.alloc();
  if (m == nullptr) return nullptr;
  auto* c = new (m) mcache();
  c->init();
  c->all_next = heap.caches;
  if (heap.caches) heap.caches->all_prev = c;
  heap.caches = c;
  return c;
}

void heap_free_mcache(mcache* c) {
  os::rt_lock_guard g(heap.lock);
  auto& r = heap.retired;
  for (int i = 0; i < num_size_classes; i++) {
    r.nmalloc[i] += c->mallocs_of(i);
    r.nfree[i] += c->frees_of(i);
  }
  r.ntiny += c->ntiny.load(std::memory_order_relaxed);
  r.nlarge_alloc += c->nlarge_alloc.load(std::memory_order_relaxed);
  r.large_alloc_bytes += c->large_alloc_bytes.load(std::memory_order_relaxed);
  r.nlarge_free += c->nlarge_free.load(std::memory_order_relaxed);
  r.large_free_bytes += c->large_free_bytes.load(std::memory_order_relaxed);
  if (c->all_prev) c->all_prev->all_next = c->all_next; else heap.caches = c->all_next;
  if (c->all_next) c->all_next->all_prev = c->all_prev;
  heap.cachealloc.free(c);
  // Its pages are resident again (see release_free_caches).
  static_cast<std::uint64_t*>(static_cast<void*>(c))[1] = 0;
}

void visit_caches(void (*fn)(const mcache&, void*), void* arg, retired_stats& retired) {
  heap_init();
  os::rt_lock_guard g(heap.lock);
  for (mcache* c = heap.caches; c != nullptr; c = c->all_next) fn(*c, arg);
  retired = heap.retired;
}

std::size_t live_caches() {
  heap_init();
  os::rt_lock_guard g(heap.lock);
  std::size_t n = 0;
  for (mcache* c = heap.caches; c != nullptr; c = c->all_next) n++;
  return n;
}

void heap_stats(heap_stats_snapshot& o) {
  heap_init();
  os::rt_lock_guard g(heap.lock);
  o.heap_sys = heap.narenas * arena_bytes;
  o.heap_inuse = heap.pages_inuse * page_size;
  o.heap_released = heap.pages_released * page_size;
  o.mspan_inuse = heap.spanalloc.inuse + heap.refsalloc.inuse;
  o.mspan_sys = heap.spanalloc.sys + heap.refsalloc.sys;
  o.mcache_inuse = heap.cachealloc.inuse;
  o.mcache_sys = heap.cachealloc.sys;
  o.other_sys = heap.meta_sys;
  o.nspans_small = heap.nspans_small.load(std::memory_order_relaxed);
  o.nspans_large = heap.nspans_large.load(std::memory_order_relaxed);
}

void heap_lock_all() {
  for (auto& c : centrals) c.lock.lock();
  heap.lock.lock();
}

void heap_unlock_all() {
  heap.lock.unlock();
  for (auto& c : centrals) c.lock.unlock();
}

void heap_after_fork_child() {
  heap_unlock_all();
  scavenger_started.store(false, std::memory_order_relaxed);  // the thread did not survive
  scav_tid.store(0, std::memory_order_relaxed);
}

// Go: mgcscavenge.go. Releases free, not yet released pages with MADV_DONTNEED: all of them
// when forced, else those that stayed free since the previous call (a whole scavenger tick;
// pages freed since are marked `fresh`). Adjacent runs merge into one range, and the ranges
// go out up to 128 per system call (release_batch): each call is one TLB shootdown, which
// on this project's VM costs about 75 us, so a fragmented heap's hundred runs took 8 ms one
// by one (mixed: 5,600 madvise calls), and allocating threads no longer wait for them on
// the heap lock. Returns bytes released.
std::size_t scavenge(bool force) {
  heap_init();
  os::rt_lock_guard g(heap.lock);
  stash_age_locked(force);  // its pages then wait a tick as free pages, as any others
  std::size_t released = 0;
  release_batch batch;
  // heap.lock is let go while a full batch goes out: arenas may be added meanwhile (one
  // before `ai` makes a later one be scanned twice, which finds nothing more to release).
  for (std::size_t ai = 0; ai < heap.narenas; ai++) {
    heap_arena* a = heap.sorted[ai];
    for (std::size_t w = 0; w < pages_per_arena / 64; w++) {
      if (!batch.has_room_for_a_word()) release_heap_pages(batch);
      // Unforced, a page freed since the last tick waits for the next one (it may be
      // reused at once); one that stayed free a whole tick goes.
      std::uint64_t todo = ~(a->alloc[w] | a->scav[w] | (force ? 0 : a->fresh[w]));
      a->fresh[w] = 0;
      if (todo == 0) continue;
      released += std::size_t(__builtin_popcountll(todo)) * page_size;
      take_for_release_locked(a, w, todo, batch);
    }
  }
  release_heap_pages(batch);
  release_free_caches();
  return released;
}

int scavenger_tid() { return scav_tid.load(std::memory_order_acquire); }

void start_scavenger() {
  if (scavenger_started.exchange(true)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the thread takes no signals
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 << 10);
  if (pthread_create(&heap.scav_thread, &attr, scavenger_main, nullptr) != 0)
    scavenger_started.store(false);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void reclaim_all() {
  for (auto& c : centrals) c.reclaim();
}

[[noreturn]] void fatal(const char* msg, const void* p) {
  char buf[256];
  std::size_t n = 0;
  auto put = [&](const char* s) {
    while (*s && n < sizeof(buf) - 1) buf[n++] = *s++;
  };
  put("fatal error: ");
  put(msg);
  if (p != nullptr) {
    put(" (pointer 0x");
    char hex[17];
    std::uintptr_t u = reinterpret_cast<std::uintptr_t>(p);
    int k = 16;
    hex[k] = 0;
    do {
      hex[--k] = "0123456789abcdef"[u & 15];
      u >>= 4;
    } while (u != 0);
    put(hex + k);
    put(")");
  }
  put("\n");
  ssize_t r = write(2, buf, n);
  (void)r;
  abort();
}

}  // namespace gort::malloc
