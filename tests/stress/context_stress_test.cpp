// context_stress_test: the context tree under concurrent churn — goroutines on several Ps
// and plain threads create children of a shared parent, cancel some, drop others without
// cancelling, and wait on done() of some, while the parent is cancelled and replaced
// underneath them. Checks (and TSan/ASan check) that cancellation, registration and
// destruction never race: every child of a cancelled parent ends cancelled, no waiter is
// lost, and the parent's registry ends empty.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "gort/gort.hpp"

using namespace std::chrono_literals;
namespace ctx = gort::context;

namespace {

TEST(ContextStress, ChurnWhileParentsAreCancelled) {
  constexpr int kRounds = 40;
  constexpr int kWorkers = 6;
  std::atomic<int> bad{0};
  gort::run([&] {
    int prev = gort::gomaxprocs(2);
    for (int round = 0; round < kRounds; round++) {
      auto [parent, cancel_parent] = ctx::with_cancel(ctx::background());
      std::atomic<bool> stop{false};
      gort::sync::wait_group wg;
      auto work = [&, parent = parent](unsigned seed) {
        std::minstd_rand rng(seed);
        std::vector<std::pair<ctx::context, ctx::cancel_func>> held;
        while (!stop.load()) {
          auto child = ctx::with_cancel(parent);
          switch (rng() % 4) {
            case 0: child.second(); break;                  // cancel at once
            case 1: break;                                  // drop without cancel
            case 2: held.push_back(std::move(child)); break;  // keep for later
            case 3:
              if (parent.err() && !child.first.err()) bad++;  // born cancelled
              break;
          }
          if (held.size() > 8) held.erase(held.begin());
          gort::yield();  // a safe point: preemption is cooperative (docs/preemption.md)
        }
        for (auto& [c, cancel] : held) {
          c.done().recv();  // the parent was cancelled: every held child must be
          if (c.err() != ctx::canceled) bad++;
          cancel();
        }
      };
      for (int w = 0; w < kWorkers; w++) wg.go([&, w] { work(unsigned(round * 16 + w)); });
      std::thread plain([&] { work(unsigned(round * 16 + 15)); });
      gort::time::sleep(200us);
      cancel_parent();
      stop = true;
      wg.wait();
      plain.join();
      if (ctx::detail::registered_children(parent) != 0) bad++;
    }
    gort::gomaxprocs(prev);
  });
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
