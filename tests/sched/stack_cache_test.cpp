// stack_cache_test: a P's cache of free goroutine stacks (sched/stack.hpp). What is
// checked: the warmest stack comes back first, and g0's top-up before a goroutine's first
// run leaves the cache two stacks, the warm ones still on top, so that the goroutine takes
// one and a switch from an ending goroutine to the next new one finds the other.
#include <gtest/gtest.h>

#include "gort/gort.hpp"
#include "sched/sched.hpp"
#include "sched/stack.hpp"

namespace rt = gort::rt;

namespace {

size_t stack_size() { return rt::sched.stack_size.load(); }

TEST(StackCache, TheMostRecentlyFreedStackComesBackFirst) {
  rt::stack_cache c;
  rt::stack a = rt::stackcache_get(nullptr, stack_size());
  rt::stack b = rt::stackcache_get(nullptr, stack_size());
  rt::stackcache_put(&c, a);
  rt::stackcache_put(&c, b);
  rt::stack got;
  ASSERT_TRUE(rt::stackcache_pop(&c, stack_size(), &got));
  EXPECT_EQ(got.hi, b.hi);
  EXPECT_EQ(c.n, 1);
  EXPECT_FALSE(rt::stackcache_pop(&c, stack_size() * 2, &got)) << "a stack of another size";
  rt::stackcache_put(&c, got);
  rt::stackcache_flush(&c);
  EXPECT_EQ(c.n, 0);
}

TEST(StackCache, KeepSpareTopsUpToTwoUnderTheWarmStack) {
  rt::stack_cache c;
  rt::stackcache_keep_spare(&c, stack_size());
  EXPECT_EQ(c.n, 2) << "an empty cache gets two";
  rt::stackcache_flush(&c);

  rt::stack warm = rt::stackcache_get(nullptr, stack_size());
  rt::stackcache_put(&c, warm);
  rt::stackcache_keep_spare(&c, stack_size());
  ASSERT_EQ(c.n, 2);
  EXPECT_EQ(c.items[1].hi, warm.hi) << "the warm stack stays on top";
  EXPECT_NE(c.items[0].hi, warm.hi);
  EXPECT_EQ(c.items[0].usable_size(), stack_size());

  rt::stack other = rt::stackcache_get(nullptr, stack_size());
  rt::stackcache_put(&c, other);
  rt::stackcache_keep_spare(&c, stack_size());
  EXPECT_EQ(c.n, 3) << "a cache of two or more is left as it is";
  EXPECT_EQ(c.items[2].hi, other.hi);
  rt::stackcache_flush(&c);
}

// Goroutines that start and end one after another on one P, many more than the cache
// holds: each runs on a stack of its own (a pattern it writes over 16 KiB of it survives
// the yields in which the others run) of the configured size.
TEST(StackCache, GoroutinesStartedOneAfterAnotherNeverShareAStack) {
  gort::run([] {
    gort::gomaxprocs(1);
    constexpr int kN = 2000;
    gort::sync::wait_group wg;
    wg.add(kN);
    int bad = 0;
    for (int i = 0; i < kN; i++) {
      gort::go([&, i] {
        volatile char buf[16 << 10];
        for (size_t k = 0; k < sizeof(buf); k += 256) buf[k] = char(i);
        gort::yield();
        gort::yield();
        for (size_t k = 0; k < sizeof(buf); k += 256)
          if (buf[k] != char(i)) {
            bad++;
            break;
          }
        wg.done();
      });
      if (i % 64 == 0) gort::yield();  // some end while more are started
    }
    wg.wait();
    EXPECT_EQ(bad, 0);
  });
}

}  // namespace
