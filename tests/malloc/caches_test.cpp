// caches_test: the per-thread caches added for explicit free (src/malloc/malloc.hpp):
// the page cache (empty spans kept whole by page count, reused by the next span of that
// size, aged out by the scavenger's ticks, given back at thread exit and free_os_memory)
// and the magazines (LIFO reuse of objects this thread just freed, by every allocation
// of their class; a free there touches only the alloc bit); and the heap's span
// stash below them (newest span of a size reused first, bounded, aged out, emptied by
// free_os_memory).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "malloc/malloc.hpp"

namespace {

namespace gm = gort::malloc;

constexpr std::size_t large = 40 << 10;  // a large object of 5 pages
constexpr std::size_t large_pages = 5;

std::size_t cached_pages() { return gm::peek_mcache() != nullptr ? gm::peek_mcache()->span_cache_pages : 0; }

// Runs fn on a fresh thread, so that its caches start empty and other tests' do not matter.
template <class F>
void on_fresh_thread(F fn) {
  std::thread(fn).join();
}

TEST(PageCache, LargeSpanIsReusedWhole) {
  on_fresh_thread([] {
    void* p = gort::mem::alloc(large);
    std::memset(p, 7, large);
    gort::mem::free(p);
    EXPECT_EQ(cached_pages(), large_pages);
    // Same page count: the same pages, zeroed again for gort::mem::alloc.
    void* q = gort::mem::alloc(large - 1000);
    EXPECT_EQ(q, p);
    EXPECT_EQ(cached_pages(), 0u);
    auto* b = static_cast<unsigned char*>(q);
    for (std::size_t i = 0; i < large - 1000; i += 512) ASSERT_EQ(b[i], 0) << i;
    EXPECT_EQ(gort::mem::usable_size(q), large_pages * gm::page_size);
    gort::mem::free(q);
  });
}

TEST(PageCache, ALargeObjectsSpanServesASmallClassOfTheSameSize) {
  on_fresh_thread([] {
    int cls = 0;  // a class whose spans have 5 pages (Go's table has several)
    for (int c = 1; c < gm::num_size_classes && cls == 0; c++)
      if (gm::class_to_npages[c] == large_pages) cls = c;
    ASSERT_NE(cls, 0);
    void* p = gort::mem::alloc(large);
    gort::mem::free(p);
    ASSERT_EQ(cached_pages(), large_pages);
    // A cached span is dead: a free into it is a double free (see the death test), and
    // the arena index still maps it, so that free finds it.
    gm::mspan* dead = gm::span_of(reinterpret_cast<std::uintptr_t>(p));
    ASSERT_NE(dead, nullptr);
    EXPECT_NE(dead->state.load(), gm::span_in_use);
    EXPECT_FALSE(gm::owns(p));
    // mcentral's refill asks the cache first: the same span, set up for the class.
    gm::mspan* s = gm::peek_mcache()->cached_span(large_pages, gm::make_span_class(cls, false));
    ASSERT_EQ(s, dead);
    EXPECT_EQ(s->start, reinterpret_cast<std::uintptr_t>(p));
    EXPECT_EQ(s->elemsize, gm::class_to_size[cls]);
    EXPECT_EQ(s->nelems, gm::class_to_nobjs[cls]);
    EXPECT_EQ(s->count_alloc(), 0u);
    EXPECT_EQ(s->state.load(), gm::span_in_use);
    EXPECT_EQ(cached_pages(), 0u);
    gm::heap_free_span(s);
  });
}

TEST(PageCache, IsBoundedAndGivenBackAtThreadExit) {
  auto before = gort::read_mem_stats();
  on_fresh_thread([] {
    std::vector<void*> v;
    for (int i = 0; i < 200; i++) v.push_back(gort::mem::alloc(large));
    for (void* p : v) gort::mem::free(p);
    EXPECT_LE(cached_pages(), gm::span_cache_cap_pages);
    EXPECT_LE(cached_pages(), std::size_t(gm::span_cache_ways) * large_pages);
    EXPECT_GT(cached_pages(), 0u);
  });
  // The exited thread's cached spans went back to the heap.
  auto after = gort::read_mem_stats();
  EXPECT_LE(after.heap_inuse, before.heap_inuse + 16 * gm::page_size);
}

TEST(PageCache, FreeOSMemoryEmptiesTheCallersCache) {
  on_fresh_thread([] {
    gort::mem::free(gort::mem::alloc(large));
    ASSERT_EQ(cached_pages(), large_pages);
    gort::debug::free_os_memory();
    EXPECT_EQ(cached_pages(), 0u);
    auto st = gort::read_mem_stats();
    EXPECT_EQ(st.heap_released, st.heap_idle);
  });
}

TEST(PageCache, EntriesAgeOutAfterAScavengerTick) {
  gm::start_scavenger();
  on_fresh_thread([] {
    gort::mem::free(gort::mem::alloc(large));
    ASSERT_EQ(cached_pages(), large_pages);
    // Two ticks (50 ms each) later, the next use of the cache gives the old entry back.
    std::uint32_t t0 = gm::scavenger_ticks.load();
    for (int i = 0; i < 500 && gm::scavenger_ticks.load() - t0 < 3; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_GE(gm::scavenger_ticks.load() - t0, 3u);
    void* p = gort::mem::alloc(64 << 10);  // 8 pages: another slot, but the cache ages
    EXPECT_EQ(cached_pages(), 0u);
    gort::mem::free(p);
    EXPECT_EQ(cached_pages(), 8u);
  });
}

#if !defined(GORT_ASAN)
TEST(Magazine, LastFreedObjectComesBackFirst) {
  on_fresh_thread([] {
    void* keep = gort::mem::alloc(48);
    void* a = gort::mem::alloc(48);
    void* b = gort::mem::alloc(48);
    gort::mem::free(a);
    gort::mem::free(b);
    gm::mspan* s = gm::span_of(reinterpret_cast<std::uintptr_t>(a));
    EXPECT_EQ(gm::peek_mcache()->magazine_objects(s), 2u);
    EXPECT_EQ(gm::peek_mcache()->live_objects(s), s->count_alloc() + 2);
    EXPECT_EQ(gort::mem::alloc(48), b);  // LIFO
    EXPECT_EQ(gort::mem::alloc(48), a);
    EXPECT_EQ(gm::peek_mcache()->magazine_objects(s), 0u);
    gort::mem::free(a);
    gort::mem::free(b);
    gort::mem::free(keep);
  });
}

// A cache sets up a class's magazine at its first allocation of the class: until then the
// class points at the shared dormant entries (empty for pops, full for pushes), and the
// magazine's memory is never written, so unused classes cost no resident memory.
TEST(Magazine, SetUpAtTheClassFirstUse) {
  on_fresh_thread([] {
    void* keep = gort::mem::alloc(48);
    gm::mcache* c = gm::peek_mcache();
    const int used = gm::make_span_class(gm::size_to_class(48), false);
    const int unused = gm::make_span_class(gm::size_to_class(4096), false);
    EXPECT_NE(c->mag_top[used].load(), &c->dormant[1]);
    EXPECT_EQ(c->mag_top[unused].load(), &c->dormant[1]);
    void* a = gort::mem::alloc(4096);
    void* b = gort::mem::alloc(4096);
    EXPECT_NE(c->mag_top[unused].load(), &c->dormant[1]);
    auto before = gort::read_mem_stats();
    gort::mem::free(a);
    EXPECT_TRUE(c->in_magazine(unused, a));
    EXPECT_EQ(gort::read_mem_stats().frees, before.frees + 1);  // counted while in the magazine
    EXPECT_EQ(gort::mem::alloc(4096), a);
    gort::mem::free(a);
    gort::mem::free(b);
    gort::mem::free(keep);
  });
}

TEST(Magazine, ReusedObjectsAreZeroed) {
  on_fresh_thread([] {
    auto* p = static_cast<unsigned char*>(gort::mem::alloc(100));
    std::memset(p, 0xab, 100);
    gort::mem::free(p);
    auto* q = static_cast<unsigned char*>(gort::mem::alloc(100));  // gort::mem::alloc zeroes
    EXPECT_EQ(q, p);
    for (int i = 0; i < 100; i++) ASSERT_EQ(q[i], 0) << i;
    gort::mem::free(q);
  });
}

// A free into the magazine clears the object's alloc bit, as a free into the bitmap does,
// and never reads or writes the object: whatever its bytes, it is not taken for a freed
// object, and the pop marks it allocated again.
TEST(Magazine, FreeTouchesOnlyTheAllocBit) {
  on_fresh_thread([] {
    void* keep = gort::mem::alloc(64);
    auto* p = static_cast<std::uint64_t*>(gort::mem::alloc(64));
    auto* q = static_cast<std::uint64_t*>(gort::mem::alloc(64));
    gm::mspan* s = gm::span_of(reinterpret_cast<std::uintptr_t>(p));
    ASSERT_EQ(gm::span_of(reinterpret_cast<std::uintptr_t>(q)), s);
    for (int i = 0; i < 8; i++) p[i] = q[i] = 0x5a5a5a5a5a5a5a5au + std::uint64_t(i);
    std::uint32_t pi = s->obj_index(reinterpret_cast<std::uintptr_t>(p));
    auto bit = [&] { return s->alloc_bits[pi / 64].load() & (std::uint64_t{1} << (pi % 64)); };
    ASSERT_NE(bit(), 0u);
    gort::mem::free(p);
    EXPECT_TRUE(gm::peek_mcache()->in_magazine(s->spanclass, p));
    EXPECT_EQ(bit(), 0u);
    for (int i = 0; i < 8; i++) EXPECT_EQ(p[i], 0x5a5a5a5a5a5a5a5au + std::uint64_t(i)) << i;
    std::thread([q] { gort::mem::free(q); }).join();  // a remote free of a live object
    std::uint32_t qi = s->obj_index(reinterpret_cast<std::uintptr_t>(q));
    EXPECT_NE(s->free_bits[qi / 64].load() & (std::uint64_t{1} << (qi % 64)), 0u);
    EXPECT_EQ(gort::mem::alloc(64), p);  // the pop marks it allocated again
    EXPECT_NE(bit(), 0u);
    gort::mem::free(p);
    gort::mem::free(keep);
  });
}

// A magazine entry carries its object's alloc bit packed into one number (the bitmap's
// address and the object's index): objects in later bitmap words come back with their own
// bit set, in their own word, and every other bit of the span as it was.
TEST(Magazine, PopRestoresTheBitInEveryBitmapWord) {
  on_fresh_thread([] {
    constexpr std::size_t size = 16;  // 512 objects per span: eight bitmap words
    std::vector<void*> v;
    for (int i = 0; i < 450; i++) v.push_back(gort::mem::alloc(size));
    gm::mspan* s = gm::span_of(reinterpret_cast<std::uintptr_t>(v[0]));
    ASSERT_EQ(s->nwords(), 8u);
    auto bitmap = [s] {
      std::vector<std::uint64_t> w;
      for (std::uint32_t i = 0; i < s->nwords(); i++) w.push_back(s->alloc_bits[i].load());
      return w;
    };
    int checked = 0;
    for (void* p : v) {
      if (gm::span_of(reinterpret_cast<std::uintptr_t>(p)) != s) continue;
      std::uint32_t idx = s->obj_index(reinterpret_cast<std::uintptr_t>(p));
      if (idx != 63 && idx != 64 && idx != 200 && idx != 449) continue;
      const std::vector<std::uint64_t> before = bitmap();
      ASSERT_NE(before[idx / 64] & (std::uint64_t{1} << (idx % 64)), 0u) << idx;
      gort::mem::free(p);
      std::vector<std::uint64_t> freed = before;
      freed[idx / 64] &= ~(std::uint64_t{1} << (idx % 64));
      EXPECT_TRUE(gm::peek_mcache()->in_magazine(s->spanclass, p)) << idx;
      EXPECT_EQ(bitmap(), freed) << idx;
      EXPECT_EQ(gort::mem::alloc(size), p) << idx;
      EXPECT_EQ(bitmap(), before) << idx;
      checked++;
    }
    EXPECT_EQ(checked, 4);
    for (void* p : v) gort::mem::free(p);
  });
}

// Allocations off mallocgc's fast path pop the magazine too: noscan classes, and the
// class an alignment picks. Before they did, a thread's frees of them waited in the
// magazine until it exited, and a bitmap scan ran with them there (next_free now treats
// that as a fatal error). Here 110 objects of one span are freed: the 30 the magazine
// took come back first, newest first, then the bitmap's, each handed out once.
TEST(Magazine, NoscanAndAlignedAllocationsReuseIt) {
  on_fresh_thread([] {
    constexpr std::size_t size = 48;
    std::vector<void*> v;
    for (int i = 0; i < 800; i++) v.push_back(gort::mem::alloc_noscan(size));
    gm::mspan* first = gm::span_of(reinterpret_cast<std::uintptr_t>(v[0]));
    std::vector<void*> in_first;
    for (void*& p : v)
      if (gm::span_of(reinterpret_cast<std::uintptr_t>(p)) == first && in_first.size() < 110) {
        in_first.push_back(p);
        p = nullptr;
      }
    ASSERT_EQ(in_first.size(), 110u);
    for (void* p : in_first) gort::mem::free(p);  // 30 to the magazine, 80 to the bitmap
    std::uint32_t cap = gm::magazine_capacity(size);
    ASSERT_EQ(gm::peek_mcache()->magazine_objects(first), cap);
    for (std::uint32_t i = 0; i < cap; i++)
      ASSERT_EQ(gort::mem::alloc_noscan(size), in_first[cap - 1 - i]) << "pop " << i;
    EXPECT_EQ(gm::peek_mcache()->magazine_objects(first), 0u);
    std::set<void*> live(in_first.begin(), in_first.begin() + cap);
    for (void* p : v)
      if (p != nullptr) live.insert(p);
    for (int i = 0; i < 400; i++)
      ASSERT_TRUE(live.insert(gort::mem::alloc_noscan(size)).second) << "handed out twice, i " << i;
    for (void* p : live) gort::mem::free(p);

    // 48 bytes aligned to 64 come from the 64-byte class, whose magazine the free fills.
    void* keep = gort::mem::alloc(48, 64);
    void* a = gort::mem::alloc(48, 64);
    gort::mem::free(a);
    int spc = gm::span_of(reinterpret_cast<std::uintptr_t>(a))->spanclass;
    EXPECT_TRUE(gm::peek_mcache()->in_magazine(spc, a));
    EXPECT_EQ(gort::mem::alloc(48, 64), a);
    gort::mem::free(a);
    gort::mem::free(keep);
  });
}

// A magazine takes up to its class's capacity (30 small objects, fewer for large classes:
// 64 KiB per class, at least 4); the frees past it go to the span's bitmap, and the
// magazine's objects come back last-freed first.
TEST(Magazine, HoldsItsCapacityThenFreesToTheSpan) {
  EXPECT_EQ(gm::magazine_capacity(48), 30u);
  EXPECT_EQ(gm::magazine_capacity(4096), 16u);
  EXPECT_EQ(gm::magazine_capacity(32768), 4u);
  on_fresh_thread([] {
    for (std::size_t size : {48u, 4096u, 32768u}) {
      std::uint32_t cap = gm::magazine_capacity(gm::class_to_size[gm::size_to_class(size)]);
      std::vector<void*> v;
      for (std::uint32_t i = 0; i < cap + 3; i++) v.push_back(gort::mem::alloc(size));
      for (void* p : v) gort::mem::free(p);
      // The first cap frees filled the magazine; the last 3 cleared their alloc bits.
      for (std::uint32_t i = cap; i < cap + 3; i++) {
        auto a = reinterpret_cast<std::uintptr_t>(v[i]);
        gm::mspan* s = gm::span_of(a);
        std::uint32_t idx = s->obj_index(a);
        EXPECT_EQ(s->alloc_bits[idx / 64].load() & (std::uint64_t{1} << (idx % 64)), 0u) << size;
      }
      for (std::uint32_t i = 0; i < cap; i++)
        ASSERT_EQ(gort::mem::alloc(size), v[cap - 1 - i]) << "size " << size << " pop " << i;
      for (std::uint32_t i = 0; i < cap; i++) gort::mem::free(v[i]);
    }
  });
}

#endif  // magazines are off under ASan; the tests below hold either way

// A producer whose objects another thread frees keeps at most cross_retain_max such spans
// per class: the rest go back to mcentral, where any thread finds the room (a producer
// blocked on a full queue would otherwise sit on spans that are entirely free).
TEST(Retained, SpansFreedOnlyByOtherThreadsGoBackToMcentral) {
  constexpr std::size_t size = 48;
  constexpr int per_round = 40 * (8192 / 48);  // about 40 spans' worth
  constexpr int spc = gm::make_span_class(gm::size_to_class(size), false);
  // Round 0 fills spans that round 1 finds freed by the consumer alone (marked cross);
  // from then on, retaining stops at the bound. A reclaim between two rounds (the
  // scavenger's once a second, or the heap about to grow) hands the emptied spans back to
  // the heap, and the next round's fresh spans are not known as cross yet: that round
  // keeps more, so the experiment is tried again (three misses in a row fail).
  std::uint32_t most = 0;
  for (int attempt = 0; attempt < 3; attempt++) {
    on_fresh_thread([&most] {
      most = 0;
      for (int round = 0; round < 4; round++) {
        std::vector<void*> v;
        for (int i = 0; i < per_round; i++) v.push_back(gort::mem::alloc(size));
        if (round >= 2) most = std::max(most, gm::peek_mcache()->nretained[spc]);
        std::thread consumer([&v] {
          for (void* p : v) gort::mem::free(p);
        });
        consumer.join();
      }
    });
    if (most <= gm::cross_retain_max) break;
  }
  EXPECT_LE(most, gm::cross_retain_max);
}

// Frees the owner makes into a span it keeps aside (retained) are counted down to the
// two moments it must act (mspan::free_countdown): when the span has room again (live
// count down to room_mark) it moves to the front of the retained list, and at its last
// object it leaves the list for the page cache.
TEST(Retained, SpanWithRoomMovesToTheFrontAndLeavesWhenEmpty) {
  constexpr std::size_t size = 48;
  constexpr int spc = gm::make_span_class(gm::size_to_class(size), false);
  on_fresh_thread([] {
    // Three spans run full and are retained; the fourth (d) is the current one.
    std::vector<std::vector<void*>> by_span;
    std::vector<gm::mspan*> spans;
    while (spans.size() < 4 || by_span[3].size() < 40) {
      void* p = gort::mem::alloc(size);
      gm::mspan* s = gm::span_of(reinterpret_cast<std::uintptr_t>(p));
      if (spans.empty() || spans.back() != s) {
        spans.push_back(s);
        by_span.emplace_back();
      }
      by_span.back().push_back(p);
    }
    gm::mcache* c = gm::peek_mcache();
    ASSERT_EQ(c->alloc[spc], spans[3]);
    ASSERT_EQ(c->nretained[spc], 3u);
    // Free the objects of a retained span that is not at the front (refills rotate the list).
    gm::mspan* head = c->retained_head[spc];
    const int t = head == spans[0] ? 1 : 0;
    gm::mspan* b = spans[t];
    std::vector<void*>& objs = by_span[t];
    ASSERT_EQ(objs.size(), b->nelems);
    // Fill the magazine with d's objects, so that the frees below go to b's bitmap.
    if (gm::use_magazines)
      for (std::uint32_t i = 0; i < gm::magazine_capacity(size); i++) gort::mem::free(by_span[3][i]);
    const std::uint32_t to_room = b->nelems - b->room_mark;
    std::size_t next = 0;
    for (; next + 1 < to_room; next++) gort::mem::free(objs[next]);
    EXPECT_EQ(c->retained_head[spc], head) << "moved before it has room";
    gort::mem::free(objs[next++]);
    EXPECT_EQ(c->retained_head[spc], b) << "has room after " << to_room << " frees";
    std::size_t cached_before = cached_pages();
    for (; next + 1 < objs.size(); next++) gort::mem::free(objs[next]);
    EXPECT_EQ(b->state.load(), gm::span_in_use) << "given back before its last object";
    gort::mem::free(objs[next]);
    EXPECT_EQ(b->state.load(), gm::span_dead);
    EXPECT_EQ(c->nretained[spc], 2u);
    EXPECT_EQ(cached_pages(), cached_before + gm::class_to_npages[gm::size_to_class(size)]);
    EXPECT_EQ(c->retained_head[spc], head);
    for (int k : {0, 1, 2})
      if (k != t)
        for (void* p : by_span[k]) gort::mem::free(p);
    for (std::size_t i = gm::use_magazines ? gm::magazine_capacity(size) : 0; i < by_span[3].size(); i++)
      gort::mem::free(by_span[3][i]);
  });
}

// The current span counts its frees down too (the free fast path does not tell it from a
// retained one); each time the count runs out it restarts and the span stays current.
TEST(Retained, TheCurrentSpanOutlivesItsFreeCountdown) {
  constexpr std::size_t size = 16, per_round = 100;
  constexpr int spc = gm::make_span_class(gm::size_to_class(size), false);
  on_fresh_thread([] {
    void* first = gort::mem::alloc(size);
    gm::mcache* c = gm::peek_mcache();
    gm::mspan* s = c->alloc[spc];
    ASSERT_EQ(gm::span_of(reinterpret_cast<std::uintptr_t>(first)), s);
    ASSERT_EQ(s->free_countdown, gm::mspan::countdown_unretained);
    // Each round's first frees fill the magazine; the rest go to the span's bitmap.
    const std::size_t to_bitmap = per_round - (gm::use_magazines ? gm::magazine_capacity(size) : 0);
    const std::size_t rounds = 70000 / to_bitmap + 1;
    for (std::size_t r = 0; r < rounds; r++) {
      std::vector<void*> v;
      for (std::size_t i = 0; i < per_round; i++) {
        v.push_back(gort::mem::alloc(size));
        std::memset(v.back(), int(i), size);
      }
      for (std::size_t i = 0; i < per_round; i++) {
        ASSERT_EQ(gm::span_of(reinterpret_cast<std::uintptr_t>(v[i])), s) << "round " << r;
        ASSERT_EQ(static_cast<unsigned char*>(v[i])[size - 1], static_cast<unsigned char>(i));
      }
      for (void* p : v) gort::mem::free(p);
    }
    const std::size_t frees = rounds * to_bitmap;
    ASSERT_GT(frees, std::size_t{gm::mspan::countdown_unretained});
    EXPECT_EQ(c->alloc[spc], s);
    EXPECT_TRUE(s->owned_by(c));
    EXPECT_FALSE(s->retained);
    EXPECT_EQ(s->free_countdown, gm::mspan::countdown_unretained - frees % gm::mspan::countdown_unretained);
    gort::mem::free(first);
  });
}

// Objects in a magazine are never handed out by the bitmap as well; every pointer handed
// out is distinct.
TEST(Magazine, ObjectsAreNeverHandedOutTwice) {
  on_fresh_thread([] {
    for (std::size_t size : {16u, 48u, 512u, 3072u}) {
      std::vector<void*> v;
      for (int i = 0; i < 3000; i++) v.push_back(gort::mem::alloc(size));
      // Free a scattered subset (several spans, some of them retained by now) ...
      for (std::size_t i = 0; i < v.size(); i += 7) {
        gort::mem::free(v[i]);
        v[i] = nullptr;
      }
      // ... then allocate through many windows and spans: every pointer is distinct.
      std::set<void*> live;
      for (void* p : v)
        if (p != nullptr) live.insert(p);
      for (int i = 0; i < 3000; i++) {
        void* p = gort::mem::alloc(size);
        ASSERT_TRUE(live.insert(p).second) << "handed out twice: size " << size << " i " << i;
        v.push_back(p);
      }
      for (void* p : v)
        if (p != nullptr) gort::mem::free(p);
    }
  });
}

TEST(Magazine, ThreadExitReturnsItsObjects) {
  auto before = gort::read_mem_stats();
  on_fresh_thread([] {
    std::vector<void*> v;
    for (int i = 0; i < 1000; i++) v.push_back(gort::mem::alloc(24 + i % 200));
    for (void* p : v) gort::mem::free(p);
  });
  auto after = gort::read_mem_stats();
  EXPECT_EQ(after.heap_objects, before.heap_objects);
  // No span stays pinned by objects left in the dead thread's magazines.
  EXPECT_LE(after.heap_inuse, before.heap_inuse + 4 * gm::page_size);
}

// A thread's cache outlives the thread, on the heap's free list for the next one; its
// pages but the first go back to the OS at the scavenger's next tick (or free_os_memory),
// so threads that came and went keep no cache resident (500 threads: 52 -> 16 MB RSS a
// tick after they exit). Eight threads at once have eight caches; one may be taken again
// by a thread of the runtime before the check, so seven must have gone back.
TEST(Caches, DeadThreadsCachesGiveBackTheirPages) {
  constexpr int kThreads = 8;
  std::vector<const gm::mcache*> dead(kThreads);
  std::atomic<int> arrived{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; i++)
    ts.emplace_back([&, i] {
      gort::mem::free(gort::mem::alloc(64));
      dead[i] = gm::peek_mcache();
      arrived++;
      while (arrived.load() < kThreads) std::this_thread::yield();  // all alive at once
    });
  for (auto& t : ts) t.join();
  gort::debug::free_os_memory();
  const std::size_t os_page = std::size_t(sysconf(_SC_PAGESIZE));
  int released = 0;
  for (const gm::mcache* c : dead) {
    ASSERT_NE(c, nullptr);
    std::uintptr_t lo = (reinterpret_cast<std::uintptr_t>(c) + gm::page_size) & ~(gm::page_size - 1);
    std::uintptr_t hi = (reinterpret_cast<std::uintptr_t>(c) + sizeof(gm::mcache)) & ~(gm::page_size - 1);
    ASSERT_GT(hi, lo);
    std::vector<unsigned char> vec((hi - lo) / os_page);
    ASSERT_EQ(mincore(reinterpret_cast<void*>(lo), hi - lo, vec.data()), 0);
    int resident = 0;
    for (unsigned char v : vec) resident += v & 1;
    if (resident == 0) released++;
  }
  EXPECT_GE(released, kThreads - 1);
  std::thread([] { gort::mem::free(gort::mem::alloc(64)); }).join();  // a fresh cache still works
}

}  // namespace

namespace {

// The free path's one multiply (mspan::locate, div_magic) gives every offset inside a
// span of every class its object's index and whether it is that object's first byte,
// exactly as a division would; and the fast path's span-class table agrees with the size
// classes for every small size.
TEST(SpanGeometry, LocateMatchesDivisionForEveryOffsetOfEveryClass) {
  for (int cls = 1; cls < gm::num_size_classes; cls++) {
    gm::mspan s{};
    s.start = gm::arena_base_hint;
    s.npages = gm::class_to_npages[cls];
    gm::init_span_class(&s, gm::make_span_class(cls, false), false);
    const std::size_t size = gm::class_to_size[cls];
    ASSERT_EQ(s.elemsize, size);
    ASSERT_EQ(s.nelems, s.npages * gm::page_size / size);
    for (std::size_t off = 0; off < s.npages * gm::page_size; off++) {
      gm::mspan::position pos = s.locate(s.start + off);
      ASSERT_EQ(pos.idx, off / size) << "class " << cls << " offset " << off;
      ASSERT_EQ(pos.at_start, off % size == 0) << "class " << cls << " offset " << off;
    }
  }
}

TEST(SpanGeometry, ScanSpanClassTableMatchesSizeClasses) {
  for (std::size_t size = 1; size <= gm::max_small_size; size++)
    ASSERT_EQ(gm::size_to_scan_spanclass(size), gm::make_span_class(gm::size_to_class(size), false))
        << "size " << size;
}

}  // namespace

namespace {

constexpr std::uint8_t large_class = gm::make_span_class(0, false);

// The heap hands back the span of n pages freed last, not the lowest free run of n pages
// (what the page allocator alone would find): its pages are the ones a span of that size
// touched last.
TEST(HeapStash, ReusesTheNewestSpanOfASizeFirst) {
  gort::debug::free_os_memory();  // the stash starts empty
  ASSERT_EQ(gm::heap_stash_pages(), 0u);
  gm::mspan* a = gm::heap_alloc_span(large_pages, large_class, 1);
  gm::mspan* b = gm::heap_alloc_span(large_pages, large_class, 1);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::uintptr_t a_start = a->start, b_start = b->start;
  ASSERT_LT(a_start, b_start);  // first fit: the lower run first
  gm::heap_free_span(a);
  gm::heap_free_span(b);
  EXPECT_EQ(gm::heap_stash_pages(), 2 * large_pages);
  EXPECT_FALSE(gm::owns(reinterpret_cast<void*>(b_start)));  // dead while stashed
  gm::mspan* c = gm::heap_alloc_span(large_pages, large_class, 1);
  gm::mspan* d = gm::heap_alloc_span(large_pages, large_class, 1);
  EXPECT_EQ(c->start, b_start);
  EXPECT_EQ(d->start, a_start);
  EXPECT_EQ(c->state.load(), gm::span_in_use);
  EXPECT_EQ(gm::heap_stash_pages(), 0u);
  gm::heap_free_span(c);
  gm::heap_free_span(d);
  gort::debug::free_os_memory();
  EXPECT_EQ(gm::heap_stash_pages(), 0u);
  auto st = gort::read_mem_stats();
  EXPECT_EQ(st.heap_released, st.heap_idle);  // stashed pages went back and out
}

// Stashed spans count as idle heap, not in use, and leave the stash two scavenger ticks
// after they entered it.
TEST(HeapStash, IsIdleHeapAndAgesOutAfterTwoTicks) {
  gort::debug::free_os_memory();
  auto before = gort::read_mem_stats();
  gm::mspan* s = gm::heap_alloc_span(large_pages, large_class, 1);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(gort::read_mem_stats().heap_inuse, before.heap_inuse + large_pages * gm::page_size);
  std::uint32_t t0 = gm::scavenger_ticks.load();
  gm::heap_free_span(s);
  EXPECT_EQ(gm::heap_stash_pages(), large_pages);
  EXPECT_EQ(gort::read_mem_stats().heap_inuse, before.heap_inuse);
  // The ticks are the scavenger's; bumping them here stands in for 100 ms of it (if an
  // earlier test started the scavenger, its own tick may come in between).
  gm::scavenger_ticks.fetch_add(1);
  gm::scavenge(false);
  if (gm::scavenger_ticks.load() - t0 == 1) {
    EXPECT_EQ(gm::heap_stash_pages(), large_pages) << "one tick is not enough";
  }
  gm::scavenger_ticks.fetch_add(1);
  gm::scavenge(false);
  EXPECT_EQ(gm::heap_stash_pages(), 0u);
}

// However many spans come in, the stash holds at most an eighth of the heap in use, and
// never less room than span_stash_min_pages.
TEST(HeapStash, IsBounded) {
  gort::debug::free_os_memory();
  constexpr std::size_t pages = 8;
  std::vector<gm::mspan*> spans;
  for (int i = 0; i < 400; i++) spans.push_back(gm::heap_alloc_span(pages, large_class, 1));
  std::size_t peak_inuse_pages = gort::read_mem_stats().heap_inuse / gm::page_size;
  std::size_t bound = std::max(gm::span_stash_min_pages, peak_inuse_pages / 8);
  ASSERT_LT(bound, 400 * pages);  // the test exceeds it
  std::uint32_t t0 = gm::scavenger_ticks.load();
  for (gm::mspan* s : spans) {
    ASSERT_NE(s, nullptr);
    gm::heap_free_span(s);
    ASSERT_LE(gm::heap_stash_pages(), bound);
  }
  if (gm::scavenger_ticks.load() - t0 < 2) {  // nothing aged out meanwhile
    EXPECT_GE(gm::heap_stash_pages(), bound - pages);  // full up to the last span's room
  }
  gort::debug::free_os_memory();
  EXPECT_EQ(gm::heap_stash_pages(), 0u);
}

}  // namespace
