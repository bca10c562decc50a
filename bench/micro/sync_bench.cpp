// sync_bench: micro-benchmarks of gort::sync and gort::context, each the twin of a Go
// benchmark in bench/go/microbench (same operation, run beside it by bench/compare-micro):
//   BM_MutexUncontended       lock + unlock, one goroutine       (Go: BenchmarkMutexUncontended)
//   BM_RWMutexReadUncontended r_lock + r_unlock                  (Go: BenchmarkRWMutexRead)
//   BM_OnceDone               once.call after the first          (Go: BenchmarkOnce)
//   BM_ContextWithCancel      with_cancel(parent) + cancel()     (Go: BenchmarkWithCancel)
//   BM_ContextValueDepth10    value(key) 10 ancestors up         (Go: BenchmarkValueDepth10)
#include <benchmark/benchmark.h>

#include "bench_util.hpp"

namespace {

void BM_MutexUncontended(benchmark::State& state) {
  gort::run([&] {
    gort::sync::mutex mu;
    for (auto _ : state) {
      mu.lock();
      mu.unlock();
    }
  });
}
BENCHMARK(BM_MutexUncontended);

void BM_RWMutexReadUncontended(benchmark::State& state) {
  gort::run([&] {
    gort::sync::rw_mutex rw;
    for (auto _ : state) {
      rw.r_lock();
      rw.r_unlock();
    }
  });
}
BENCHMARK(BM_RWMutexReadUncontended);

void BM_OnceDone(benchmark::State& state) {
  gort::run([&] {
    gort::sync::once once;
    int n = 0;
    for (auto _ : state) once.call([&] { n++; });
    benchmark::DoNotOptimize(n);
  });
}
BENCHMARK(BM_OnceDone);

void BM_ContextWithCancel(benchmark::State& state) {
  gort::run([&] {
    auto [parent, cancel_parent] = gort::context::with_cancel(gort::context::background());
    for (auto _ : state) {
      auto [c, cancel] = gort::context::with_cancel(parent);
      cancel();
    }
    cancel_parent();
  });
}
BENCHMARK(BM_ContextWithCancel);

void BM_ContextValueDepth10(benchmark::State& state) {
  static const gort::context::key<int> wanted("wanted");
  static const gort::context::key<int> other("other");
  auto c = gort::context::with_value(gort::context::background(), wanted, 42);
  for (int i = 0; i < 10; i++) c = gort::context::with_value(c, other, i);
  for (auto _ : state) {
    const int* v = c.value(wanted);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_ContextValueDepth10);

}  // namespace
