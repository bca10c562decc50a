// plain_thread_producer: a workload shared by the cond tests and the scheduler stress tests,
// in which a thread that is not a goroutine (it has no P) wakes goroutines: three goroutines
// consume the numbers 1..n from a queue that a std::thread fills, signalling a
// gort::sync::cond after each one and broadcasting at the end.
#pragma once
#include <deque>
#include <mutex>
#include <thread>

#include "gort/gort.hpp"

namespace test_workloads {

// The sum of what the goroutines consumed (n * (n + 1) / 2 when nothing is lost). Call from
// a goroutine; returns when the producer and the three consumers are done.
inline long consume_what_a_plain_thread_produces(int n) {
  long sum = 0;
  gort::sync::mutex mu;
  gort::sync::cond nonempty(mu);
  std::deque<int> q;
  bool closed = false;
  gort::sync::wait_group wg;
  for (int c = 0; c < 3; c++)
    wg.go([&] {
      std::unique_lock lk(mu);
      for (;;) {
        while (q.empty() && !closed) nonempty.wait();
        if (q.empty()) return;
        sum += q.front();
        q.pop_front();
      }
    });
  std::thread producer([&] {
    for (int i = 1; i <= n; i++) {
      {
        std::lock_guard lk(mu);
        q.push_back(i);
      }
      nonempty.signal();
    }
    {
      std::lock_guard lk(mu);
      closed = true;
    }
    nonempty.broadcast();
  });
  wg.wait();
  producer.join();
  return sum;
}

}  // namespace test_workloads
