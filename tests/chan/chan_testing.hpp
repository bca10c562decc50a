// chan_testing: helpers shared by the channel tests.
#pragma once
#include <gtest/gtest.h>

#include <chrono>

#include "gort/gort.hpp"

namespace chan_testing {

using namespace std::chrono_literals;

// Sets GOMAXPROCS for the scope (inside a run) and puts the previous value back: the
// setting outlives the run otherwise.
struct procs_scope {
  explicit procs_scope(int n) : prev(gort::gomaxprocs(n)) {}
  ~procs_scope() { gort::gomaxprocs(prev); }
  procs_scope(const procs_scope&) = delete;
  procs_scope& operator=(const procs_scope&) = delete;
  int prev;
};

// Waits (sleeping briefly) until pred holds; fails the test after 10 s.
template <class P>
bool eventually(P pred) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "condition never held";
      return false;
    }
    gort::time::sleep(50us);
  }
  return true;
}

}  // namespace chan_testing

namespace chan_testing {

// Goroutines that the scope waits for when it ends, so that a run never ends with one of
// them still holding a channel (which ASan's leak check would report).
class goroutines {
 public:
  goroutines() = default;
  goroutines(const goroutines&) = delete;
  goroutines& operator=(const goroutines&) = delete;
  ~goroutines() { wg_.wait(); }
  template <class F>
  void go(F&& f) {
    wg_.go(std::forward<F>(f));
  }

 private:
  gort::sync::wait_group wg_;
};

}  // namespace chan_testing
