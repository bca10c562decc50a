// binary_trees: the Benchmarks Game's binary-trees (depth 21) with explicit malloc/free of
// every node, single-threaded: a stretch tree, a long-lived tree, and many short-lived
// trees of each depth, each checked by counting its nodes.
#include "common.hpp"

struct node {
  node* left;
  node* right;
};

static node* make(int d) {
  auto* n = static_cast<node*>(std::malloc(sizeof(node)));
  if (d > 0) {
    n->left = make(d - 1);
    n->right = make(d - 1);
  } else {
    n->left = n->right = nullptr;
  }
  return n;
}

static long check(const node* n) { return n->left ? 1 + check(n->left) + check(n->right) : 1; }

static void destroy(node* n) {
  if (n->left) {
    destroy(n->left);
    destroy(n->right);
  }
  std::free(n);
}

int main(int argc, char** argv) {
  int max_depth = bench::arg_int(argc, argv, 1, 21), min_depth = 4;
  double t0 = bench::now_s();
  node* stretch = make(max_depth + 1);
  std::printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, check(stretch));
  destroy(stretch);
  node* long_lived = make(max_depth);
  for (int d = min_depth; d <= max_depth; d += 2) {
    long iters = 1L << (max_depth - d + min_depth), sum = 0;
    for (long i = 0; i < iters; i++) {
      node* t = make(d);
      sum += check(t);
      destroy(t);
    }
    std::printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, sum);
  }
  std::printf("long lived tree of depth %d\t check: %ld\n", max_depth, check(long_lived));
  destroy(long_lived);
  bench::report("binary_trees", t0);
}
