// mem_test: gort::mem and the allocator under it (src/malloc): small, tiny and large
// objects, alignment, zeroing, reuse, frees on other threads and goroutines, statistics,
// the scavenger's free_os_memory, and the arena index.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <random>
#include <set>
#include <string>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "malloc/malloc.hpp"

namespace {

using gort::malloc::class_to_size;
using gort::malloc::num_size_classes;

bool all_zero(const void* p, std::size_t n) {
  auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; i++)
    if (b[i] != 0) return false;
  return true;
}

TEST(Mem, EverySmallSizeIsZeroedAlignedAndUsable) {
  std::vector<void*> ptrs;
  for (std::size_t size = 1; size <= 40000; size += (size < 1024 ? 1 : 97)) {
    void* p = gort::mem::alloc(size);
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(all_zero(p, size)) << size;
    std::size_t cls = gort::malloc::size_to_class(size);
    std::size_t want = cls ? class_to_size[cls] : gort::malloc::roundupsize(size);
    EXPECT_EQ(gort::mem::usable_size(p), want) << size;
    // Natural alignment: the largest power of two dividing the class size, capped at 16.
    std::size_t natural = want & -want;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % (natural < 16 ? natural : 16), 0u) << size;
    std::memset(p, 0xab, size);
    ptrs.push_back(p);
  }
  std::set<void*> unique(ptrs.begin(), ptrs.end());
  EXPECT_EQ(unique.size(), ptrs.size());
  for (void* p : ptrs) gort::mem::free(p);
}

TEST(Mem, ReusedMemoryIsZeroedAgain) {
  for (int round = 0; round < 3; round++) {
    std::vector<void*> v;
    for (int i = 0; i < 2000; i++) {
      void* p = gort::mem::alloc(48);
      ASSERT_TRUE(all_zero(p, 48));
      std::memset(p, 0xff, 48);
      v.push_back(p);
    }
    for (void* p : v) gort::mem::free(p);
  }
}

TEST(Mem, ObjectsOfOneClassShareASpanInAddressOrder) {
  // A fresh span hands out objects at increasing addresses, elemsize apart (Go's freeindex).
  gort::debug::free_os_memory();  // start this thread's caches afresh
  void* a = gort::mem::alloc(100);
  void* b = gort::mem::alloc(100);
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), 112);
  gort::mem::free(a);
  gort::mem::free(b);
}

// Go's freeindex order across bitmap words: a span hands its objects out at increasing
// addresses, and a span taken fresh gives every object once, elemsize apart (80 B: 102
// objects, so the walk crosses from bitmap word 0 to word 1).
TEST(Mem, SpansHandOutObjectsInAddressOrderAcrossBitmapWords) {
  gort::debug::free_os_memory();
  std::vector<char*> got;
  for (int i = 0; i < 400; i++) got.push_back(static_cast<char*>(gort::mem::alloc_noscan(80)));
  int whole_spans = 0;
  for (std::size_t i = 0; i < got.size();) {
    gort::malloc::mspan* s = gort::malloc::span_of(reinterpret_cast<std::uintptr_t>(got[i]));
    ASSERT_NE(s, nullptr);
    std::size_t j = i + 1;
    while (j < got.size() && gort::malloc::span_of(reinterpret_cast<std::uintptr_t>(got[j])) == s) {
      ASSERT_GT(got[j], got[j - 1]) << "object " << j;
      j++;
    }
    if (j - i == s->nelems) {
      whole_spans++;
      for (std::size_t k = i; k < j; k++)
        ASSERT_EQ(reinterpret_cast<std::uintptr_t>(got[k]), s->start + (k - i) * 80) << "object " << k;
    }
    i = j;
  }
  EXPECT_GE(whole_spans, 2);
  for (char* p : got) gort::mem::free(p);
}

TEST(Mem, ArenaIndexFindsSpansAndHeapStartsAtGoHint) {
  void* p = gort::mem::alloc(64);
  auto u = reinterpret_cast<std::uintptr_t>(p);
  gort::malloc::mspan* s = gort::malloc::span_of(u);
  ASSERT_NE(s, nullptr);
  EXPECT_LE(s->start, u);
  EXPECT_LT(u, s->limit());
  EXPECT_EQ(s->elemsize, 64u);
  EXPECT_EQ(s->sizeclass(), 6);
  EXPECT_EQ(gort::malloc::span_of(u + 3), s);  // interior pointers find it too
  // Go's first arena hint, unless something else took that address range.
  EXPECT_GE(u, gort::malloc::arena_base_hint);
  int on_stack = 0;
  EXPECT_EQ(gort::malloc::span_of(reinterpret_cast<std::uintptr_t>(&on_stack)), nullptr);
  EXPECT_FALSE(gort::malloc::owns(&on_stack));
  EXPECT_TRUE(gort::malloc::owns(p));
  gort::mem::free(p);
}

TEST(Mem, TinyAllocatorPacksBlocksWithGoAlignment) {
  gort::debug::free_os_memory();  // no current tiny block
  char* a = static_cast<char*>(gort::mem::alloc_noscan(1));
  char* b = static_cast<char*>(gort::mem::alloc_noscan(1));
  char* c = static_cast<char*>(gort::mem::alloc_noscan(4));  // aligned to 4
  char* d = static_cast<char*>(gort::mem::alloc_noscan(8));  // aligned to 8
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 16, 0u);
  EXPECT_EQ(b, a + 1);
  EXPECT_EQ(c, a + 4);
  EXPECT_EQ(d, a + 8);
  char* e = static_cast<char*>(gort::mem::alloc_noscan(2));  // does not fit: new block
  EXPECT_TRUE(e < a || e >= a + 16);
  for (char* p : {a, b, c, d, e}) *p = 7;
  auto* s = gort::malloc::span_of(reinterpret_cast<std::uintptr_t>(a));
  EXPECT_EQ(s->spanclass, gort::malloc::tiny_span_class);
  for (char* p : {a, b, c, d, e}) gort::mem::free(p);
  int* i = gort::mem::make<int>(42);
  EXPECT_EQ(*i, 42);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(i) % alignof(int), 0u);
  gort::mem::destroy(i);
}

TEST(Mem, TinyBlockIsFreedOnlyWhenAllItsObjectsAre) {
  gort::debug::free_os_memory();
  auto before = gort::read_mem_stats();
  std::vector<void*> v;
  for (int i = 0; i < 16 * 100; i++) v.push_back(gort::mem::alloc_noscan(1));
  auto mid = gort::read_mem_stats();
  EXPECT_EQ(mid.by_size[2].mallocs - before.by_size[2].mallocs, 100u);  // 100 blocks
  EXPECT_EQ(mid.mallocs - before.mallocs, 1600u);
  for (std::size_t i = 0; i + 1 < v.size(); i++) gort::mem::free(v[i]);
  // The last block still has one live object (and is the cache's current block).
  auto late = gort::read_mem_stats();
  EXPECT_EQ(late.by_size[2].frees - before.by_size[2].frees, 99u);
  gort::mem::free(v.back());
  gort::debug::free_os_memory();
  auto after = gort::read_mem_stats();
  EXPECT_EQ(after.by_size[2].frees - before.by_size[2].frees, 100u);
}

TEST(Mem, LargeObjectsIncludingMultiArena) {
  for (std::size_t size : {std::size_t{32769}, std::size_t{1} << 20, std::size_t{100} << 20}) {
    char* p = static_cast<char*>(gort::mem::alloc(size));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % gort::malloc::page_size, 0u);
    EXPECT_EQ(gort::mem::usable_size(p), gort::malloc::roundupsize(size));
    EXPECT_TRUE(all_zero(p, 4096));
    EXPECT_EQ(p[size - 1], 0);
    p[0] = 1;
    p[size - 1] = 2;
    EXPECT_EQ(gort::malloc::span_of(reinterpret_cast<std::uintptr_t>(p + size - 1)),
              gort::malloc::span_of(reinterpret_cast<std::uintptr_t>(p)));
    gort::mem::free(p);
  }
}

TEST(Mem, Alignments) {
  for (std::size_t align = 1; align <= (std::size_t{4} << 20); align <<= 1) {
    for (std::size_t size : {std::size_t{1}, std::size_t{24}, std::size_t{100}, std::size_t{5000},
                             std::size_t{40000}}) {
      void* p = gort::mem::alloc(size, align);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << size << " " << align;
      EXPECT_GE(gort::mem::usable_size(p), size);
      EXPECT_TRUE(all_zero(p, size));
      gort::mem::free(p);
    }
  }
  EXPECT_THROW(gort::mem::alloc(8, 3), std::bad_alloc);
}

TEST(Mem, OutOfMemoryThrowsBadAlloc) {
  EXPECT_THROW(gort::mem::alloc(std::size_t{1} << 60), std::bad_alloc);
  EXPECT_THROW(gort::mem::alloc(SIZE_MAX), std::bad_alloc);
  EXPECT_EQ(gort::malloc::mallocgc(std::size_t{1} << 50, false, false), nullptr);
}

struct counted {
  static inline int live = 0;
  std::string s;
  explicit counted(const char* v) : s(v) { live++; }
  ~counted() { live--; }
};
struct throws_in_ctor {
  throws_in_ctor() { throw std::runtime_error("no"); }
};

TEST(Mem, MakeAndDestroy) {
  counted* c = gort::mem::make<counted>("hello, a string long enough to live on the heap");
  EXPECT_EQ(counted::live, 1);
  EXPECT_EQ(c->s.substr(0, 5), "hello");
  gort::mem::destroy(c);
  EXPECT_EQ(counted::live, 0);
  auto before = gort::read_mem_stats();
  EXPECT_THROW(gort::mem::make<throws_in_ctor>(), std::runtime_error);
  auto after = gort::read_mem_stats();
  EXPECT_EQ(after.mallocs - before.mallocs, after.frees - before.frees);  // freed again
  gort::mem::destroy<counted>(nullptr);
}

TEST(Mem, StatsCountObjectsAndBytes) {
  auto before = gort::read_mem_stats();
  std::vector<void*> v;
  for (int i = 0; i < 1000; i++) v.push_back(gort::mem::alloc(200));  // class 15 (208 B)
  void* big = gort::mem::alloc(1 << 20);
  auto mid = gort::read_mem_stats();
  EXPECT_EQ(mid.by_size[15].mallocs - before.by_size[15].mallocs, 1000u);
  EXPECT_EQ(mid.mallocs - before.mallocs, 1001u);
  EXPECT_EQ(mid.total_alloc - before.total_alloc, 1000u * 208 + (1 << 20));
  EXPECT_EQ(mid.heap_alloc - before.heap_alloc, 1000u * 208 + (1 << 20));
  EXPECT_EQ(mid.heap_objects - before.heap_objects, 1001u);
  EXPECT_GE(mid.heap_inuse, mid.heap_alloc);
  EXPECT_EQ(mid.heap_idle + mid.heap_inuse, mid.heap_sys);
  EXPECT_LE(mid.heap_released, mid.heap_idle);
  EXPECT_GE(mid.sys, mid.heap_sys);
  EXPECT_EQ(mid.heap_sys % (64u << 20), 0u);
  for (void* p : v) gort::mem::free(p);
  gort::mem::free(big);
  auto after = gort::read_mem_stats();
  EXPECT_EQ(after.frees - before.frees, 1001u);
  EXPECT_EQ(after.heap_alloc, before.heap_alloc);
  EXPECT_EQ(after.by_size[15].size, 208u);
}

// A free followed by a malloc of the same class reuses the object through the thread's
// magazine, whose pushes are counted in bulk (mcache::frees_of): every cycle still counts
// one malloc and one free, and the objects still in the magazine count as freed.
TEST(Mem, StatsCountMagazineReuse) {
  auto before = gort::read_mem_stats();
  for (int i = 0; i < 1000; i++) gort::mem::free(gort::mem::alloc(40));  // class 5 (48 B)
  std::vector<void*> v;
  for (int i = 0; i < 10; i++) v.push_back(gort::mem::alloc(40));
  for (void* p : v) gort::mem::free(p);  // these stay in the magazine
  auto after = gort::read_mem_stats();
  EXPECT_EQ(after.by_size[5].mallocs - before.by_size[5].mallocs, 1010u);
  EXPECT_EQ(after.by_size[5].frees - before.by_size[5].frees, 1010u);
  EXPECT_EQ(after.heap_objects, before.heap_objects);
  EXPECT_EQ(after.heap_alloc, before.heap_alloc);
}

TEST(Mem, FreeOSMemoryReleasesFreePages) {
  std::vector<void*> v;
  for (int i = 0; i < 64; i++) {
    v.push_back(gort::mem::alloc(256 << 10));
    std::memset(v.back(), 1, 256 << 10);  // touch: the pages are backed
  }
  auto in_use = gort::read_mem_stats();
  for (void* p : v) gort::mem::free(p);
  gort::debug::free_os_memory();
  auto released = gort::read_mem_stats();
  EXPECT_GE(released.heap_released, in_use.heap_released + (16u << 20));
  EXPECT_EQ(released.heap_released, released.heap_idle);  // everything free is released
  // Released pages come back zeroed and usable.
  char* p = static_cast<char*>(gort::mem::alloc(256 << 10));
  EXPECT_TRUE(all_zero(p, 256 << 10));
  gort::mem::free(p);
}

// The pages a scavenge releases are out of the page allocator while its system call runs,
// with the heap lock let go, as in Go's scavenger: another thread allocating meanwhile is
// served at once, from other pages, whose contents the release leaves alone. Its
// allocation is made from the release hook (tests only), just before the madvise.
constexpr std::size_t kWhileReleasingSize = 256 << 10;  // a large object: from the page allocator
std::thread::id releasing_thread;
std::atomic<unsigned char*> allocated_while_releasing{nullptr};
int release_calls = 0;
bool served_during_release = false;

TEST(Scavenger, AllocatesElsewhereWhileFreePagesAreReleased) {
  std::vector<void*> v;
  for (int i = 0; i < 64; i++) {
    v.push_back(gort::mem::alloc(kWhileReleasingSize));
    std::memset(v.back(), 1, kWhileReleasingSize);
  }
  for (void* p : v) gort::mem::free(p);  // 16 MiB of free, resident pages: a first fit's
  releasing_thread = std::this_thread::get_id();
  release_calls = 0;
  gort::malloc::before_release_syscall = +[] {
    if (std::this_thread::get_id() != releasing_thread || release_calls++ > 0) return;
    std::thread([] {  // detached: were the heap lock held, it would wait for the release
      auto* p = static_cast<unsigned char*>(gort::mem::alloc(kWhileReleasingSize));
      std::memset(p, 7, kWhileReleasingSize);
      allocated_while_releasing = p;
    }).detach();
    for (int i = 0; i < 1000 && allocated_while_releasing.load() == nullptr; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    served_during_release = allocated_while_releasing.load() != nullptr;
  };
  gort::debug::free_os_memory();
  gort::malloc::before_release_syscall = nullptr;
  ASSERT_GE(release_calls, 1);
  EXPECT_TRUE(served_during_release) << "the allocation waited for the release to end";
  unsigned char* p = allocated_while_releasing.load();
  for (int i = 0; i < 1000 && p == nullptr; i++) {  // it came late: wait for it all the same
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    p = allocated_while_releasing.load();
  }
  ASSERT_NE(p, nullptr);
  std::size_t changed = 0;
  for (std::size_t i = 0; i < kWhileReleasingSize; i++) changed += p[i] != 7;
  EXPECT_EQ(changed, 0u) << "bytes of the object allocated during the release were released";
  gort::mem::free(p);
  allocated_while_releasing = nullptr;
}

// Many separate free runs go back to the OS in batched calls: every freed run leaves
// memory (mincore says not resident), and the live objects between them keep their pages
// and contents.
TEST(Mem, FreeOSMemoryReleasesEverySeparateRunAndNothingLive) {
  constexpr std::size_t kSize = 96 << 10;  // large objects, 12 pages each
  constexpr int kObjects = 600;            // 300 separate runs: more than one batch
  std::vector<unsigned char*> v;
  for (int i = 0; i < kObjects; i++) {
    v.push_back(static_cast<unsigned char*>(gort::mem::alloc(kSize)));
    std::memset(v.back(), i % 251 + 1, kSize);
  }
  for (int i = 0; i < kObjects; i += 2) gort::mem::free(v[i]);
  gort::debug::free_os_memory();
  const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
  auto resident_pages = [&](const unsigned char* p) {
    std::vector<unsigned char> vec(kSize / page);
    EXPECT_EQ(mincore(const_cast<unsigned char*>(p), kSize, vec.data()), 0);
    int n = 0;
    for (unsigned char b : vec) n += b & 1;
    return n;
  };
  for (int i = 0; i < kObjects; i += 2) ASSERT_EQ(resident_pages(v[i]), 0) << "freed object " << i;
  for (int i = 1; i < kObjects; i += 2) {
    ASSERT_EQ(resident_pages(v[i]), int(kSize / page)) << "live object " << i;
    for (std::size_t k = 0; k < kSize; k += 512) ASSERT_EQ(v[i][k], i % 251 + 1) << i;
    gort::mem::free(v[i]);
  }
}

TEST(Mem, FreesOnAnotherThreadAreReused) {
  constexpr int n = 20000;
  std::vector<void*> v(n);
  for (int i = 0; i < n; i++) {
    v[i] = gort::mem::alloc(32);
    static_cast<int*>(v[i])[0] = i;
  }
  std::thread t([&] {
    for (int i = 0; i < n; i++) {
      ASSERT_EQ(static_cast<int*>(v[i])[0], i);
      gort::mem::free(v[i]);
    }
  });
  t.join();
  auto before = gort::read_mem_stats();
  std::vector<void*> w(n);
  for (int i = 0; i < n; i++) w[i] = gort::mem::alloc(32);
  auto after = gort::read_mem_stats();
  // The remote frees were folded back: no new pages were needed for the same objects.
  EXPECT_LE(after.heap_inuse, before.heap_inuse + 2 * gort::malloc::page_size);
  for (void* p : w) gort::mem::free(p);
}

TEST(Mem, ThreadExitReturnsItsCache) {
  auto before = gort::read_mem_stats();
  std::vector<void*> kept;
  std::thread t([&] {
    for (int i = 0; i < 100; i++) gort::mem::free(gort::mem::alloc(1000));
    kept.push_back(gort::mem::alloc(1000));
  });
  t.join();
  auto after = gort::read_mem_stats();
  EXPECT_EQ(after.mallocs - before.mallocs, 101u);  // the dead thread's counts survive
  EXPECT_EQ(after.frees - before.frees, 100u);
  gort::mem::free(kept[0]);  // its span is now in mcentral; freeing it still works
  EXPECT_EQ(gort::read_mem_stats().frees - before.frees, 101u);
}

TEST(Mem, GoroutinesAllocateAndFreeAcrossProcessors) {
  std::atomic<long> checked{0};
  gort::run([&] {
    constexpr int workers = 16, rounds = 300;
    auto ch = gort::make_chan<void*>(64);
    gort::sync::wait_group wg;
    for (int w = 0; w < workers; w++) {
      wg.add(1);
      gort::go([&, w] {
        std::mt19937 rng(w);
        for (int i = 0; i < rounds; i++) {
          std::size_t size = 16 + rng() % 3000;
          auto* p = static_cast<unsigned char*>(gort::mem::alloc(size));
          std::memcpy(p, &size, 8);
          p[size - 1] = static_cast<unsigned char>(size >> 3);
          if (i % 2) ch.send(p); else gort::mem::free(p);
          if (i % 16 == 0) gort::yield();
        }
        wg.done();
      });
    }
    gort::go([&] {
      wg.wait();
      ch.close();
    });
    for (void* v : ch) {
      auto* p = static_cast<unsigned char*>(v);
      std::size_t size = 0;
      std::memcpy(&size, p, 8);
      if (size >= 16 && size < 3016 && p[size - 1] == static_cast<unsigned char>(size >> 3)) checked++;
      gort::mem::free(p);
    }
  });
  EXPECT_GT(checked.load(), 16 * 150 * 9 / 10);
}

}  // namespace

namespace {

// The page allocator under random span sizes (crossing 512-page chunks): spans never
// overlap, and the search is address-ordered first fit.
TEST(PageAlloc, RandomSpansNeverOverlapAndFirstFit) {
  using gort::malloc::heap_alloc_span;
  using gort::malloc::heap_free_span;
  using gort::malloc::mspan;
  std::mt19937 rng(6);
  std::vector<mspan*> live;
  auto overlaps = [&](mspan* s) {
    for (mspan* t : live)
      if (t != s && s->start < t->limit() && t->start < s->limit()) return true;
    return false;
  };
  for (int i = 0; i < 3000; i++) {
    if (live.empty() || rng() % 100 < 55) {
      std::size_t n = rng() % 8 == 0 ? 1 + rng() % 1200 : 1 + rng() % 8;
      mspan* s = heap_alloc_span(n, 0, rng() % 10 == 0 ? 4 : 1);
      ASSERT_NE(s, nullptr);
      ASSERT_EQ(s->npages, n);
      ASSERT_FALSE(overlaps(s)) << "span " << i;
      live.push_back(s);
    } else {
      std::size_t k = rng() % live.size();
      heap_free_span(live[k]);
      live[k] = live.back();
      live.pop_back();
    }
  }
  // The heap's count of free resident pages (what growth scavenging gives back) stays
  // the bitmaps' through aligned spans, frees, growth releases and the scavenger.
  EXPECT_EQ(gort::malloc::heap_free_resident_pages(), gort::malloc::heap_recount_free_resident_pages());
  // First fit: after freeing a span in the middle, the next span of that size (or
  // smaller) lands at the lowest free address, which is at or below the hole.
  mspan* a = heap_alloc_span(3, 0, 1);
  mspan* b = heap_alloc_span(3, 0, 1);
  std::uintptr_t hole = a->start;
  heap_free_span(a);
  mspan* c = heap_alloc_span(3, 0, 1);
  EXPECT_LE(c->start, hole);
  for (mspan* s : live) heap_free_span(s);
  heap_free_span(b);
  heap_free_span(c);
}

// Heap-growth scavenging (Go: mheap.allocSpan): an allocation that takes released pages
// while free resident ones sit elsewhere gives back as many of those, beyond a slack of a
// sixteenth of the heap in use. Here two 30 MiB buffers follow a freed 48 MiB one: the
// second cannot fit in its hole, and without this the hole's other 18 MiB stay resident
// beside it until the scavenger's next ticks (coreutils' `sort -S 50M` under LD_PRELOAD
// peaked at 1.36x glibc's RSS this way). Live objects keep every byte. It runs in a death
// test's fresh process (the binary re-executed), whose heap holds nothing else, so that
// the layout is the one described.
void growth_scenario() {
  constexpr std::size_t mib = 1 << 20, hole = 48 * mib, piece = 30 * mib;
  auto check = [](bool ok, const char* what, std::size_t v) {
    if (!ok) {
      std::fprintf(stderr, "%s: %zu\n", what, v);
      std::_Exit(1);
    }
  };
  char* a = static_cast<char*>(gort::mem::alloc(hole));
  std::memset(a, 1, hole);
  void* after = gort::mem::alloc(mib);  // ends the hole: c cannot run on into fresh pages
  check(after == a + hole, "the guard is not right after the hole", 0);
  gort::mem::free(a);
  check(gort::malloc::heap_free_resident_pages() * gort::malloc::page_size >= hole, "hole not counted", 0);
  char* b = static_cast<char*>(gort::mem::alloc(piece));
  std::memset(b, 2, piece);
  check(b == a, "b is not in the hole", 0);
  char* c = static_cast<char*>(gort::mem::alloc(piece));
  std::memset(c, 3, piece);
  std::size_t slack = std::max<std::size_t>(mib, gort::read_mem_stats().heap_inuse / 16);
  std::size_t resident_free = gort::malloc::heap_free_resident_pages() * gort::malloc::page_size;
  check(resident_free <= slack + mib, "free resident MiB after growth", resident_free / mib);
  check(gort::malloc::heap_free_resident_pages() == gort::malloc::heap_recount_free_resident_pages(),
        "count and bitmaps disagree", 0);
  // The released pages are the hole's top ones: no longer resident.
  const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((hole - piece) / page);
  check(mincore(a + piece, hole - piece, vec.data()) == 0, "mincore", 0);
  std::size_t resident = 0;
  for (unsigned char v : vec) resident += v & 1;
  check(resident * page <= slack + mib, "hole's rest still resident, MiB", resident * page / mib);
  for (std::size_t i = 0; i < piece; i += 4096) {
    check(b[i] == 2, "b lost a byte at", i);
    check(c[i] == 3, "c lost a byte at", i);
  }
  std::_Exit(0);
}

TEST(Scavenger, HeapGrowthGivesBackFreeResidentPages) {
  EXPECT_EXIT(growth_scenario(), testing::ExitedWithCode(0), "");
}

// realloc's growth in place (grow_in_place): a large object whose next pages are free
// takes them without moving (span_of maps them to it; usable_size and the heap's in-use
// and allocated bytes grow by them; free gives all of them back), and an object right
// after it stops the growth. In a death test's fresh process, so that the pages after
// the first object are known to be free.
void grow_in_place_scenario() {
  namespace gm = gort::malloc;
  constexpr std::size_t kib = 1024;
  auto check = [](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "%s\n", what);
      std::_Exit(1);
    }
  };
  char* a = static_cast<char*>(gort::mem::alloc(40 * kib));  // 5 pages
  std::memset(a, 7, 40 * kib);
  auto before = gort::read_mem_stats();
  check(gm::grow_in_place(a, 100 * kib), "no growth into the free pages after the object");
  check(gm::usable_size(a) == 13 * gm::page_size, "usable size is not 13 pages");
  const auto at = reinterpret_cast<std::uintptr_t>(a);
  check(gm::span_of(at + 100 * kib) == gm::span_of(at), "the new pages do not map to the object's span");
  auto grown = gort::read_mem_stats();
  check(grown.heap_alloc - before.heap_alloc == 8 * gm::page_size, "heap_alloc did not grow by 8 pages");
  check(grown.heap_inuse - before.heap_inuse == 8 * gm::page_size, "heap_inuse did not grow by 8 pages");
  for (std::size_t i = 0; i < 40 * kib; i++) check(a[i] == 7, "the object's bytes changed");
  std::memset(a + 40 * kib, 8, 60 * kib);  // usable (and unpoisoned under ASan)
  char* b = static_cast<char*>(gort::mem::alloc(40 * kib));
  check(b == a + 13 * gm::page_size, "the next object is not right after the grown one");
  check(!gm::grow_in_place(a, 200 * kib), "grew over the next object");
  check(gm::usable_size(a) == 13 * gm::page_size, "a failed growth changed the object");
  check(gm::grow_in_place(a, 90 * kib), "a size it already has is not kept");
  gort::mem::free(a);
  gort::mem::free(b);
  auto after = gort::read_mem_stats();
  check(after.heap_alloc == before.heap_alloc - 5 * gm::page_size, "heap_alloc not back");
  check(gm::heap_free_resident_pages() == gm::heap_recount_free_resident_pages(), "free page count off");
  std::_Exit(0);
}

TEST(Mem, ReallocGrowsALargeObjectInPlace) {
  EXPECT_EXIT(grow_in_place_scenario(), testing::ExitedWithCode(0), "");
}

// The search inside a chunk walks runs of pages, a word at a time: it must find the same
// run as a page-by-page search, on bitmaps from empty to full and from long runs to
// single-page holes (word edges included).
TEST(PageAlloc, FirstFreeRunMatchesAPageByPageSearch) {
  using gort::malloc::first_free_run;
  constexpr std::size_t kWords = 8;  // one 512-page chunk
  auto naive = [](const std::uint64_t* bits, std::size_t n) {
    std::size_t run = 0;
    for (std::size_t i = 0; i < kWords * 64; i++) {
      run = (bits[i / 64] >> (i % 64)) & 1 ? 0 : run + 1;
      if (run >= n) return i + 1 - run;
    }
    return ~std::size_t{0};
  };
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 4000; trial++) {
    std::uint64_t bits[kWords];
    int density = trial % 5;  // 0: empty .. 4: full, with runs in between
    for (auto& w : bits) {
      switch (density) {
        case 0: w = 0; break;
        case 1: w = rng() & rng() & rng(); break;  // mostly free
        case 2: w = rng(); break;
        case 3: w = rng() | rng() | rng(); break;  // mostly used
        default: w = rng() % 4 == 0 ? rng() : ~std::uint64_t{0}; break;
      }
    }
    if (trial % 7 == 0) bits[rng() % kWords] = 0;  // a whole free word
    std::size_t n = 1 + rng() % (trial % 3 == 0 ? 200 : 12);
    ASSERT_EQ(first_free_run(bits, kWords, n), naive(bits, n))
        << "trial " << trial << " n " << n;
  }
}

}  // namespace

namespace {

// The background scavenger (started once the heap has more than one arena) releases pages
// that stay free, without free_os_memory.
TEST(Scavenger, ReleasesPagesThatStayFree) {
  constexpr std::size_t big = 96u << 20;  // more than one 64 MiB arena
  char* p = static_cast<char*>(gort::mem::alloc(big));
  std::memset(p, 1, big);
  auto before = gort::read_mem_stats();
  gort::mem::free(p);
  bool released = false;
  for (int i = 0; i < 500 && !released; i++) {  // up to 5 s; a few 50 ms ticks suffice
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    released = gort::read_mem_stats().heap_released >= before.heap_released + big;
  }
  EXPECT_TRUE(released);
}

}  // namespace

namespace {

// A thread that only frees gets no cache (glibc's thread teardown frees after the cache
// went back; creating one there would leak one per thread), and its frees still count.
TEST(Mem, FreeOnlyThreadCreatesNoCache) {
  void* small = gort::mem::alloc(100);
  void* large = gort::mem::alloc(100000);
  auto before = gort::read_mem_stats();
  gort::mem_stats inside{};
  std::thread([&] {
    gort::mem::free(small);
    gort::mem::free(large);
    inside = gort::read_mem_stats();  // before this thread's exit could hide a cache
  }).join();
  auto after = gort::read_mem_stats();
  EXPECT_EQ(inside.mcache_inuse, before.mcache_inuse);
  EXPECT_EQ(after.frees - before.frees, 2u);
  EXPECT_EQ(before.heap_alloc - after.heap_alloc, 112u + gort::malloc::roundupsize(100000));
}

}  // namespace

// Under ASan, LeakSanitizer scans gort's arenas: memory from the system allocator that is
// reachable only through a gort object still alive at exit (a std::string kept in a map
// bucket, say) is not a leak. The process's exit status says so: a leak report fails it.
TEST(Mem, LeakSanitizerSeesPointersHeldInGortMemory) {
#if !defined(GORT_ASAN)
  GTEST_SKIP() << "needs LeakSanitizer (the asan preset)";
#else
  static void* holder = [] {
    void* h = gort::mem::alloc(64);
    std::memset(h, 0, 64);
    return h;
  }();
  std::string* previous;  // from an earlier repetition (--gtest_repeat): really dropped now
  std::memcpy(&previous, holder, sizeof previous);
  delete previous;
  auto* owned = new std::string(200, 'x');  // malloc'd, reachable only through holder
  std::memcpy(holder, &owned, sizeof owned);
  SUCCEED();
#endif
}
