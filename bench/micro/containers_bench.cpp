// containers_bench: micro-benchmarks of gort::map (small, cache-resident tables: the cost of
// the code path rather than of memory), slice append and fmt::sprintf, with
// absl::flat_hash_map and std::unordered_map beside the map ones.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include <gort/fmt.hpp>
#include <gort/map.hpp>
#include <gort/slice.hpp>
#include <gort/string.hpp>

namespace {

// Lookups that hit in a map of state.range(0) int64 keys.
void BM_MapHitInt64(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto m = gort::make_map<int64_t, int64_t>();
  for (int64_t i = 0; i < n; i++) m.set(i * 7919, i);
  int64_t i = 0, sum = 0;
  for (auto _ : state) {
    sum += *m.find((i % n) * 7919);
    i++;
  }
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(BM_MapHitInt64)->Arg(8)->Arg(1 << 10)->Arg(1 << 16);

void BM_StdUnorderedHitInt64(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::unordered_map<int64_t, int64_t> m;
  for (int64_t i = 0; i < n; i++) m[i * 7919] = i;
  int64_t i = 0, sum = 0;
  for (auto _ : state) {
    sum += m.find((i % n) * 7919)->second;
    i++;
  }
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(BM_StdUnorderedHitInt64)->Arg(8)->Arg(1 << 10)->Arg(1 << 16);

// Lookups of absent keys.
void BM_MapMissInt64(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto m = gort::make_map<int64_t, int64_t>();
  for (int64_t i = 0; i < n; i++) m.set(i, i);
  int64_t i = 0, found = 0;
  for (auto _ : state) {
    found += m.contains(n + i);
    i++;
  }
  benchmark::DoNotOptimize(found);
}
BENCHMARK(BM_MapMissInt64)->Arg(8)->Arg(1 << 10)->Arg(1 << 16);

// Insert then delete n keys: every write path, growth included.
void BM_MapInsertDeleteInt64(benchmark::State& state) {
  const int64_t n = state.range(0);
  for (auto _ : state) {
    auto m = gort::make_map<int64_t, int64_t>();
    for (int64_t i = 0; i < n; i++) m.set(i, i);
    for (int64_t i = 0; i < n; i++) m.erase(i);
  }
  state.SetItemsProcessed(state.iterations() * n * 2);
}
BENCHMARK(BM_MapInsertDeleteInt64)->Arg(1 << 10)->Arg(1 << 16);

void BM_MapHitString(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto m = gort::make_map<gort::string, int64_t>();
  std::vector<gort::string> keys;
  for (int64_t i = 0; i < n; i++) {
    keys.emplace_back("key-" + std::to_string(i));
    m.set(keys.back(), i);
  }
  int64_t i = 0, sum = 0;
  for (auto _ : state) {
    sum += *m.find(keys[size_t(i % n)]);
    i++;
  }
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(BM_MapHitString)->Arg(8)->Arg(1 << 10)->Arg(1 << 16);

// A range over n entries, per entry.
void BM_MapRange(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto m = gort::make_map<int64_t, int64_t>();
  for (int64_t i = 0; i < n; i++) m.set(i, i);
  int64_t sum = 0;
  for (auto _ : state) {
    for (auto [k, v] : m) sum += v;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_MapRange)->Arg(1 << 10)->Arg(1 << 16);

// append one int64 at a time from a nil slice to n elements.
void BM_SliceAppend(benchmark::State& state) {
  const int64_t n = state.range(0);
  for (auto _ : state) {
    gort::slice<int64_t> s;
    for (int64_t i = 0; i < n; i++) s = gort::append(std::move(s), i);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_SliceAppend)->Arg(1 << 10)->Arg(1 << 16);

void BM_Sprintf(benchmark::State& state) {
  for (auto _ : state) {
    auto s = gort::fmt::sprintf("%s=%d (%.2f) %q", "key", 12345, 3.14159, "quoted");
    benchmark::DoNotOptimize(s.data());
  }
}
BENCHMARK(BM_Sprintf);

}  // namespace
