// map_concurrency_test: what Go allows without a lock — several goroutines reading and
// ranging over one map at once (no write meanwhile) — runs clean, under TSan too; and a map
// handed between goroutines through a channel keeps working.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>

#include "gort/gort.hpp"

namespace {

TEST(MapConcurrency, ConcurrentReadersAndRanges) {
  gort::run([] {
    int prev = gort::gomaxprocs(2);  // the setting outlives the run: put it back below
    auto m = gort::make_map<int64_t, int64_t>();
    for (int64_t i = 0; i < 5000; i++) m.set(i, i * 2);
    std::atomic<int64_t> total{0};
    gort::sync::wait_group wg;
    for (int g = 0; g < 4; g++) {
      wg.go([m, g, &total] {
        int64_t local = 0;
        for (int round = 0; round < 5; round++) {
          for (auto [k, v] : m) local += v - 2 * k;  // 0 for every entry
          for (int64_t i = g; i < 5000; i += 4) local += m.get(i) == i * 2 ? 0 : 1;
          gort::yield();
        }
        total += local;
      });
    }
    wg.wait();
    EXPECT_EQ(total.load(), 0);
    // Writes resume once the readers are done.
    m.set(-1, -1);
    EXPECT_EQ(m.len(), 5001u);
    gort::gomaxprocs(prev);
  });
}

TEST(MapConcurrency, HandedOverThroughAChannel) {
  gort::run([] {
    auto c = gort::make_chan<gort::map<int, gort::string>>();
    gort::sync::wait_group sender;
    sender.go([c] {
      auto m = gort::make_map<int, gort::string>();
      for (int i = 0; i < 100; i++) m.set(i, gort::fmt::sprintf("v%d", i));
      c.send(m);
    });
    auto m = c.recv();
    EXPECT_EQ(m.len(), 100u);
    EXPECT_EQ(m.get(42), "v42");
    // The sender's copy must be gone before the run ends (a goroutine still running when
    // main returns never finishes, as in Go, and its map would leak).
    sender.wait();
  });
}

}  // namespace
