// mutex: 8 goroutines each do 1,000,000 lock / increment / unlock on one shared counter.
// check = the final counter (8000000); ns_per_op is per lock/unlock pair.
// The gort counterpart of bench/go/mutex/main.go (same procedure and parameters).
#include <chrono>
#include <cstdint>
#include <cstdio>

#include <gort/gort.hpp>

namespace {
constexpr int kWorkers = 8;
constexpr int64_t kPerWorker = 1000000;
}  // namespace

int main() {
  return gort::run([] {
    gort::sync::mutex mu;
    int64_t counter = 0;
    gort::sync::wait_group wg;

    auto t0 = std::chrono::steady_clock::now();
    for (int w = 0; w < kWorkers; w++)
      wg.go([&] {
        for (int64_t i = 0; i < kPerWorker; i++) {
          mu.lock();
          counter++;
          mu.unlock();
        }
      });
    wg.wait();
    auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();
    const int64_t ops = kWorkers * kPerWorker;
    std::printf(
        "{\"workload\": \"mutex\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
        "\"check\": %lld}\n",
        double(elapsed) / double(ops), static_cast<long long>(ops),
        static_cast<long long>(counter));
    std::fflush(stdout);
    return 0;
  });
}
