// sync_map_stress_test: gort::sync::map under concurrent use by goroutines and plain threads
// at once (run it under the tsan preset too).
//
//   - Counters: every worker increments random keys with a load + compare_and_swap loop;
//     at the end each key holds exactly the number of increments made on it (no lost or
//     doubled update), and range sums never exceed the final total.
//   - Churn: workers store, swap, load_or_store, delete, compare-and-delete and range over a
//     small key space with std::string values tagged with their key, while one worker
//     clears now and then; every value seen must carry its own key's tag. Values are
//     counted: when the map is gone each was destroyed exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"

namespace {

#ifdef GORT_TSAN
constexpr int kScale = 2;
#else
constexpr int kScale = 16;
#endif

constexpr int kGoroutines = 6;
constexpr int kThreads = 2;

struct counted {
  static inline std::atomic<int64_t> live{0};
  std::string s;
  counted() { live++; }
  explicit counted(std::string x) : s(std::move(x)) { live++; }
  counted(const counted& o) : s(o.s) { live++; }
  counted(counted&& o) noexcept : s(std::move(o.s)) { live++; }
  counted& operator=(const counted&) = default;
  ~counted() { live--; }
  bool operator==(const counted& o) const { return s == o.s; }
};

std::string tag(int k) { return std::string("k").append(std::to_string(k)).append(":"); }
bool tagged(int k, const counted& v) { return v.s.rfind(tag(k), 0) == 0; }

// Runs body(worker id) on kGoroutines goroutines and kThreads plain threads together. The
// threads start inside the run: the runtime's deadlock check counts only threads started
// after its first run as possible wakers of goroutines (a plain thread holding the map's
// mutex while every goroutine waits for it is not a deadlock).
template <class F>
void on_goroutines_and_threads(F body) {
  gort::run([&] {
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; i++) threads.emplace_back([&, i] { body(kGoroutines + i); });
    gort::sync::wait_group wg;
    wg.add(kGoroutines);
    for (int i = 0; i < kGoroutines; i++) {
      gort::go([&, i] {
        body(i);
        wg.done();
      });
    }
    wg.wait();
    for (auto& t : threads) t.join();
  });
}

TEST(SyncMapStress, CompareAndSwapCountersLoseNothing) {
  constexpr int kKeys = 32;
  const int per_worker = 20000 * kScale;
  gort::sync::map<int, int64_t> m;
  for (int k = 0; k < kKeys; k++) m.store(k, 0);
  std::vector<std::atomic<int64_t>> made(kKeys);
  on_goroutines_and_threads([&](int id) {
    std::mt19937 rng(unsigned(id) * 7919u + 1);
    for (int i = 0; i < per_worker; i++) {
      int k = int(rng() % kKeys);
      if (i % 1000 == 999) {
        int64_t sum = 0;
        m.range([&](const int&, const int64_t& v) {
          sum += v;
          return true;
        });
        int64_t bound = 0;
        for (auto& x : made) bound += x.load();
        EXPECT_LE(sum, bound + kGoroutines + kThreads);
        continue;
      }
      for (;;) {
        auto v = m.load(k);
        ASSERT_TRUE(v.has_value());
        if (m.compare_and_swap(k, *v, *v + 1)) break;
        if (i % 16 == 0) gort::yield();
      }
      made[size_t(k)]++;
    }
  });
  for (int k = 0; k < kKeys; k++) EXPECT_EQ(m.load(k), made[size_t(k)].load()) << "key " << k;
}

TEST(SyncMapStress, ChurnWithStringValues) {
  const int64_t live0 = counted::live.load();
  {
    constexpr int kKeys = 64;
    const int per_worker = 15000 * kScale;
    gort::sync::map<int, counted> m;
    on_goroutines_and_threads([&](int id) {
      std::mt19937 rng(unsigned(id) + 99);
      for (int i = 0; i < per_worker; i++) {
        int k = int(rng() % kKeys);
        counted v(tag(k) + std::to_string(id) + "." + std::to_string(i));
        switch (rng() % 10) {
          case 0:
            m.store(k, v);
            break;
          case 1:
            if (auto p = m.swap(k, v)) {
              EXPECT_TRUE(tagged(k, *p)) << p->s;
            }
            break;
          case 2: {
            auto [a, loaded] = m.load_or_store(k, v);
            EXPECT_TRUE(tagged(k, a)) << a.s;
            if (!loaded) {
              EXPECT_EQ(a.s, v.s);
            }
            break;
          }
          case 3:
            if (auto p = m.load_and_delete(k)) {
              EXPECT_TRUE(tagged(k, *p)) << p->s;
            }
            break;
          case 4:
            m.erase(k);
            break;
          case 5:
            if (auto p = m.load(k)) m.compare_and_delete(k, *p);
            break;
          case 6:
            if (auto p = m.load(k)) m.compare_and_swap(k, *p, v);
            break;
          case 7:
            if (i % 50 == 0) {
              m.range([&](const int& rk, const counted& rv) {
                EXPECT_TRUE(tagged(rk, rv)) << rk << " " << rv.s;
                return rk != 13;
              });
            }
            break;
          default:
            if (id == 0 && i % 500 == 0) m.clear();
            if (auto p = m.load(k + kKeys * (i & 1))) {
              EXPECT_TRUE(tagged(k, *p)) << p->s;
            }
            break;
        }
        if (i % 64 == 0) gort::yield();
      }
    });
  }
  EXPECT_EQ(counted::live.load(), live0) << "values leaked or destroyed twice";
}

// Readers hammer a few keys while writers replace their values and add and delete other
// keys (promotions, dirtyLocked, expunge), so retired values and tables are freed while
// readers run: ASan and TSan check that no reader touches freed memory.
TEST(SyncMapStress, ReadersDuringPromotionsAndReclaims) {
  gort::sync::map<int, std::string> m;
  for (int k = 0; k < 8; k++) m.store(k, tag(k));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> hits{0};
  std::thread plain_reader;
  gort::run([&] {
    plain_reader = std::thread([&] {
      while (!stop.load()) {
        for (int k = 0; k < 8; k++) {
          auto v = m.load(k);
          if (v) {
            EXPECT_EQ(v->rfind(tag(k), 0), 0u) << *v;
            hits++;
          }
        }
      }
    });
    gort::sync::wait_group wg;
    const int rounds = 3000 * kScale;
    wg.add(3);
    for (int w = 0; w < 2; w++) {
      gort::go([&, w] {
        for (int i = 0; i < rounds; i++) {
          int k = i % 8;
          m.store(k, tag(k) + std::to_string(i) + std::string(size_t(i % 40), 'x'));
          int extra = 100 + w * 100000 + i;
          m.store(extra, "e");
          m.load(extra + 1);  // misses: promotions
          m.erase(extra - 50);
          if (i % 16 == 0) gort::yield();
        }
        wg.done();
      });
    }
    gort::go([&] {
      while (hits.load() < 1000) gort::yield();
      for (int i = 0; i < rounds * 4; i++) {
        auto v = m.load(i % 8);
        if (v) {
          EXPECT_EQ(v->rfind(tag(i % 8), 0), 0u) << *v;
        }
        if (i % 256 == 0) gort::yield();
      }
      wg.done();
    });
    wg.wait();
  });
  stop.store(true);
  plain_reader.join();
  EXPECT_GT(hits.load(), 0);
}

}  // namespace
