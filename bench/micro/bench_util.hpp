// bench_util: what every micro-benchmark file shares — a GOMAXPROCS scope and the
// per-item counter.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>

#include <gort/gort.hpp>

// Sets GOMAXPROCS for the scope and restores the previous value after.
struct procs_scope {
  explicit procs_scope(int n) : prev(gort::gomaxprocs(n)) {}
  ~procs_scope() { gort::gomaxprocs(prev); }
  int prev;
};

// Reports `items` processed in all, plus the real time per item (seconds per item, shown
// with an SI prefix: "28.1n" is 28.1 ns).
inline void report_items(benchmark::State& state, int64_t items, const char* per_name) {
  state.SetItemsProcessed(items);
  state.counters[per_name] = benchmark::Counter(
      double(items), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
