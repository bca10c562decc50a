// chan-buf: 4 producers each send 2,500,000 ints into one channel of capacity 128;
// 4 consumers sum what they receive. Producer p sends p*2500000 .. p*2500000+2499999, so
// check = 0+1+...+9999999 = 49999995000000. ns_per_op is per item.
// The gort counterpart of bench/go/chan-buf/main.go (same procedure and parameters).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include <gort/gort.hpp>

namespace {

constexpr int64_t kProducers = 4;
constexpr int64_t kConsumers = 4;
constexpr int64_t kPerProducer = 2500000;
constexpr int64_t kCapacity = 128;

}  // namespace

int main() {
  return gort::run([] {
    auto ch = gort::make_chan<int64_t>(kCapacity);
    gort::sync::wait_group prod_wg, cons_wg;
    std::atomic<int64_t> total{0};

    auto t0 = std::chrono::steady_clock::now();
    prod_wg.add(kProducers);
    for (int64_t p = 0; p < kProducers; p++) {
      gort::go(
          [&prod_wg](gort::send_chan<int64_t> out, int64_t base) {
            gort::defer done = [&] { prod_wg.done(); };
            for (int64_t i = 0; i < kPerProducer; i++) out.send(base + i);
          },
          ch.send_only(), p * kPerProducer);
    }
    cons_wg.add(kConsumers);
    for (int64_t c = 0; c < kConsumers; c++) {
      gort::go(
          [&cons_wg, &total](gort::recv_chan<int64_t> in) {
            gort::defer done = [&] { cons_wg.done(); };
            int64_t local = 0;
            for (int64_t v : in) local += v;
            total.fetch_add(local);
          },
          ch.recv_only());
    }
    prod_wg.wait();
    ch.close();
    cons_wg.wait();
    auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count();

    std::printf(
        "{\"workload\": \"chan-buf\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
        "\"check\": %lld}\n",
        double(elapsed) / double(kProducers * kPerProducer),
        static_cast<long long>(kProducers * kPerProducer), static_cast<long long>(total.load()));
    std::fflush(stdout);
    return 0;
  });
}
