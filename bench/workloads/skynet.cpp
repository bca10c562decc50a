// skynet: a 10-ary tree of goroutines with 1,000,000 leaves (1,111,111 goroutines).
// Each leaf sends its ordinal on its parent's unbuffered channel; each inner node sums its
// 10 children and sends the sum up. check = 0+1+...+999999 = 499999500000.
// Extra field: total_ms. ns_per_op is per goroutine.
// The gort counterpart of bench/go/skynet/main.go (same procedure and parameters).
#include <chrono>
#include <cstdint>
#include <cstdio>

#include <gort/gort.hpp>

namespace {

constexpr int64_t kLeaves = 1000000;
constexpr int64_t kFanout = 10;
constexpr int64_t kGoroutines = 1111111;

// node covers the ordinals [first, first+size) and sends their sum on out.
void node(gort::send_chan<int64_t> out, int64_t first, int64_t size) {
  if (size == 1) {
    out.send(first);
    return;
  }
  auto children = gort::make_chan<int64_t>();
  int64_t step = size / kFanout;
  for (int64_t i = 0; i < kFanout; i++)
    gort::go(node, children.send_only(), first + i * step, step);
  int64_t sum = 0;
  for (int64_t i = 0; i < kFanout; i++) sum += children.recv();
  out.send(sum);
}

}  // namespace

int main() {
  return gort::run([] {
    auto root = gort::make_chan<int64_t>();

    auto t0 = std::chrono::steady_clock::now();
    gort::go(node, root.send_only(), int64_t(0), kLeaves);
    int64_t sum = root.recv();
    auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();

    std::printf(
        "{\"workload\": \"skynet\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
        "\"check\": %lld, \"total_ms\": %.3f}\n",
        double(elapsed) / double(kGoroutines), static_cast<long long>(kGoroutines),
        static_cast<long long>(sum), double(elapsed) / 1e6);
    std::fflush(stdout);
    return 0;
  });
}
