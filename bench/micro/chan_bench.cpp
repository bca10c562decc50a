// Channel micro-benchmarks (Google Benchmark). Each benchmark runs one gort::run, with the
// benchmark's state loop inside the main goroutine; real time, process CPU time.
//
//   BM_ChanBufferedSendRecv     one goroutine: send then receive on a buffered channel
//                               (uncontended; no parking). items = send+recv pairs.
//   BM_ChanTryRecvEmpty         a failing non-blocking receive (the lock-free fast path).
//   BM_ChanUnbufferedHandoff/P  main sends, a partner receives, on an unbuffered channel,
//                               with GOMAXPROCS=P (1: both on one P, each handoff a park and
//                               a switch; 2: across Ps). items = values handed over.
//   BM_Select/N                 select over N buffered channels of which one (rotating) holds
//                               a value; the cost of polling/locking N channels. items =
//                               selects.
//   BM_SelectBlocking           select over 2 unbuffered channels that parks each time
//                               until a partner goroutine (GOMAXPROCS=1) sends. items = selects.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>

#include <gort/gort.hpp>

#include "bench_util.hpp"

namespace {

void BM_ChanBufferedSendRecv(benchmark::State& state) {
  gort::run([&] {
    auto c = gort::make_chan<int64_t>(128);
    int64_t sum = 0;
    for (auto _ : state) {
      c.send(1);
      sum += c.recv();
    }
    benchmark::DoNotOptimize(sum);
  });
  report_items(state, state.iterations(), "per_pair");
}
BENCHMARK(BM_ChanBufferedSendRecv)->UseRealTime()->MeasureProcessCPUTime();

void BM_ChanTryRecvEmpty(benchmark::State& state) {
  gort::run([&] {
    auto c = gort::make_chan<int64_t>(1);
    for (auto _ : state) benchmark::DoNotOptimize(c.try_recv());
  });
  report_items(state, state.iterations(), "per_op");
}
BENCHMARK(BM_ChanTryRecvEmpty)->UseRealTime()->MeasureProcessCPUTime();

void BM_ChanUnbufferedHandoff(benchmark::State& state) {
  gort::run([&] {
    procs_scope procs(int(state.range(0)));
    auto c = gort::make_chan<int64_t>();
    gort::sync::wait_group partner;
    partner.go([c] {
      int64_t sum = 0;
      for (int64_t v : c) sum += v;
      benchmark::DoNotOptimize(sum);
    });
    for (auto _ : state) c.send(1);
    c.close();
    partner.wait();
  });
  report_items(state, state.iterations(), "per_handoff");
}
BENCHMARK(BM_ChanUnbufferedHandoff)->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();

// select over the first N of 8 channels.
template <int N>
int select_n(gort::chan<int64_t>* cs, int64_t& sum) {
  auto add = [&sum](int64_t v) { sum += v; };
  if constexpr (N == 1) {
    return gort::select(gort::case_recv(cs[0], add));
  } else if constexpr (N == 2) {
    return gort::select(gort::case_recv(cs[0], add), gort::case_recv(cs[1], add));
  } else if constexpr (N == 4) {
    return gort::select(gort::case_recv(cs[0], add), gort::case_recv(cs[1], add),
                        gort::case_recv(cs[2], add), gort::case_recv(cs[3], add));
  } else {
    return gort::select(gort::case_recv(cs[0], add), gort::case_recv(cs[1], add),
                        gort::case_recv(cs[2], add), gort::case_recv(cs[3], add),
                        gort::case_recv(cs[4], add), gort::case_recv(cs[5], add),
                        gort::case_recv(cs[6], add), gort::case_recv(cs[7], add));
  }
}

template <int N>
void BM_Select(benchmark::State& state) {
  gort::run([&] {
    gort::chan<int64_t> cs[8];
    for (auto& c : cs) c = gort::make_chan<int64_t>(1);
    int64_t sum = 0;
    int k = 0;
    for (auto _ : state) {
      cs[k].send(1);  // the one ready case
      if (++k == N) k = 0;
      select_n<N>(cs, sum);
    }
    benchmark::DoNotOptimize(sum);
  });
  report_items(state, state.iterations(), "per_select");
}
BENCHMARK(BM_Select<1>)->Name("BM_Select/1")->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_Select<2>)->Name("BM_Select/2")->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_Select<4>)->Name("BM_Select/4")->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_Select<8>)->Name("BM_Select/8")->UseRealTime()->MeasureProcessCPUTime();

void BM_SelectBlocking(benchmark::State& state) {
  gort::run([&] {
    procs_scope procs(1);
    auto a = gort::make_chan<int64_t>();
    auto b = gort::make_chan<int64_t>();
    std::atomic<bool> stop{false}, done{false};
    gort::sync::wait_group partner;
    partner.go([&] {
      for (int64_t i = 0; !stop.load(std::memory_order_relaxed); i++) (i % 2 ? a : b).send(i);
      done = true;
    });
    int64_t sum = 0;
    auto add = [&sum](int64_t v) { sum += v; };
    for (auto _ : state) gort::select(gort::case_recv(a, add), gort::case_recv(b, add));
    stop.store(true, std::memory_order_relaxed);
    // The partner may be blocked in one last send: take it.
    while (!done.load())
      gort::select(gort::case_recv(a), gort::case_recv(b), gort::case_default([] { gort::yield(); }));
    partner.wait();
    benchmark::DoNotOptimize(sum);
  });
  report_items(state, state.iterations(), "per_select");
}
BENCHMARK(BM_SelectBlocking)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace
