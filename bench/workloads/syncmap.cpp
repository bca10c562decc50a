// syncmap: 1,000 int64 keys preloaded (k -> k); GOMAXPROCS goroutines do 10,000,000 ops in
// all, 99% load / 1% store (a store writes k -> k). Goroutine t draws keys from its own LCG
// seeded with t+1: x = x*6364136223846793005 + 1442695040888963407, r = x>>33,
// key = r%1000, and the op is a store when (r>>10)%100 == 0. check = sum of every loaded
// value. IMPL=mutex | rwmutex swap gort::sync::map for a std::unordered_map guarded by
// gort::sync::mutex / rw_mutex. ns_per_op = elapsed / 10,000,000.
// The gort counterpart of bench/go/syncmap/main.go (same procedure and parameters).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <gort/gort.hpp>

namespace {

constexpr int64_t kTotalOps = 10000000;
constexpr int64_t kKeys = 1000;

struct sync_map_kv {
  gort::sync::map<int64_t, int64_t> m;
  std::optional<int64_t> load(int64_t k) { return m.load(k); }
  void store(int64_t k, int64_t v) { m.store(k, v); }
};

struct mutex_kv {
  gort::sync::mutex mu;
  std::unordered_map<int64_t, int64_t> m;
  std::optional<int64_t> load(int64_t k) {
    std::lock_guard lk(mu);
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  }
  void store(int64_t k, int64_t v) {
    std::lock_guard lk(mu);
    m[k] = v;
  }
};

struct rw_mutex_kv {
  gort::sync::rw_mutex mu;
  std::unordered_map<int64_t, int64_t> m;
  std::optional<int64_t> load(int64_t k) {
    std::shared_lock lk(mu);
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  }
  void store(int64_t k, int64_t v) {
    std::lock_guard lk(mu);
    m[k] = v;
  }
};

struct alignas(64) padded_sum {
  int64_t v = 0;
};

template <class KV>
void run(const char* variant) {
  auto kv = std::make_unique<KV>();
  for (int64_t k = 0; k < kKeys; k++) kv->store(k, k);

  const int procs = gort::gomaxprocs(0);
  std::vector<padded_sum> sums(static_cast<size_t>(procs));
  gort::sync::wait_group wg;
  auto t0 = std::chrono::steady_clock::now();
  wg.add(procs);
  for (int t = 0; t < procs; t++) {
    gort::go([&, t] {
      uint64_t x = uint64_t(t) + 1;
      int64_t sum = 0;
      KV& m = *kv;
      for (int64_t i = 0; i < kTotalOps / procs; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = x >> 33;
        int64_t k = int64_t(r % kKeys);
        if ((r >> 10) % 100 == 0) {
          m.store(k, k);
        } else if (auto v = m.load(k)) {
          sum += *v;
        }
      }
      sums[size_t(t)].v = sum;
      wg.done();
    });
  }
  wg.wait();
  auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - t0)
                     .count();
  int64_t check = 0;
  for (auto& s : sums) check += s.v;
  std::printf(
      "{\"workload\": \"syncmap\", \"impl\": \"gort\", \"ns_per_op\": %.3f, \"ops\": %lld, "
      "\"check\": %lld, \"variant\": \"%s\", \"threads\": %d}\n",
      double(elapsed) / double(kTotalOps), static_cast<long long>(kTotalOps),
      static_cast<long long>(check), variant, procs);
  std::fflush(stdout);
}

}  // namespace

int main() {
  return gort::run([] {
    const char* impl = std::getenv("IMPL");
    std::string variant = impl != nullptr ? impl : "";
    if (variant == "mutex") {
      run<mutex_kv>("mutex");
    } else if (variant == "rwmutex") {
      run<rw_mutex_kv>("rwmutex");
    } else {
      run<sync_map_kv>("syncmap");
    }
    return 0;
  });
}
