// larson: Larson & Krishnan's server workload. Each thread keeps an array of objects and
// replaces random ones (16..256 B); after every round the arrays pass to the next thread,
// so most objects are freed by a thread other than the one that allocated them.
#include <barrier>
#include <thread>
#include <vector>

#include "common.hpp"

int main(int argc, char** argv) {
  int threads = bench::arg_int(argc, argv, 1, 4);
  int rounds = bench::arg_int(argc, argv, 2, 40);
  constexpr int slots = 2000, ops_per_round = 100000;
  std::vector<std::vector<void*>> arrays(threads, std::vector<void*>(slots, nullptr));
  std::barrier sync(threads);
  double t0 = bench::now_s();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      bench::rng r(t + 1);
      for (int round = 0; round < rounds; round++) {
        auto& a = arrays[(t + round) % threads];
        for (int i = 0; i < ops_per_round; i++) {
          std::size_t k = r.below(slots);
          std::free(a[k]);
          std::size_t n = 16 + r.below(241);
          char* p = static_cast<char*>(std::malloc(n));
          p[0] = char(i);
          a[k] = p;
        }
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& th : ts) th.join();
  for (auto& a : arrays)
    for (void* p : a) std::free(p);
  bench::report("larson", t0);
}
