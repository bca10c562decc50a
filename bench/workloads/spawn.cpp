// spawn: start 1,000,000 goroutines that each call wg.done(); main waits for all.
// Figure: ns per goroutine. check = number of goroutines that ran (1000000).
// The gort counterpart of bench/go/spawn/main.go (same procedure and parameters).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include <gort/gort.hpp>

namespace {

constexpr int64_t kGoroutines = 1000000;

}  // namespace

int main() {
  return gort::run([] {
    gort::sync::wait_group wg;
    std::atomic<int64_t> ran{0};

    auto t0 = std::chrono::steady_clock::now();
    wg.add(static_cast<int>(kGoroutines));
    for (int64_t i = 0; i < kGoroutines; i++) {
      gort::go([&] {
        ran.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();

    std::printf(
        "{\"workload\": \"spawn\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
        "\"check\": %lld}\n",
        double(elapsed) / double(kGoroutines), static_cast<long long>(kGoroutines),
        static_cast<long long>(ran.load()));
    std::fflush(stdout);
    return 0;
  });
}
