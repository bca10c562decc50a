// stack_slab_test: goroutine stacks carved from slabs (sched/stack.cpp), which are carved in
// turn from reservations that grow as more slabs are needed. What is checked: thousands
// of stacks (several reservations' worth) never overlap, each has its guard and the usable
// size asked for, and every one is writable from its lowest usable byte to its highest
// without disturbing another.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gort/gort.hpp"
#include "sched/sched.hpp"
#include "sched/stack.hpp"

namespace rt = gort::rt;

namespace {

TEST(StackSlabs, ThousandsOfStacksAreDisjointGuardedAndWritable) {
  const size_t size = rt::sched.stack_size.load();
  constexpr int kStacks = 2048;  // 16 slabs: reservations of 1, 2, 4 and 8 slabs and more
  std::vector<rt::stack> stacks;
  for (int i = 0; i < kStacks; i++) stacks.push_back(rt::stack_alloc(size));

  for (size_t i = 0; i < stacks.size(); i++) {
    const rt::stack& s = stacks[i];
    EXPECT_EQ(s.usable_size(), size);
    EXPECT_TRUE(s.guarded) << "stack " << i << " has no guard page";
    EXPECT_LT(s.lo, s.usable_lo);
    // Both ends of the usable part, marked with the stack's number.
    reinterpret_cast<volatile uint32_t*>(s.usable_lo)[0] = uint32_t(i);
    reinterpret_cast<volatile uint32_t*>(s.hi)[-1] = uint32_t(i);
  }
  for (size_t i = 0; i < stacks.size(); i++) {
    EXPECT_EQ(reinterpret_cast<volatile uint32_t*>(stacks[i].usable_lo)[0], uint32_t(i));
    EXPECT_EQ(reinterpret_cast<volatile uint32_t*>(stacks[i].hi)[-1], uint32_t(i));
  }

  std::vector<rt::stack> by_address = stacks;
  std::sort(by_address.begin(), by_address.end(),
            [](const rt::stack& a, const rt::stack& b) { return a.lo < b.lo; });
  for (size_t i = 1; i < by_address.size(); i++)
    EXPECT_LE(by_address[i - 1].hi, by_address[i].lo) << "stacks " << i - 1 << " and " << i << " overlap";

  for (const rt::stack& s : stacks) rt::stack_free(s);
}

}  // namespace
