// p_cache_test: the per-P caches (src/malloc/mcache.cpp). A thread allocates from its P's
// cache while it holds a P and from its own otherwise (blocking calls included), so the
// caches stay bounded by GOMAXPROCS plus the threads that allocate without a P; two
// threads never use one cache at once (bind_cache stops the process if they would, and
// TSan sees every hand-off); a P that procresize kills gives everything back; the stats
// count the P caches.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "malloc/malloc.hpp"

namespace {

namespace gm = gort::malloc;

// Allocates n objects of mixed small sizes, fills them, checks them and frees them.
void churn(int n, unsigned seed) {
  std::vector<std::pair<unsigned char*, std::size_t>> v;
  v.reserve(std::size_t(n));
  for (int i = 0; i < n; i++) {
    std::size_t sz = 8 + (seed * 2654435761u + unsigned(i) * 40503u) % 2000;
    auto* p = static_cast<unsigned char*>(gort::mem::alloc(sz));
    std::memset(p, int((seed + unsigned(i)) & 0xff), sz);
    v.emplace_back(p, sz);
  }
  for (int i = 0; i < n; i++) {
    auto [p, sz] = v[std::size_t(i)];
    ASSERT_EQ(p[0], (seed + unsigned(i)) & 0xff);
    ASSERT_EQ(p[sz - 1], (seed + unsigned(i)) & 0xff);
    gort::mem::free(p);
  }
}

TEST(PCache, GoroutinesAllocateFromTheirPsCache) {
  std::atomic<int> on_p{0}, off_p{0}, back_on_p{0};
  gort::run([&] {
    gort::gomaxprocs(2);
    EXPECT_TRUE(gm::current_cache_is_p_cache());
    auto objs = gort::make_chan<void*>(64);
    gort::sync::wait_group wg;
    for (int k = 0; k < 8; k++) {
      wg.add(1);
      gort::go([&, k] {
        if (gm::current_cache_is_p_cache()) on_p++;
        for (int i = 0; i < 200; i++) {  // objects freed by whichever goroutine gets them
          auto* p = static_cast<int*>(gort::mem::alloc(48));
          *p = k * 1000 + i;
          objs.send(p);
          void* q = objs.recv();
          EXPECT_GE(*static_cast<int*>(q), 0);
          gort::mem::free(q);
          if (i % 50 == 0) gort::yield();
        }
        gort::syscall([&] {
          if (!gm::current_cache_is_p_cache()) off_p++;
          churn(50, unsigned(k));  // the thread's own cache
        });
        if (gm::current_cache_is_p_cache()) back_on_p++;
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(on_p.load(), 8);
  EXPECT_EQ(off_p.load(), 8);
  EXPECT_EQ(back_on_p.load(), 8);
  EXPECT_FALSE(gm::current_cache_is_p_cache());  // gort::run gave its P back
}

TEST(PCache, CachesStayBoundedWhileGoroutinesBlock) {
  // 50 goroutines in gort::blocking at once: each call hands its P off, so about 50 Ms
  // exist. Their allocations before and after the call come from the 2 Ps' caches; with a
  // cache per M there would be one per M.
  std::size_t base = 0, during = 0, after = 0;
  gort::run([&] {
    gort::gomaxprocs(2);
    churn(10, 1);
    base = gm::live_caches();
    gort::sync::wait_group wg;
    std::atomic<int> in_call{0};
    auto release = gort::make_chan<int>();
    for (int k = 0; k < 50; k++) {
      wg.add(1);
      gort::go([&, k] {
        churn(100, unsigned(k));
        gort::blocking([&] {
          in_call++;
          while (in_call.load() < 50) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        });
        churn(100, unsigned(k) + 100);
        wg.done();
      });
    }
    wg.wait();
    during = gm::live_caches();
    // Another round on the same Ms: still no new caches.
    for (int k = 0; k < 50; k++) {
      wg.add(1);
      gort::go([&, k] {
        gort::blocking([] { std::this_thread::sleep_for(std::chrono::milliseconds(5)); });
        churn(100, unsigned(k) + 200);
        wg.done();
      });
    }
    wg.wait();
    after = gm::live_caches();
  });
  // Ms that allocate on the scheduler's own stack without a P (rare) make a cache of their
  // own; a handful at most, never one per M.
  EXPECT_LE(during, base + 4) << "base " << base;
  EXPECT_LE(after, base + 4) << "base " << base;
}

TEST(PCache, SysmonRetakeNeverSharesACache) {
  // Goroutines allocate inside gort::syscall calls long enough (50 ms) that sysmon hands
  // their P, and its cache, to another M, which allocates from it meanwhile; the objects
  // made inside the call are freed after it on the P's cache (remote frees), and
  // objects made on a P are freed inside calls. A shared cache stops the process
  // (bind_cache) and shows as a race under TSan.
  std::atomic<int> wrong{0};
  gort::run([&] {
    gort::gomaxprocs(2);
    gort::sync::wait_group wg;
    std::atomic<bool> stop{false};
    for (int k = 0; k < 2; k++) {  // keep both Ps' caches busy
      wg.add(1);
      gort::go([&, k] {
        unsigned i = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          churn(30, unsigned(k) * 7919 + i++);
          gort::yield();
        }
        wg.done();
      });
    }
    gort::sync::wait_group callers;
    for (int k = 0; k < 4; k++) {
      callers.add(1);
      gort::go([&, k] {
        for (int round = 0; round < 30; round++) {
          std::vector<void*> mine;
          for (int i = 0; i < 20; i++) mine.push_back(gort::mem::alloc(32 + std::size_t(i) * 24));
          std::vector<void*> made_inside;
          // Mostly short calls (the fast way back, racing sysmon), every tenth long enough
          // that sysmon surely retakes the P.
          int ms = round % 10 == 9 ? 50 : round % 2;
          gort::syscall([&] {
            if (gm::current_cache_is_p_cache()) wrong++;
            for (void* p : mine) gort::mem::free(p);
            churn(20, unsigned(k * 100 + round));
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            for (int i = 0; i < 20; i++) {
              auto* p = static_cast<unsigned char*>(gort::mem::alloc(64));
              std::memset(p, 0x5a, 64);
              made_inside.push_back(p);
            }
          });
          if (!gm::current_cache_is_p_cache()) wrong++;
          for (void* p : made_inside) {
            EXPECT_EQ(static_cast<unsigned char*>(p)[63], 0x5a);
            gort::mem::free(p);
          }
        }
        callers.done();
      });
    }
    callers.wait();
    stop.store(true);
    wg.wait();
  });
  EXPECT_EQ(wrong.load(), 0);
}

TEST(PCache, ShrinkingGomaxprocsStrandsNothing) {
  std::uint64_t base = 0, shrunk = 0, regrown = 0;
  gort::run([&] {
    gort::gomaxprocs(1);
    gort::debug::free_os_memory();
    base = gort::read_mem_stats().heap_inuse;
    gort::gomaxprocs(4);
    // Every P fills its cache: small spans, and large objects of 64 KiB whose empty spans
    // stay in the P's page cache (up to 8 MiB each).
    gort::sync::wait_group wg;
    for (int k = 0; k < 16; k++) {
      wg.add(1);
      gort::go([&, k] {
        for (int r = 0; r < 4; r++) {
          std::vector<void*> big;
          for (int i = 0; i < 24; i++) big.push_back(gort::mem::alloc(64 << 10));
          for (void* p : big) gort::mem::free(p);
          churn(200, unsigned(k * 10 + r));
          gort::yield();
        }
        wg.done();
      });
    }
    wg.wait();
    gort::gomaxprocs(1);  // Ps 1..3 die: their caches must give everything back
    gort::debug::free_os_memory();  // this P's cache and mcentral's empty spans
    shrunk = gort::read_mem_stats().heap_inuse;
    gort::gomaxprocs(4);
    wg.add(8);
    for (int k = 0; k < 8; k++) gort::go([&, k] { churn(100, unsigned(k)); wg.done(); });
    wg.wait();
    gort::gomaxprocs(1);
    gort::debug::free_os_memory();
    regrown = gort::read_mem_stats().heap_inuse;
  });
  // Slack for what the runtime keeps (g structs, a few spans other threads hold).
  constexpr std::uint64_t slack = 1 << 20;
  EXPECT_LE(shrunk, base + slack) << "base " << base;
  EXPECT_LE(regrown, base + slack) << "base " << base;
}

TEST(PCache, StatsCountThePCaches) {
  gort::run([] {
    gort::gomaxprocs(2);
    constexpr int n = 2000;
    auto objs = gort::make_chan<void*>(n);
    gort::sync::wait_group wg;
    auto fill = [&](int count) {
      for (int k = 0; k < 4; k++) {
        wg.add(1);
        gort::go([&, count] {
          for (int i = 0; i < count; i++) objs.send(gort::mem::alloc(100));
          wg.done();
        });
      }
      wg.wait();
    };
    fill(1);  // warm up: goroutines and the channel made before the first reading
    for (int i = 0; i < 4; i++) gort::mem::free(objs.recv());
    gort::debug::free_os_memory();
    gort::mem_stats before = gort::read_mem_stats();
    fill(n / 4);
    gort::mem_stats mid = gort::read_mem_stats();
    // Small objects count when a cache loads them into its window (64 at most), so those
    // another cache loaded before the first reading count there already.
    const std::uint64_t early = gm::live_caches() * 64;
    // read_mem_stats takes back the unused window objects of the caller's cache only. If
    // main ran on the other P at the first reading, this P's unused objects (of any class)
    // counted then and are taken back now (under load, wg.wait() often resumes main on
    // the other P).
    std::uint64_t taken_back = 0, taken_back_bytes = 0;
    for (int i = 1; i < gm::num_size_classes; i++) {
      std::uint64_t u = gm::peek_mcache()->unused_in_cache(i);
      taken_back += u;
      taken_back_bytes += u * gm::class_to_size[i];
    }
    EXPECT_GE(mid.mallocs - before.mallocs + early + taken_back, std::uint64_t(n));
    EXPECT_GE(mid.heap_alloc - before.heap_alloc + early * 112 + taken_back_bytes, std::uint64_t(n) * 112);
    EXPECT_GE(mid.heap_objects - before.heap_objects + early + taken_back, std::uint64_t(n));
    EXPECT_GE(mid.mcache_inuse, gm::live_caches() * sizeof(gm::mcache));
    for (int i = 0; i < n; i++) gort::mem::free(objs.recv());
    gort::mem_stats end = gort::read_mem_stats();
    EXPECT_GE(end.frees - mid.frees, std::uint64_t(n));
    // Left counted: what other caches loaded into their windows and have not handed out
    // (64 objects per class and cache at most; only class 112 B moved here).
    EXPECT_LE(end.heap_alloc, before.heap_alloc + gm::live_caches() * 64 * 112);
    EXPECT_LT(end.heap_alloc, mid.heap_alloc - std::uint64_t(n) * 100 + 64 * 112 * 4);
  });
}

TEST(PCache, ThreadExitReleasesOnlyItsOwnCache) {
  std::size_t inside = 0, after = 0;
  int ok_after = 0;
  gort::run([&] {
    gort::gomaxprocs(2);
    gort::lock_os_thread();  // keeps the goroutine below off the main thread, which stays
    gort::sync::wait_group wg;
    wg.add(1);
    gort::go([&] {
      gort::lock_os_thread();  // exits locked: its thread ends with it
      churn(50, 1);                             // the P's cache
      gort::syscall([&] { churn(50, 2); });     // the thread's own, made here if new
      inside = gm::live_caches();
      wg.done();
    });
    wg.wait();
    for (int i = 0; i < 400 && gm::live_caches() >= inside; i++)
      gort::syscall([] { std::this_thread::sleep_for(std::chrono::milliseconds(5)); });
    after = gm::live_caches();
    // Both Ps' caches are still there and usable by whoever holds the Ps.
    wg.add(4);
    std::atomic<int> ok{0};
    for (int k = 0; k < 4; k++)
      gort::go([&, k] {
        churn(100, unsigned(k));
        if (gm::current_cache_is_p_cache()) ok++;
        wg.done();
      });
    wg.wait();
    ok_after = ok.load();
    gort::unlock_os_thread();
  });
  EXPECT_EQ(after, inside - 1);
  EXPECT_EQ(ok_after, 4);
}

TEST(PCache, ForkFromAGoroutineWhileTheOtherPAllocates) {
  // The child's only thread keeps its P's cache and allocates from it; the other P's
  // cache (in use by a thread the child does not have) is left alone, and frees of its
  // objects are remote frees that work in the child.
  int status = -1;
  gort::run([&] {
    gort::gomaxprocs(2);
    std::atomic<bool> stop{false};
    auto made = gort::make_chan<void*>(64);
    gort::sync::wait_group wg;
    wg.add(1);
    gort::go([&] {
      for (int i = 0; i < 64; i++) made.send(gort::mem::alloc(200));
      unsigned r = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        churn(20, r++);
        gort::yield();
      }
      wg.done();
    });
    std::vector<void*> theirs;
    for (int i = 0; i < 64; i++) theirs.push_back(made.recv());
    pid_t pid = fork();
    if (pid == 0) {
      bool ok = gm::current_cache_is_p_cache();
      for (void* p : theirs) gort::mem::free(p);
      for (int i = 0; i < 200; i++) {
        auto* p = static_cast<unsigned char*>(gort::mem::alloc(std::size_t(16 + i * 8)));
        std::memset(p, i & 0xff, std::size_t(16 + i * 8));
        ok = ok && p[15] == (i & 0xff);
        gort::mem::free(p);
      }
      _exit(ok ? 0 : 1);
    }
    ASSERT_GT(pid, 0);
    gort::syscall([&] { waitpid(pid, &status, 0); });
    for (void* p : theirs) gort::mem::free(p);
    stop.store(true);
    wg.wait();
  });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
