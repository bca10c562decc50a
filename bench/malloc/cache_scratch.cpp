// cache_scratch: Hoard's cache-scratch test of passive false sharing. The main thread
// allocates one small object per thread (neighbours in memory); each thread frees its
// object, then repeatedly allocates an object of the same size and writes it many times.
// An allocator that hands the freed neighbour slots to different threads makes them share
// cache lines.
#include <thread>
#include <vector>

#include "common.hpp"

int main(int argc, char** argv) {
  int threads = bench::arg_int(argc, argv, 1, 4);
  int iterations = bench::arg_int(argc, argv, 2, 1000);
  int repetitions = bench::arg_int(argc, argv, 3, 20000);
  constexpr int size = 8;
  std::vector<char*> first(threads);
  for (auto& p : first) p = static_cast<char*>(std::malloc(size));
  double t0 = bench::now_s();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      std::free(first[t]);
      for (int i = 0; i < iterations; i++) {
        auto* p = static_cast<volatile char*>(std::malloc(size));
        for (int k = 0; k < repetitions; k++)
          for (int j = 0; j < size; j++) p[j] = char(p[j] + 1);
        std::free(const_cast<char*>(p));
      }
    });
  }
  for (auto& th : ts) th.join();
  bench::report("cache_scratch", t0);
}
