// mem_death_test: bad frees stop the program with a clear message (and never corrupt
// other objects): double free (same thread, other thread, tiny, large), a pointer gort
// never handed out, and a pointer into the middle of an object.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <thread>

#include "gort/gort.hpp"

namespace {

TEST(MemDeath, DoubleFreeSameThread) {
  EXPECT_DEATH(
      {
        void* p = gort::mem::alloc(64);
        gort::mem::free(p);
        gort::mem::free(p);
      },
      "fatal error: free: double free.*pointer 0x");
}

// The second free of an object still in this thread's magazine (two others freed since).
TEST(MemDeath, DoubleFreeOfAnObjectInTheMagazine) {
  EXPECT_DEATH(
      {
        void* keep = gort::mem::alloc(96);
        void* a = gort::mem::alloc(96);
        void* b = gort::mem::alloc(96);
        void* c = gort::mem::alloc(96);
        gort::mem::free(a);
        gort::mem::free(b);
        gort::mem::free(c);
        gort::mem::free(a);
        gort::mem::free(keep);
      },
      "fatal error: free: double free.*pointer 0x");
}

// A large object's span waits in the page cache (dead, still mapped): freeing it again is
// reported, and so is a free into it after a thread's cache reused it for something else.
// An object the allocation cache holds but has not handed out yet (the next one of a
// fresh span's first bitmap word): its alloc bit is clear, so its free is reported.
TEST(MemDeath, FreeOfAnObjectNotHandedOutYet) {
  EXPECT_DEATH(
      {
        gort::debug::free_os_memory();  // this thread's caches start afresh
        char* a = static_cast<char*>(gort::mem::alloc_noscan(80));
        gort::mem::free(a + 80);
      },
      "fatal error: free: double free or free of an object that is not allocated.*pointer 0x");
}

TEST(MemDeath, DoubleFreeOfALargeObjectInThePageCache) {
  EXPECT_DEATH(
      {
        void* p = gort::mem::alloc(40 << 10);
        gort::mem::free(p);
        gort::mem::free(p);
      },
      "fatal error: free: double free");
}

TEST(MemDeath, DoubleFreeOnAnotherThread) {
  EXPECT_DEATH(
      {
        void* p = gort::mem::alloc(64);
        std::thread([p] { gort::mem::free(p); }).join();
        std::thread([p] { gort::mem::free(p); }).join();
      },
      "fatal error: free: double free");
}

TEST(MemDeath, DoubleFreeLocalThenRemote) {
  EXPECT_DEATH(
      {
        void* p = gort::mem::alloc(64);
        void* keep = gort::mem::alloc(64);  // keeps the span alive
        gort::mem::free(p);
        std::thread([p] { gort::mem::free(p); }).join();
        gort::mem::free(keep);
      },
      "fatal error: free: double free");
}

TEST(MemDeath, DoubleFreeRemoteThenLocal) {
  EXPECT_DEATH(
      {
        void* p = gort::mem::alloc(64);
        void* keep = gort::mem::alloc(64);
        std::thread([p] { gort::mem::free(p); }).join();
        gort::mem::free(p);
        gort::mem::free(keep);
      },
      "fatal error: free: double free");
}

TEST(MemDeath, DoubleFreeLarge) {
  EXPECT_DEATH(
      {
        void* keep = gort::mem::alloc(1 << 20);
        void* p = gort::mem::alloc(1 << 20);
        gort::mem::free(p);
        gort::mem::free(p);
        gort::mem::free(keep);
      },
      "fatal error: free: .*(double free|not allocated)");
}

TEST(MemDeath, TinyDoubleFree) {
  EXPECT_DEATH(
      {
        void* a = gort::mem::alloc_noscan(4);
        gort::mem::free(a);
        gort::mem::free(a);  // the block's count would go below zero
        gort::mem::free(a);
      },
      "fatal error: free: double free");
}

TEST(MemDeath, ForeignPointer) {
  static int not_heap;
  EXPECT_DEATH(gort::mem::free(&not_heap), "fatal error: free: pointer was not allocated by gort");
  EXPECT_DEATH(
      {
        int on_stack = 0;
        gort::mem::free(&on_stack);
      },
      "fatal error: free: pointer was not allocated by gort");
  EXPECT_DEATH(gort::mem::free(reinterpret_cast<void*>(~std::uintptr_t{0} - 7)),
               "fatal error: free: pointer was not allocated by gort");
}

TEST(MemDeath, InteriorPointer) {
  EXPECT_DEATH(
      {
        char* p = static_cast<char*>(gort::mem::alloc(100));
        gort::mem::free(p + 8);
      },
      "fatal error: free: pointer into the middle of an object");
  EXPECT_DEATH(
      {
        char* p = static_cast<char*>(gort::mem::alloc(100000));
        gort::mem::free(p + 8192);
      },
      "fatal error: free: pointer into the middle of a large object");
}

// The scavenger's thread is the runtime's own: a deadlock is still reported once it runs.
TEST(MemDeath, DeadlockStillDetectedWithScavengerRunning) {
  EXPECT_EXIT(
      {
        alarm(20);
        gort::run([] {
          gort::mem::free(gort::mem::alloc(96u << 20));  // a second arena starts the scavenger
          gort::time::sleep(std::chrono::milliseconds(100));
          gort::chan<int> nil;
          nil.recv();
        });
      },
      testing::ExitedWithCode(2), "fatal error: all goroutines are asleep - deadlock!");
}

#if defined(GORT_ASAN)
TEST(MemDeath, AsanSeesUseAfterFree) {
  EXPECT_DEATH(
      {
        auto* p = static_cast<volatile char*>(gort::mem::alloc(64));
        gort::mem::free(const_cast<char*>(p));
        p[3] = 1;
      },
      "use-after-poison");
  EXPECT_DEATH(
      {
        auto* p = static_cast<volatile char*>(gort::mem::alloc(40));
        p[45] = 1;  // past the request, inside the 48-byte class: still caught
      },
      "use-after-poison");
}
#endif

}  // namespace
