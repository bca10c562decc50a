// goroutine_tree: a 10-ary tree of goroutines (the shape of the "skynet" benchmark). Each
// inner goroutine starts ten children and waits for them; each leaf reports its ordinal.
// With the default depth 6 that is 1,111,111 goroutines and 1,000,000 leaves.
//   goroutine_tree [depth]
#include <gort/gort.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

// Sums the ordinals of the leaves below a node: [first, first + size).
void node(long first, long size, long* out) {
  if (size == 1) {
    *out = first;
    return;
  }
  long sums[10] = {};
  long child = size / 10;
  gort::sync::wait_group wg;
  for (int i = 0; i < 10; i++) wg.go([=, &sums] { node(first + i * child, child, &sums[i]); });
  wg.wait();
  long total = 0;
  for (long s : sums) total += s;
  *out = total;
}

}  // namespace

int main(int argc, char** argv) {
  int depth = argc > 1 ? std::atoi(argv[1]) : 6;
  long leaves = 1;
  for (int i = 0; i < depth; i++) leaves *= 10;
  return gort::run([&] {
    auto t0 = std::chrono::steady_clock::now();
    long sum = 0;
    gort::sync::wait_group wg;
    wg.go([&] { node(0, leaves, &sum); });
    wg.wait();
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
    long goroutines = (leaves * 10 - 1) / 9;
    std::printf("%ld goroutines, sum of leaves %ld (expected %ld) in %.1f ms on %d procs\n",
                goroutines, sum, leaves * (leaves - 1) / 2, ms.count(), gort::gomaxprocs(0));
    return sum == leaves * (leaves - 1) / 2 ? 0 : 1;
  });
}
