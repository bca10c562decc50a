// select: 4 producers, each sending 1,000,000 values on its own unbuffered channel;
// one consumer (main) receives all 4,000,000 with a select over the 4 channels.
// Producer p sends p*1000000 .. p*1000000+999999, so check = 0+...+3999999 = 7999998000000.
// ns_per_op is per select.
// The gort counterpart of bench/go/select/main.go (same procedure and parameters).
#include <chrono>
#include <cstdint>
#include <cstdio>

#include <gort/gort.hpp>

namespace {

constexpr int64_t kProducers = 4;
constexpr int64_t kPerProducer = 1000000;

}  // namespace

int main() {
  return gort::run([] {
    gort::chan<int64_t> chs[kProducers];
    for (auto& c : chs) c = gort::make_chan<int64_t>();

    auto t0 = std::chrono::steady_clock::now();
    for (int64_t p = 0; p < kProducers; p++) {
      gort::go(
          [](gort::send_chan<int64_t> out, int64_t base) {
            for (int64_t i = 0; i < kPerProducer; i++) out.send(base + i);
          },
          chs[p].send_only(), p * kPerProducer);
    }
    int64_t sum = 0;
    for (int64_t n = 0; n < kProducers * kPerProducer; n++) {
      int64_t v = 0;
      auto got = [&v](int64_t x) { v = x; };
      gort::select(gort::case_recv(chs[0], got), gort::case_recv(chs[1], got),
                   gort::case_recv(chs[2], got), gort::case_recv(chs[3], got));
      sum += v;
    }
    auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();

    std::printf(
        "{\"workload\": \"select\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
        "\"check\": %lld}\n",
        double(elapsed) / double(kProducers * kPerProducer),
        static_cast<long long>(kProducers * kPerProducer), static_cast<long long>(sum));
    std::fflush(stdout);
    return 0;
  });
}
