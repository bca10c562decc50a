// xmalloc: xmalloc-test's producer/consumer pattern. Producers allocate batches of objects
// (16..512 B), consumers free them: every free happens on another thread than the malloc.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common.hpp"

int main(int argc, char** argv) {
  int pairs = bench::arg_int(argc, argv, 1, 2);
  long per_producer = long(bench::arg_int(argc, argv, 2, 5)) * 1000000;
  constexpr int batch = 256;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<void*>> q;
  int producers_left = pairs;
  double t0 = bench::now_s();
  std::vector<std::thread> ts;
  for (int t = 0; t < pairs; t++) {
    ts.emplace_back([&, t] {
      bench::rng r(t + 1);
      for (long done = 0; done < per_producer; done += batch) {
        std::vector<void*> b(batch);
        for (auto& p : b) {
          std::size_t n = 16 + r.below(497);
          p = std::malloc(n);
          static_cast<char*>(p)[0] = 1;
        }
        std::unique_lock<std::mutex> g(mu);
        cv.wait(g, [&] { return q.size() < 64; });  // bounded queue
        q.push_back(std::move(b));
        cv.notify_all();
      }
      std::lock_guard<std::mutex> g(mu);
      producers_left--;
      cv.notify_all();
    });
    ts.emplace_back([&] {
      for (;;) {
        std::vector<void*> b;
        {
          std::unique_lock<std::mutex> g(mu);
          cv.wait(g, [&] { return !q.empty() || producers_left == 0; });
          if (q.empty()) return;
          b = std::move(q.front());
          q.pop_front();
          cv.notify_all();
        }
        for (void* p : b) std::free(p);
      }
    });
  }
  for (auto& th : ts) th.join();
  bench::report("xmalloc", t0);
}
