// gort/sync/wait_group.hpp — waiting for a collection of goroutines (Go: sync.WaitGroup).
//
//   gort::sync::wait_group wg;
//   for (int i = 0; i < n; i++) wg.go([i] { work(i); });   // Go 1.25's WaitGroup.Go
//   wg.wait();
//
// Waiting parks the goroutine (never its thread); called from a plain thread, wait blocks
// that thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <utility>

#include "gort/runtime.hpp"

namespace gort::sync {

class wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  // Adds delta (may be negative) to the counter; when it reaches zero every waiter is
  // released. A negative counter panics with "sync: negative WaitGroup counter".
  void add(int delta);
  void done() { add(-1); }
  // Blocks until the counter is zero.
  void wait();
  // add(1), then runs f in a new goroutine that calls done() when f returns.
  template <class F>
  [[gnu::noinline]] void go(F&& f) {
    add(1);
    auto gopc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
    gort::detail::go_from(gopc, [this, fn = std::forward<F>(f)]() mutable {
      struct done_guard {
        wait_group* wg;
        ~done_guard() { wg->done(); }
      } d{this};
      fn();
    });
  }

 private:
  // Go 1.19 layout: counter in the high 32 bits, waiter count in the low 32 bits.
  std::atomic<uint64_t> state_{0};
  std::atomic<uint32_t> sema_{0};
};

}  // namespace gort::sync
