// common: helpers for the allocator workloads (bench/malloc). The workloads are plain C++
// programs calling malloc/free (no gort): the allocator under test comes in through
// LD_PRELOAD. Each prints "<name> <seconds> s" on stdout.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace bench {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Keeps the compiler from proving the allocation unused (and removing malloc/free pairs).
inline void escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }

// xorshift64*: cheap, deterministic, per-thread.
struct rng {
  std::uint64_t s;
  explicit rng(std::uint64_t seed) : s(seed * 0x9e3779b97f4a7c15u + 1) {}
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717u;
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

inline int arg_int(int argc, char** argv, int i, int def) { return argc > i ? std::atoi(argv[i]) : def; }

// Peak resident set of this process image (VmHWM; ru_maxrss would include the parent's
// memory from before exec).
inline long peak_rss_kb() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb;
}

inline void report(const char* name, double t0) {
  double t = now_s() - t0;
  std::printf("peak_rss_kb %ld\n%s %.3f s\n", peak_rss_kb(), name, t);
}

}  // namespace bench
