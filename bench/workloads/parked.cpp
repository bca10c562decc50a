// parked: 1,000,000 goroutines blocked at once. Each signals a wait group, then blocks on a
// shared release signal. Once all have signalled (plus a 100 ms settle so the last ones
// reach the block), main reads VmRSS, releases them all and waits for all.
// Extra fields: rss_kb (at the parked moment), total_ms. check = goroutines finished.
// The gort counterpart of bench/go/parked/main.go.
//
// Difference from the Go program: gort has no channels yet, so instead of receiving from a
// channel that main closes, each goroutine blocks in wait() on a shared "release"
// gort::sync::wait_group whose counter is 1; main's release.done() drops it to 0 and wakes
// every waiter at once (as close(release) does in Go). Swap in a channel when gort has them.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <gort/gort.hpp>

namespace {

constexpr int64_t kGoroutines = 1000000;

// The VmRSS line of /proc/self/status in KiB, or -1.
int64_t vm_rss_kb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  int64_t kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) != 0) continue;
    char* end = nullptr;
    long long v = std::strtoll(line + 6, &end, 10);
    if (end != line + 6) kb = v;
    break;
  }
  std::fclose(f);
  return kb;
}

}  // namespace

int main() {
  return gort::run([] {
    using namespace std::chrono_literals;
    gort::sync::wait_group running, finished;
    gort::sync::wait_group release;  // stands in for Go's `release` channel (see above)
    std::atomic<int64_t> count{0};

    release.add(1);
    auto t0 = std::chrono::steady_clock::now();
    running.add(static_cast<int>(kGoroutines));
    finished.add(static_cast<int>(kGoroutines));
    for (int64_t i = 0; i < kGoroutines; i++) {
      gort::go([&] {
        running.done();
        release.wait();  // Go: <-release
        count.fetch_add(1, std::memory_order_relaxed);
        finished.done();
      });
    }
    running.wait();
    gort::time::sleep(100ms);
    int64_t rss = vm_rss_kb();
    release.done();  // Go: close(release)
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
