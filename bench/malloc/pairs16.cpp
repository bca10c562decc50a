// pairs16: 50 million malloc(16)/free pairs on one thread (the allocator's fast path).
#include "common.hpp"

int main(int argc, char** argv) {
  long n = long(bench::arg_int(argc, argv, 1, 50)) * 1000000;
  double t0 = bench::now_s();
  for (long i = 0; i < n; i++) {
    char* p = static_cast<char*>(std::malloc(16));
    p[0] = char(i);
    bench::escape(p);
    std::free(p);
  }
  bench::report("pairs16", t0);
}
