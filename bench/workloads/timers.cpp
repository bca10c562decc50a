// timers: 100,000 goroutines; goroutine i sleeps 10 times for (1 + i%10) ms each.
// Every sleep's oversleep (actual - requested) is recorded. Extra fields: total_ms
// (ideal_ms = 100 for the longest sleeper), oversleep_p50_us / _p99_us / _max_us.
// check = number of sleeps completed (1000000).
// The gort counterpart of bench/go/timers/main.go (same procedure and quantiles).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <gort/gort.hpp>

namespace {

constexpr int64_t kGoroutines = 100000;
constexpr int64_t kSleeps = 10;

}  // namespace

int main() {
  return gort::run([] {
    using clock = std::chrono::steady_clock;
    std::vector<int64_t> over(kGoroutines * kSleeps);  // oversleep in ns
    gort::sync::wait_group wg;
    std::atomic<int64_t> completed{0};  // sleeps completed: the check (Go prints len(over))

    auto t0 = clock::now();
    wg.add(static_cast<int>(kGoroutines));
    for (int64_t i = 0; i < kGoroutines; i++) {
      gort::go(
          [&over, &wg, &completed](int64_t i) {
            gort::defer done = [&wg] { wg.done(); };
            auto want = std::chrono::milliseconds(1 + i % 10);
            for (int64_t k = 0; k < kSleeps; k++) {
              auto s = clock::now();
              gort::time::sleep(want);
              over[i * kSleeps + k] =
                  std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - s - want)
                      .count();
              completed.fetch_add(1, std::memory_order_relaxed);
            }
          },
          i);
    }
    wg.wait();
    auto elapsed =
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count();

    std::sort(over.begin(), over.end());
    // The p-quantile (0..1) of the sorted samples in microseconds, indexed as the Go one.
    auto pct = [&over](double p) {
      auto i = static_cast<size_t>(p * double(over.size()));
      if (i >= over.size()) i = over.size() - 1;
      return double(over[i]) / 1e3;
    };

    std::printf(
        "{\"workload\": \"timers\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
        "\"check\": %lld, \"total_ms\": %.3f, \"ideal_ms\": %d, \"oversleep_p50_us\": %.3f, "
        "\"oversleep_p99_us\": %.3f, \"oversleep_max_us\": %.3f}\n",
        double(elapsed) / double(kGoroutines * kSleeps),
        static_cast<long long>(kGoroutines * kSleeps), static_cast<long long>(completed.load()),
        double(elapsed) / 1e6, 100, pct(0.50), pct(0.99), pct(1.0));
    std::fflush(stdout);
    return 0;
  });
}
