// Scheduler micro-benchmarks (Google Benchmark). Each benchmark function runs one
// gort::run, and the benchmark's state loop runs inside the main goroutine. Every
// benchmark uses real time (goroutines migrate between threads, so per-thread CPU time
// would be meaningless) and process CPU time.
//
//   BM_Yield               two goroutines on one P ping-ponging with gort::yield;
//                          items = switches, per_switch = real time per switch.
//   BM_SpawnExit           go + exit of a goroutine that calls wg.done(); waits in batches
//                          of 1000. items = goroutines.
//   BM_ParkReadyAcrossPs   GOMAXPROCS=2, two goroutines handing a token back and forth
//                          through a gopark/goready baton; items = handoffs.
//   BM_TimerAddDel/N       rt::addtimer + rt::deltimer of one timer on a P whose heap
//                          already holds N timers (GOMAXPROCS=1). items = add+del pairs.
//   BM_TimerInsertFire/N   time::sleep(1us) round trips (timer insert, fire, goready,
//                          switch back) with N goroutines sleeping concurrently (the main
//                          one included); items = sleeps completed by all of them.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <gort/gort.hpp>

#include "bench_util.hpp"

#include "os/clock.hpp"
#include "sched/sched.hpp"
#include "sched/timers.hpp"

namespace {

using namespace std::chrono_literals;
namespace rt = gort::rt;

// ---- BM_Yield ----

void BM_Yield(benchmark::State& state) {
  gort::run([&] {
    procs_scope procs(1);
    std::atomic<bool> stop{false};
    gort::sync::wait_group partner_done;
    partner_done.add(1);
    gort::go([&] {
      while (!stop.load(std::memory_order_relaxed)) gort::yield();
      partner_done.done();
    });
    // Each iteration: main yields to the partner (one switch), the partner yields back
    // (a second switch).
    for (auto _ : state) gort::yield();
    stop.store(true, std::memory_order_relaxed);
    partner_done.wait();
  });
  report_items(state, 2 * state.iterations(), "per_switch");
}
BENCHMARK(BM_Yield)->UseRealTime()->MeasureProcessCPUTime();

// ---- BM_SpawnExit ----

void BM_SpawnExit(benchmark::State& state) {
  gort::run([&] {
    gort::sync::wait_group wg;
    int64_t n = 0;
    for (auto _ : state) {
      wg.add(1);
      gort::go([&wg] { wg.done(); });
      if (++n % 1000 == 0) wg.wait();
    }
    wg.wait();  // the last partial batch (after the timed loop)
  });
  report_items(state, state.iterations(), "per_goroutine");
}
BENCHMARK(BM_SpawnExit)->UseRealTime()->MeasureProcessCPUTime();

// ---- BM_ParkReadyAcrossPs ----

// A one-token binary semaphore for one waiter and one poster at a time, built directly on
// gopark/goready. state_: 0 = empty, 1 = token present, otherwise the parked waiter's g*.
class baton {
 public:
  void post() {
    uintptr_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (s == kEmpty) {
        if (state_.compare_exchange_weak(s, kToken, std::memory_order_acq_rel)) return;
      } else {
        // s is a parked waiter (a double post, s == kToken, cannot happen in a ping-pong).
        if (state_.compare_exchange_weak(s, kEmpty, std::memory_order_acq_rel)) {
          rt::goready(reinterpret_cast<rt::g*>(s));
          return;
        }
      }
    }
  }

  void wait() {
    uintptr_t s = kToken;
    if (state_.compare_exchange_strong(s, kEmpty, std::memory_order_acq_rel)) return;
    // Park; once switched out, publish ourselves unless a token arrived in between.
    rt::gopark(
        [](rt::g* gp, void* arg) {
          auto* self = static_cast<baton*>(arg);
          uintptr_t expected = kEmpty;
          if (self->state_.compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(gp),
                                                   std::memory_order_acq_rel)) {
            return true;  // parked; post() will goready us
          }
          // A token arrived: consume it and run on at once.
          self->state_.store(kEmpty, std::memory_order_release);
          return false;
        },
        this, rt::wait_reason::semacquire);
  }

 private:
  static constexpr uintptr_t kEmpty = 0;
  static constexpr uintptr_t kToken = 1;
  std::atomic<uintptr_t> state_{kEmpty};
};

void BM_ParkReadyAcrossPs(benchmark::State& state) {
  gort::run([&] {
    procs_scope procs(2);
    baton to_partner, to_main;
    std::atomic<bool> stop{false};
    gort::sync::wait_group partner_done;
    partner_done.add(1);
    gort::go([&] {
      for (;;) {
        to_partner.wait();
        if (stop.load(std::memory_order_relaxed)) break;
        to_main.post();
      }
      partner_done.done();
    });
    // Each iteration: main -> partner, partner -> main (two handoffs).
    for (auto _ : state) {
      to_partner.post();
      to_main.wait();
    }
    stop.store(true, std::memory_order_relaxed);
    to_partner.post();
    partner_done.wait();
  });
  report_items(state, 2 * state.iterations(), "per_handoff");
}
BENCHMARK(BM_ParkReadyAcrossPs)->UseRealTime()->MeasureProcessCPUTime();

// ---- BM_TimerAddDel ----

void noop_timer(void*, uintptr_t) {}

void BM_TimerAddDel(benchmark::State& state) {
  const int64_t preload = state.range(0);
  gort::run([&] {
    procs_scope procs(1);  // one P: every timer lands in the same heap
    const int64_t far = gort::os::nanotime() + int64_t(3600) * 1000000000;  // never fires
    // Other timers in the heap, spread out so the measured one sifts through some levels.
    std::unique_ptr<rt::timer[]> others(new rt::timer[preload > 0 ? preload : 1]);
    for (int64_t i = 0; i < preload; i++) {
      others[i].when = far + (i * 7919) % (preload + 1) * 1000;
      others[i].f = noop_timer;
      rt::addtimer(&others[i]);
    }
    rt::timer t;
    t.f = noop_timer;
    int64_t k = 0;
    for (auto _ : state) {
      t.when = far + (k++ * 104729) % (preload + 1) * 1000 + 500;
      rt::addtimer(&t);
      benchmark::DoNotOptimize(rt::deltimer(&t));
    }
    for (int64_t i = 0; i < preload; i++) rt::deltimer(&others[i]);
  });
  report_items(state, state.iterations(), "per_add_del");
}
BENCHMARK(BM_TimerAddDel)->Arg(0)->Arg(1000)->Arg(100000)->UseRealTime()->MeasureProcessCPUTime();

// ---- BM_TimerInsertFire ----

void BM_TimerInsertFire(benchmark::State& state) {
  const int64_t sleepers = state.range(0);  // main included
  // Sleeps completed by all sleepers; only those between the first timed iteration and the
  // end of the timed loop are reported.
  std::atomic<int64_t> total{0};
  int64_t counted = 0;
  gort::run([&] {
    std::atomic<bool> stop{false};
    gort::sync::wait_group others_done;
    for (int64_t i = 1; i < sleepers; i++) {
      others_done.go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          gort::time::sleep(1us);
          total.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    bool first = true;
    int64_t base = 0;
    for (auto _ : state) {
      if (first) {
        base = total.load(std::memory_order_relaxed);
        first = false;
      }
      gort::time::sleep(1us);
      total.fetch_add(1, std::memory_order_relaxed);
    }
    counted = total.load(std::memory_order_relaxed) - base;
    stop.store(true, std::memory_order_relaxed);
    others_done.wait();
  });
  report_items(state, counted, "per_sleep");
  state.counters["sleeps_per_iter"] = benchmark::Counter(
      state.iterations() > 0 ? double(counted) / double(state.iterations()) : 0.0);
}
BENCHMARK(BM_TimerInsertFire)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace
