// spinwait: with GOMAXPROCS=1, main starts a goroutine that sets a flag and then spins on
// that flag with no runtime call in the loop, 20 rounds with a 5 ms sleep between them.
// Go 1.14+ preempts the spinning main with a signal; gort lends a stand-in processor
// (docs/preemption.md). ns_per_op is the mean wait per round, from the go statement to
// the end of the spin; check = the rounds completed (20).
// Extra fields: wait_p50_us, wait_max_us.
// The gort counterpart of bench/go/spinwait/main.go (same procedure and parameters).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <gort/gort.hpp>

namespace {

constexpr int kRounds = 20;

}  // namespace

int main() {
  gort::gomaxprocs(1);
  return gort::run([] {
    using clock = std::chrono::steady_clock;
    std::vector<double> waits_ns;
    double total_ns = 0;
    for (int r = 0; r < kRounds; r++) {
      std::atomic<bool> ran{false};
      auto t0 = clock::now();
      gort::go([&ran] { ran.store(true, std::memory_order_release); });
      while (!ran.load(std::memory_order_acquire)) {
      }
      double w = double(std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - t0).count());
      waits_ns.push_back(w);
      total_ns += w;
      gort::time::sleep(std::chrono::milliseconds(5));
    }
    std::sort(waits_ns.begin(), waits_ns.end());
    std::printf(
        "{\"workload\": \"spinwait\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %d, "
        "\"check\": %d, \"wait_p50_us\": %.3f, \"wait_max_us\": %.3f}\n",
        total_ns / kRounds, kRounds, int(waits_ns.size()), waits_ns[kRounds / 2] / 1e3,
        waits_ns[kRounds - 1] / 1e3);
    std::fflush(stdout);
    return 0;
  });
}
