// mixed: one thread, a working set of 100k objects, 20M random replacements with a size
// mix of 70% 8..128 B, 25% 128 B..4 KiB, 5% 4..64 KiB; each new object is touched.
#include <cstring>
#include <vector>

#include "common.hpp"

int main(int argc, char** argv) {
  long ops = long(bench::arg_int(argc, argv, 1, 20)) * 1000000;
  constexpr int slots = 100000;
  std::vector<void*> v(slots, nullptr);
  bench::rng r(1);
  auto size = [&] {
    std::uint64_t k = r.below(100);
    if (k < 70) return 8 + r.below(121);
    if (k < 95) return 128 + r.below(4096 - 128);
    return 4096 + r.below(65536 - 4096);
  };
  double t0 = bench::now_s();
  for (long i = 0; i < ops; i++) {
    std::size_t k = r.below(slots);
    std::free(v[k]);
    std::size_t n = size();
    char* p = static_cast<char*>(std::malloc(n));
    p[0] = p[n - 1] = char(i);
    v[k] = p;
  }
  for (void* p : v) std::free(p);
  bench::report("mixed", t0);
}
