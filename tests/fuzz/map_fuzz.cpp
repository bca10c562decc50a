// map_fuzz: differential fuzz target — gort::map against std::unordered_map over a byte
// program of inserts, deletes, lookups, clears and ranges that write while they walk (so the
// map grows in the middle of a range). Built as a libFuzzer target with clang
// (-DGORT_FUZZ=ON) and, always, as a plain test (map_fuzz_main.cpp) that replays a fixed
// corpus and fixed-seed random inputs. Any difference from the model aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <unordered_map>

#include "gort/map.hpp"

namespace {

[[noreturn]] void fail(const char* what, uint64_t k) {
  std::fprintf(stderr, "map_fuzz: %s (key %llu)\n", what, (unsigned long long)k);
  std::abort();
}

struct reader {
  const uint8_t* p;
  size_t n;
  bool more() const { return n > 0; }
  uint8_t byte() {
    if (n == 0) return 0;
    n--;
    return *p++;
  }
  uint16_t u16() { return uint16_t(byte() | byte() << 8); }
};

// Keys are strings for some inputs (non-trivial keys and values), ints for others.
template <class K>
K make_key(uint16_t x);
template <>
uint32_t make_key<uint32_t>(uint16_t x) {
  return x;
}
template <>
std::string make_key<std::string>(uint16_t x) {
  return "key-" + std::to_string(x);
}

template <class K>
void run(reader& r) {
  int64_t hint = r.byte() % 4 == 0 ? int64_t(r.byte()) * 4 : 0;
  auto m = gort::make_map<K, std::string>(hint);
  std::unordered_map<K, std::string> ref;
  uint16_t keymask = uint16_t((1u << (4 + r.byte() % 9)) - 1);  // 16 .. 4096 distinct keys
  uint64_t counter = 0;
  while (r.more()) {
    uint8_t op = r.byte();
    K k = make_key<K>(r.u16() & keymask);
    switch (op % 8) {
      case 0:
      case 1:
      case 2: {
        std::string v = std::to_string(counter++);
        m.set(k, v);
        ref[k] = v;
        break;
      }
      case 3: {
        // A burst of inserts: growth.
        int n = 1 + (op >> 3) * 4;
        for (int i = 0; i < n; i++) {
          K bk = make_key<K>(uint16_t((r.u16() + i * 977) & keymask));
          std::string v = std::to_string(counter++);
          m.set(bk, v);
          ref[bk] = v;
        }
        break;
      }
      case 4:
        m.erase(k);
        ref.erase(k);
        break;
      case 5: {
        auto [v, ok] = m.get_ok(k);
        auto it = ref.find(k);
        if (ok != (it != ref.end())) fail("lookup presence differs", counter);
        if (ok && v != it->second) fail("lookup value differs", counter);
        break;
      }
      case 6:
        if ((op >> 3) == 0) {
          m.clear();
          ref.clear();
        }
        break;
      case 7: {
        // A range that writes as it goes, driven by the next bytes.
        std::unordered_map<K, std::string> start = ref;
        std::set<K> seen, removed, ever_removed;
        for (auto [rk, rv] : m) {
          // A key deleted and added again is a new entry, which a range may return again.
          if (!seen.insert(rk).second && !ever_removed.count(rk)) fail("range returned a key twice", counter);
          if (removed.count(rk)) fail("range returned a deleted key", counter);
          auto it = ref.find(rk);
          if (it == ref.end()) fail("range returned an absent key", counter);
          if (it->second != rv) fail("range returned a stale value", counter);
          uint8_t w = r.byte();
          for (int j = 0; j < (w & 7); j++) {
            K wk = make_key<K>(r.u16() & keymask);
            if (w & 0x80) {
              if (ref.erase(wk)) {
                removed.insert(wk);
                ever_removed.insert(wk);
              }
              m.erase(wk);
            } else {
              removed.erase(wk);
              std::string v = std::to_string(counter++);
              m.set(wk, v);
              ref[wk] = v;
            }
          }
        }
        for (auto& [sk, sv] : start) {
          if (!ever_removed.count(sk) && !seen.count(sk)) fail("range missed a key present throughout", counter);
        }
        break;
      }
    }
    if (m.len() != ref.size()) fail("len differs", counter);
  }
  for (auto& [k, v] : ref) {
    auto* p = m.find(k);
    if (p == nullptr || *p != v) fail("final contents differ", counter);
  }
  size_t n = 0;
  for (auto kv : m) {
    (void)kv;
    n++;
  }
  if (n != ref.size()) fail("final range size differs", n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  reader r{data, size};
  if (r.byte() & 1) {
    run<std::string>(r);
  } else {
    run<uint32_t>(r);
  }
  return 0;
}
