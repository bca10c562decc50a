// parked: 1,000,000 goroutines blocked at once. Each signals that it is running, then
// blocks receiving from one channel; once all have signalled (plus a 100 ms settle so the
// last ones reach the receive), main reads VmRSS, closes the channel and waits for all.
// Same procedure as bench/go/parked/main.go.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <gort/gort.hpp>

#include "vm_rss.hpp"

namespace {

constexpr int64_t kGoroutines = 1000000;

}  // namespace

struct signal {};  // Go: struct{}

int main() {
  return gort::run([] {
    using namespace std::chrono_literals;
    gort::sync::wait_group running, finished;
    auto release = gort::make_chan<signal>(0);
    std::atomic<int64_t> count{0};

    auto t0 = std::chrono::steady_clock::now();
    running.add(static_cast<int>(kGoroutines));
    finished.add(static_cast<int>(kGoroutines));
    for (int64_t i = 0; i < kGoroutines; i++) {
      gort::go([&] {
        running.done();
        release.recv();  // Go: <-release
        count.fetch_add(1, std::memory_order_relaxed);
        finished.done();
      });
    }
    running.wait();
    gort::time::sleep(100ms);
    int64_t rss = vm_rss_kb();
    release.close();  // Go: close(release)
    finished.wait();
    auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();

    std::printf(
        "{\"workload\": \"parked\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
        "\"check\": %lld, \"rss_kb\": %lld, \"total_ms\": %.3f}\n",
        double(elapsed) / double(kGoroutines), static_cast<long long>(kGoroutines),
        static_cast<long long>(count.load()), static_cast<long long>(rss), double(elapsed) / 1e6);
    std::fflush(stdout);
    return 0;
  });
}
