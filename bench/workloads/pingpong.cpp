// pingpong: two goroutines, two unbuffered channels, 1,000,000 round trips.
// Main sends i on ping; the partner replies i+1 on pong; main sums the replies, so
// check = 1+2+...+1000000 = 500000500000. Run with GOMAXPROCS=1 and =2.
// Extra field: threads (the GOMAXPROCS in effect). ns_per_op is per round trip.
// The gort counterpart of bench/go/pingpong/main.go (same procedure and parameters).
#include <chrono>
#include <cstdint>
#include <cstdio>

#include <gort/gort.hpp>

namespace {

constexpr int64_t kTrips = 1000000;

struct empty {};

}  // namespace

int main() {
  return gort::run([] {
    auto ping = gort::make_chan<int64_t>();
    auto pong = gort::make_chan<int64_t>();
    auto partner_done = gort::make_chan<empty>();

    auto t0 = std::chrono::steady_clock::now();
    gort::go([ping, pong, partner_done] {
      for (int64_t i = 0; i < kTrips; i++) {
        int64_t v = ping.recv();
        pong.send(v + 1);
      }
      partner_done.close();
    });
    int64_t sum = 0;
    for (int64_t i = 0; i < kTrips; i++) {
      ping.send(i);
      sum += pong.recv();
    }
    partner_done.recv();
    auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();

    std::printf(
        "{\"workload\": \"pingpong\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
        "\"check\": %lld, \"threads\": %d}\n",
        double(elapsed) / double(kTrips), static_cast<long long>(kTrips),
        static_cast<long long>(sum), gort::gomaxprocs(0));
    std::fflush(stdout);
    return 0;
  });
}
