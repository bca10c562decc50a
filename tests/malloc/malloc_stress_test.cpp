// malloc_stress_test: randomised multi-threaded runs of the allocator. Threads (and, in the
// second test, goroutines migrating between Ms) allocate random sizes, resize ("realloc":
// a large object grows in place where it can, else allocate, copy, free), free their own
// objects and hand others to other threads to free, with every object's contents checked
// before it is freed or copied, in one run while another thread releases free pages to
// the OS over and over. Ends with every object freed and the heap's live-object count back
// where it started.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "malloc/malloc.hpp"

namespace {

#if defined(GORT_TSAN) || defined(GORT_ASAN)
constexpr int kOps = 20000;
#else
constexpr int kOps = 200000;
#endif

struct obj {
  unsigned char* p;
  std::size_t size;
  std::uint32_t tag;
};

std::size_t random_size(std::mt19937& rng) {
  std::uint32_t r = rng() % 1000;
  if (r < 500) return 1 + rng() % 64;
  if (r < 900) return 1 + rng() % 1024;
  if (r < 995) return 1 + rng() % 32768;
  return 32769 + rng() % (1 << 20);
}

void fill(obj& o) {
  std::memset(o.p, static_cast<int>(o.tag & 0xff), o.size);
  if (o.size >= 4) std::memcpy(o.p, &o.tag, 4);
}

bool intact(const obj& o) {
  if (o.size >= 4) {
    std::uint32_t t;
    std::memcpy(&t, o.p, 4);
    if (t != o.tag) return false;
  }
  for (std::size_t i = o.size >= 4 ? 4 : 0; i < o.size; i++)
    if (o.p[i] != static_cast<unsigned char>(o.tag & 0xff)) return false;
  return true;
}

// Per-thread mailboxes: objects another thread must check and free.
struct mailbox {
  std::mutex mu;
  std::vector<obj> objs;
};

void worker(int id, int nthreads, std::vector<mailbox>& boxes, std::atomic<long>& bad,
            void (*yield_fn)()) {
  std::mt19937 rng(id * 7919 + 1);
  std::vector<obj> mine;
  std::uint32_t next_tag = std::uint32_t(id) << 24;
  for (int op = 0; op < kOps; op++) {
    if (op % 64 == 0) yield_fn();  // a goroutine may come back on another M (another mcache)
    std::uint32_t r = rng() % 100;
    if (r < 45 || mine.empty()) {
      std::size_t n = random_size(rng);
      obj o{static_cast<unsigned char*>(gort::mem::alloc(n)), n, next_tag++};
      if (gort::mem::usable_size(o.p) < n) bad++;
      fill(o);
      mine.push_back(o);
    } else if (r < 75) {
      std::size_t k = rng() % mine.size();
      if (!intact(mine[k])) bad++;
      gort::mem::free(mine[k].p);
      mine[k] = mine.back();
      mine.pop_back();
    } else if (r < 85) {  // realloc; a large object that grows does it in place if it can
      obj& o = mine[rng() % mine.size()];
      if (!intact(o)) bad++;
      std::size_t n = o.size > 32768 && rng() % 2 == 0 ? o.size + rng() % (256 << 10) : random_size(rng);
      if (n > o.size && gort::malloc::grow_in_place(o.p, n)) {
        o.size = n;
        fill(o);
        continue;
      }
      auto* q = static_cast<unsigned char*>(gort::mem::alloc(n));
      std::memcpy(q, o.p, n < o.size ? n : o.size);
      gort::mem::free(o.p);
      o.p = q;
      o.size = n;
      fill(o);
    } else if (r < 97) {  // hand to another thread
      std::size_t k = rng() % mine.size();
      int to = int(rng() % nthreads);
      {
        std::lock_guard<std::mutex> g(boxes[to].mu);
        boxes[to].objs.push_back(mine[k]);
      }
      mine[k] = mine.back();
      mine.pop_back();
    } else {  // drain my mailbox
      std::vector<obj> got;
      {
        std::lock_guard<std::mutex> g(boxes[id].mu);
        got.swap(boxes[id].objs);
      }
      for (auto& o : got) {
        if (!intact(o)) bad++;
        gort::mem::free(o.p);
      }
    }
    if (mine.size() > 2000) {
      for (auto& o : mine) {
        if (!intact(o)) bad++;
        gort::mem::free(o.p);
      }
      mine.clear();
    }
  }
  for (auto& o : mine) {
    if (!intact(o)) bad++;
    gort::mem::free(o.p);
  }
}

void drain_all(std::vector<mailbox>& boxes, std::atomic<long>& bad) {
  for (auto& b : boxes) {
    for (auto& o : b.objs) {
      if (!intact(o)) bad++;
      gort::mem::free(o.p);
    }
    b.objs.clear();
  }
}

// Eight threads run the workers; with `releasing`, another thread gives the free pages
// back to the OS over and over meanwhile (free_os_memory: the pages being released are out
// of the page allocator while the heap lock is let go for the system call).
void threads_allocate_free_and_hand_over(bool releasing) {
  gort::debug::free_os_memory();
  auto before = gort::read_mem_stats();
  constexpr int n = 8;
  std::vector<mailbox> boxes(n);
  std::atomic<long> bad{0};
  std::atomic<bool> done{false};
  std::atomic<int> releases{0};
  std::thread releaser([&] {
    while (releasing && !done) {
      gort::debug::free_os_memory();
      releases++;
    }
  });
  std::vector<std::thread> ts;
  for (int i = 0; i < n; i++) ts.emplace_back(worker, i, n, std::ref(boxes), std::ref(bad), +[] {});
  for (auto& t : ts) t.join();
  done = true;
  releaser.join();
  drain_all(boxes, bad);
  EXPECT_EQ(bad.load(), 0);
  if (releasing) {
    EXPECT_GT(releases.load(), 1);
  }
  gort::debug::free_os_memory();
  auto after = gort::read_mem_stats();
  EXPECT_EQ(after.heap_objects, before.heap_objects);
  EXPECT_EQ(after.heap_alloc, before.heap_alloc);
  // Everything went back to the heap and then to the OS.
  EXPECT_LE(after.heap_inuse, before.heap_inuse + (1u << 20));
  EXPECT_EQ(after.heap_released, after.heap_idle);
}

TEST(MallocStress, ThreadsAllocateFreeAndHandOver) { threads_allocate_free_and_hand_over(false); }

TEST(MallocStress, ThreadsAllocateFreeAndHandOverWhileFreePagesAreReleased) {
  threads_allocate_free_and_hand_over(true);
}

TEST(MallocStress, GoroutinesMigratingBetweenThreads) {
  constexpr int n = 8;
  std::vector<mailbox> boxes(n);
  std::atomic<long> bad{0};
  gort::run([&] {
    gort::sync::wait_group wg;
    for (int i = 0; i < n; i++) {
      wg.add(1);
      gort::go([&, i] {
        worker(i, n, boxes, bad, +[] { gort::yield(); });
        wg.done();
      });
    }
    wg.wait();
  });
  drain_all(boxes, bad);
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
