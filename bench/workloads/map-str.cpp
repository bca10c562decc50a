// map-str: string -> int64 map with keys "k%d" (the same keys, in the same order, as
// map-int) — insert 1,000,000 keys (a permutation of 0..N-1 drawn from a
// full-period LCG mod 2^20), 1,000,000 lookups that hit, 1,000,000 that miss (keys "k%d" of N+perm[i]),
// a range summing the values, then delete every key; the value of key "k%d" is d. Prints the
// per-phase ns per op; check = 10^12. The gort counterpart of bench/go/map-str/main.go.
// Environment: PRESIZE=1 sizes the map for N up front; IMPL=gort (default) | std | absl runs
// the same procedure on gort::map, std::unordered_map or absl::flat_hash_map.
#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include <gort/map.hpp>
#include <gort/string.hpp>

namespace {

constexpr int64_t N = 1000000;
using clk = std::chrono::steady_clock;

std::vector<int64_t> perm() {
  std::vector<int64_t> out;
  out.reserve(N);
  for (uint32_t x = 12345; int64_t(out.size()) < N;) {
    x = (x * 1664525u + 1013904223u) & ((1u << 20) - 1);
    if (x < N) out.push_back(int64_t(x));
  }
  return out;
}

// The four operations, spelled for each implementation.
// gort::map keys are gort::string (Go's string); the C++ peers use std::string.
struct gort_ops {
  using key = gort::string;
  using map = gort::map<key, int64_t>;
  static map make(bool presize) { return gort::make_map<key, int64_t>(presize ? N : 0); }
  static void set(map& m, const key& k, int64_t v) { m.set(k, v); }
  static const int64_t* find(const map& m, const key& k) { return m.find(k); }
  static void erase(map& m, const key& k) { m.erase(k); }
};
template <class M>
struct std_like_ops {
  using key = std::string;
  using map = M;
  static map make(bool presize) {
    map m;
    if (presize) m.reserve(N);
    return m;
  }
  static void set(map& m, const key& k, int64_t v) { m[k] = v; }
  static const int64_t* find(const map& m, const key& k) {
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
  }
  static void erase(map& m, const key& k) { m.erase(k); }
};

template <class Ops>
int run(const char* impl, bool presize) {
  using key = typename Ops::key;
  std::vector<int64_t> p = perm();
  std::vector<key> keys(N), miss(N);
  char buf[32];
  for (int64_t i = 0; i < N; i++) {
    keys[i] = key(std::string_view(buf, size_t(std::snprintf(buf, sizeof buf, "k%lld", (long long)p[i]))));
    miss[i] = key(std::string_view(buf, size_t(std::snprintf(buf, sizeof buf, "k%lld", (long long)(N + p[i])))));
  }
  clk::time_point t[6];
  t[0] = clk::now();
  auto m = Ops::make(presize);
  for (int64_t i = 0; i < N; i++) Ops::set(m, keys[i], p[i]);
  t[1] = clk::now();
  int64_t size = int64_t(m.size());
  int64_t hits = 0;
  for (const key& k : keys) {
    if (const int64_t* v = Ops::find(m, k)) hits += *v;
  }
  t[2] = clk::now();
  int64_t found = 0;
  for (const key& k : miss) found += Ops::find(m, k) != nullptr;
  t[3] = clk::now();
  int64_t sum = 0;
  for (auto [k, v] : m) sum += v;
  t[4] = clk::now();
  for (const key& k : keys) Ops::erase(m, k);
  t[5] = clk::now();
  auto ns = [&](int i) { return double(std::chrono::duration_cast<std::chrono::nanoseconds>(t[i + 1] - t[i]).count()) / N; };
  double total = double(std::chrono::duration_cast<std::chrono::nanoseconds>(t[5] - t[0]).count());
  int64_t check = hits + sum + found + size + int64_t(m.size());
  std::printf(
      "{\"workload\": \"map-str\", \"impl\": \"%s%s\", \"ns_per_op\": %.3f, \"ops\": %lld, \"check\": %lld, "
      "\"insert_ns\": %.2f, \"hit_ns\": %.2f, \"miss_ns\": %.2f, \"iter_ns\": %.2f, \"delete_ns\": %.2f, "
      "\"total_ms\": %.3f}\n",
      impl, presize ? "-presized" : "", total / (5 * N), (long long)(5 * N), (long long)check, ns(0), ns(1), ns(2),
      ns(3), ns(4), total / 1e6);
  return 0;
}

}  // namespace

int main() {
  const char* p = std::getenv("PRESIZE");
  bool presize = p != nullptr && std::strcmp(p, "1") == 0;
  const char* impl = std::getenv("IMPL");
  std::string which = impl != nullptr ? impl : "gort";
  if (which == "std") return run<std_like_ops<std::unordered_map<std::string, int64_t>>>("std-unordered_map", presize);
  if (which == "absl") return run<std_like_ops<absl::flat_hash_map<std::string, int64_t>>>("absl-flat_hash_map", presize);
  if (which != "gort") {
    std::fprintf(stderr, "map-str: IMPL must be gort, std or absl\n");
    return 2;
  }
  return run<gort_ops>("gort", presize);
}
