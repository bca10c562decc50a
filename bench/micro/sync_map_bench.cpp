// sync::map micro-benchmarks (Google Benchmark), single goroutine unless noted; real time.
//
//   BM_SyncMapLoadHit        load of a present key (1,000 int64 keys, all in read): the
//                            lock-free path — read section, snapshot, probe, value copy.
//   BM_SyncMapLoadMiss       load of an absent key with read not amended (lock-free miss).
//   BM_SyncMapStoreExisting  store to a present key: lock-free CAS of a new value node plus
//                            its retirement (reclaim cost amortised in).
//   BM_SyncMapLoadOrStoreNew load_or_store of fresh keys into a growing map (the locked
//                            path, dirtyLocked after each promotion). items = keys added.
//   BM_RcuSection            an empty read section (the reader-counter cost alone).
//   BM_MutexMapLoadHit       std::unordered_map lookup under an uncontended gort mutex,
//                            for scale.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include <gort/gort.hpp>

#include "bench_util.hpp"

namespace {

constexpr int64_t kKeys = 1000;

void BM_SyncMapLoadHit(benchmark::State& state) {
  gort::sync::map<int64_t, int64_t> m;
  for (int64_t k = 0; k < kKeys; k++) m.store(k, k);
  while (m.state().amended) m.load(-1);
  int64_t k = 0, sum = 0;
  for (auto _ : state) {
    sum += *m.load(k);
    k = k + 7 < kKeys ? k + 7 : k + 7 - kKeys;
  }
  benchmark::DoNotOptimize(sum);
  report_items(state, state.iterations(), "per_op");
}
BENCHMARK(BM_SyncMapLoadHit)->UseRealTime();

void BM_SyncMapLoadMiss(benchmark::State& state) {
  gort::sync::map<int64_t, int64_t> m;
  for (int64_t k = 0; k < kKeys; k++) m.store(k, k);
  while (m.state().amended) m.load(-1);
  int64_t k = kKeys;
  for (auto _ : state) benchmark::DoNotOptimize(m.load(k++));
  report_items(state, state.iterations(), "per_op");
}
BENCHMARK(BM_SyncMapLoadMiss)->UseRealTime();

void BM_SyncMapStoreExisting(benchmark::State& state) {
  gort::sync::map<int64_t, int64_t> m;
  for (int64_t k = 0; k < kKeys; k++) m.store(k, k);
  while (m.state().amended) m.load(-1);
  int64_t k = 0;
  for (auto _ : state) {
    m.store(k, k);
    k = k + 7 < kKeys ? k + 7 : k + 7 - kKeys;
  }
  report_items(state, state.iterations(), "per_op");
}
BENCHMARK(BM_SyncMapStoreExisting)->UseRealTime();

void BM_SyncMapLoadOrStoreNew(benchmark::State& state) {
  auto m = std::make_unique<gort::sync::map<int64_t, int64_t>>();
  int64_t k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m->load_or_store(k, k));
    if (++k == 100000) {
      state.PauseTiming();
      m = std::make_unique<gort::sync::map<int64_t, int64_t>>();
      k = 0;
      state.ResumeTiming();
    }
  }
  report_items(state, state.iterations(), "per_op");
}
BENCHMARK(BM_SyncMapLoadOrStoreNew)->UseRealTime();

void BM_RcuSection(benchmark::State& state) {
  for (auto _ : state) {
    gort::rt::rcu_section sec;
    benchmark::ClobberMemory();
  }
  report_items(state, state.iterations(), "per_op");
}
BENCHMARK(BM_RcuSection)->UseRealTime();

void BM_MutexMapLoadHit(benchmark::State& state) {
  gort::sync::mutex mu;
  std::unordered_map<int64_t, int64_t> m;
  for (int64_t k = 0; k < kKeys; k++) m[k] = k;
  int64_t k = 0, sum = 0;
  for (auto _ : state) {
    {
      std::lock_guard lk(mu);
      sum += m.find(k)->second;
    }
    k = k + 7 < kKeys ? k + 7 : k + 7 - kKeys;
  }
  benchmark::DoNotOptimize(sum);
  report_items(state, state.iterations(), "per_op");
}
BENCHMARK(BM_MutexMapLoadHit)->UseRealTime();

}  // namespace
