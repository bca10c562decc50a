// map_test: gort::map's Go rules — the nil map, the table's shape (B, growth, incremental
// evacuation), random iteration order and iteration during writes, float and custom keys,
// object lifetimes, and a differential run against std::unordered_map.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gort/map.hpp"
#include "gort/string.hpp"

namespace gort::rt {
// Test-only view of a map's table.
struct map_test_access {
  template <class M>
  static auto* h(const M& m) {
    return m.h_;
  }
};
}  // namespace gort::rt

namespace {

using gort::rt::map_test_access;

template <class M>
int B_of(const M& m) {
  return map_test_access::h(m)->B;
}
template <class M>
bool growing(const M& m) {
  return map_test_access::h(m)->growing();
}

TEST(Map, NilMapReadsSeeNothing) {
  gort::map<int, int> nil;
  EXPECT_TRUE(nil.is_nil());
  EXPECT_TRUE(nil == nullptr);
  EXPECT_EQ(nil.len(), 0u);
  EXPECT_EQ(nil.get(3), 0);
  auto [v, ok] = nil.get_ok(3);
  EXPECT_EQ(v, 0);
  EXPECT_FALSE(ok);
  EXPECT_EQ(nil.find(3), nullptr);
  nil.erase(3);  // no-op
  nil.clear();   // no-op
  int n = 0;
  for (auto kv : nil) {
    (void)kv;
    n++;
  }
  EXPECT_EQ(n, 0);
}

TEST(Map, NilMapWritePanics) {
  gort::map<int, int> nil;
  try {
    nil.set(1, 2);
    FAIL() << "no panic";
  } catch (const gort::runtime_error& e) {
    EXPECT_STREQ(e.what(), "assignment to entry in nil map");
  }
  EXPECT_THROW(nil[1] = 2, gort::runtime_error);
}

TEST(Map, BasicOperations) {
  auto m = gort::make_map<int, std::string>();
  EXPECT_FALSE(m.is_nil());
  m.set(1, "one");
  m[2] = "two";
  m.set(1, "uno");
  EXPECT_EQ(m.len(), 2u);
  EXPECT_EQ(m.get(1), "uno");
  EXPECT_EQ(m.get(2), "two");
  EXPECT_EQ(m.get(3), "");
  auto [v, ok] = m.get_ok(2);
  EXPECT_TRUE(ok);
  EXPECT_EQ(v, "two");
  EXPECT_FALSE(m.get_ok(3).second);
  EXPECT_TRUE(m.contains(1));
  m.erase(1);
  m.erase(1);
  EXPECT_FALSE(m.contains(1));
  EXPECT_EQ(m.len(), 1u);
  m[5];  // m[k] as an lvalue inserts the zero value
  EXPECT_EQ(m.len(), 2u);
  EXPECT_EQ(m.get(5), "");
}

TEST(Map, CopiesShareOneTable) {
  auto a = gort::make_map<int, int>();
  auto b = a;
  b.set(1, 10);
  EXPECT_EQ(a.get(1), 10);
  a.erase(1);
  EXPECT_EQ(b.len(), 0u);
}

TEST(Map, MakeHintChoosesB) {
  // B is the smallest value with hint <= 6.5 * 2^B (and 8 fit in one bucket).
  EXPECT_EQ(B_of(gort::make_map<int, int>(0)), 0);
  EXPECT_EQ(B_of(gort::make_map<int, int>(8)), 0);
  EXPECT_EQ(B_of(gort::make_map<int, int>(9)), 1);
  EXPECT_EQ(B_of(gort::make_map<int, int>(13)), 1);
  EXPECT_EQ(B_of(gort::make_map<int, int>(14)), 2);
  EXPECT_EQ(B_of(gort::make_map<int, int>(1000000)), 18);
  EXPECT_EQ(B_of(gort::make_map<int, int>(-5)), 0);
}

TEST(Map, DoublesAtLoadFactorAndEvacuatesIncrementally) {
  auto m = gort::make_map<int64_t, int64_t>();
  auto* h = map_test_access::h(m);
  for (int64_t i = 0; i < 8; i++) m.set(i, i);
  EXPECT_EQ(h->B, 0);
  m.set(8, 8);  // count+1 = 9 > 8: doubles
  EXPECT_EQ(h->B, 1);
  // 1 old bucket: the write evacuated it, so the growth is over.
  EXPECT_FALSE(h->growing());
  for (int64_t i = 9; i < 13; i++) m.set(i, i);
  EXPECT_EQ(h->B, 1);
  m.set(13, 13);  // 14 > 13
  EXPECT_EQ(h->B, 2);
  // Big map: each write evacuates at most two old buckets.
  for (int64_t i = 14; i < 6656; i++) m.set(i, i);  // 6.5 * 1024 = 6656
  EXPECT_EQ(h->B, 10);
  EXPECT_FALSE(h->growing());
  m.set(6656, 0);
  EXPECT_EQ(h->B, 11);
  EXPECT_TRUE(h->growing());
  EXPECT_LE(h->nevacuate, 2u);
  uint64_t writes = 0;
  while (h->growing()) {
    uint64_t before = h->nevacuate;
    m.set(int64_t(100000 + writes), 1);
    writes++;
    if (h->growing()) {
      EXPECT_LE(h->nevacuate - before, 2u + 1024u);  // the mark skips done buckets
    }
  }
  EXPECT_GE(writes, 1024u / 2 - 1);  // 1024 old buckets, at most 2 per write
  // Reads during growth still find everything (some in old buckets).
  for (int64_t i = 0; i <= 6656; i++) ASSERT_TRUE(m.contains(i)) << i;
}

TEST(Map, ReadsSeeOldBucketsDuringGrowth) {
  auto m = gort::make_map<int, int>();
  auto* h = map_test_access::h(m);
  int i = 0;
  while (!(h->B == 6 && h->growing())) {
    m.set(i, i * 3);
    i++;
  }
  ASSERT_LT(h->nevacuate, (uint64_t(1) << 5));
  for (int j = 0; j < i; j++) ASSERT_EQ(m.get(j), j * 3);
}

TEST(Map, SameSizeGrowWhenOverflowsPileUp) {
  // Inserting and deleting keeps the count low while overflow buckets accumulate; Go then
  // grows to the same size to pack the entries again.
  auto m = gort::make_map<int, int>();
  auto* h = map_test_access::h(m);
  bool saw_same = false;
  std::mt19937 rng(1);
  for (int round = 0; round < 200000 && !saw_same; round++) {
    int k = int(rng());
    m.set(k, 1);
    if (h->growing() && h->same_size_grow()) saw_same = true;
    if (m.len() > 40) {
      for (int j = 0; j < 10; j++) {
        auto it = m.begin();
        int key = (*it).first;
        m.erase(key);
      }
    }
  }
  EXPECT_TRUE(saw_same);
}

TEST(Map, RangeHoldsEveryArrayItWalks) {
  // Same-size grows that start and finish under a range, one after another: a growth that
  // began after the range did has an old array the range did not hold at its start. When
  // the range walks that array, it must keep it alive until it moves on: the growth may
  // finish (and the map drop the array) while the range stands in one of its buckets
  // (ASan reports the read of a freed bucket otherwise). Each untouched entry is still
  // returned exactly once. A growth is forced by raising the overflow count, as many
  // overflow buckets would; writes of a scratch key do its evacuation work.
  for (int attempt = 0; attempt < 50; attempt++) {
    auto m = gort::make_map<int, int>();
    auto* h = map_test_access::h(m);
    for (int i = 0; i < 40; i++) m.set(i, i);
    std::map<int, int> seen;
    int grows = 0, scratch = 1000;
    for (auto it = m.begin(); it != m.end(); ++it) {
      seen[(*it).first]++;
      if (!h->growing()) {
        h->noverflow = 1 << 12;
        m.set(scratch, 0);  // starts a same-size grow
        ASSERT_TRUE(h->growing() && h->same_size_grow());
        m.erase(scratch++);
        grows++;
      } else {
        while (h->growing()) {  // finishes it: the map drops the old array
          m.set(scratch, 0);
          m.erase(scratch++);
        }
      }
    }
    EXPECT_GT(grows, 5);
    for (int i = 0; i < 40; i++) ASSERT_EQ(seen[i], 1) << "key " << i << " attempt " << attempt;
  }
}

TEST(Map, SameSizeGrowDuringRange) {
  // A range over a map that grows to the same size under it (churn piles up overflow
  // buckets) still returns each untouched entry exactly once.
  std::mt19937 rng(7);
  bool saw = false;
  for (int attempt = 0; attempt < 200 && !saw; attempt++) {
    auto m = gort::make_map<int, int>();
    auto* h = map_test_access::h(m);
    for (int i = 0; i < 40; i++) m.set(i, i);
    std::vector<int> churn;
    std::map<int, int> seen;
    for (auto [k, v] : m) {
      if (k < 40) seen[k]++;
      for (int j = 0; j < 20; j++) {
        int nk = 1000 + int(rng() % 1000000);
        m.set(nk, 0);
        churn.push_back(nk);
        if (churn.size() > 10) {
          size_t idx = rng() % churn.size();
          m.erase(churn[idx]);
          churn[idx] = churn.back();
          churn.pop_back();
        }
        if (h->growing() && h->same_size_grow()) saw = true;
      }
    }
    for (int i = 0; i < 40; i++) ASSERT_EQ(seen[i], 1) << "key " << i << " attempt " << attempt;
  }
  EXPECT_TRUE(saw) << "no same-size growth happened during a range";
}

TEST(Map, NeverShrinks) {
  auto m = gort::make_map<int, int>();
  for (int i = 0; i < 1000; i++) m.set(i, i);
  int b = B_of(m);
  for (int i = 0; i < 1000; i++) m.erase(i);
  EXPECT_EQ(m.len(), 0u);
  EXPECT_EQ(B_of(m), b);
}

template <class M>
std::vector<typename M::key_type> order_of(const M& m) {
  std::vector<typename M::key_type> out;
  for (auto [k, v] : m) out.push_back(k);
  return out;
}

TEST(Map, IterationOrderIsRandomEveryTime) {
  auto m = gort::make_map<int, int>();
  for (int i = 0; i < 100; i++) m.set(i, i);
  std::set<std::vector<int>> orders;
  for (int r = 0; r < 10; r++) {
    auto o = order_of(m);
    ASSERT_EQ(o.size(), 100u);
    ASSERT_EQ(std::set<int>(o.begin(), o.end()).size(), 100u);
    orders.insert(o);
  }
  EXPECT_GT(orders.size(), 1u);
}

TEST(Map, SingleBucketStartsAtARandomSlot) {
  auto m = gort::make_map<int, int>();
  for (int i = 0; i < 5; i++) m.set(i, i);
  ASSERT_EQ(B_of(m), 0);
  std::set<int> firsts;
  for (int r = 0; r < 200; r++) firsts.insert(order_of(m).front());
  EXPECT_GE(firsts.size(), 3u);
}

TEST(Map, DeletedDuringRangeAreNotSeen) {
  auto m = gort::make_map<int, int>();
  for (int i = 0; i < 500; i++) m.set(i, i);
  std::set<int> seen, deleted;
  for (auto [k, v] : m) {
    EXPECT_EQ(deleted.count(k), 0u) << k;
    EXPECT_TRUE(seen.insert(k).second);
    // Delete a few not-yet-seen keys.
    for (int d = 0; d < 3; d++) {
      int victim = (k * 7 + d * 131) % 500;
      if (!seen.count(victim) && m.contains(victim)) {
        m.erase(victim);
        deleted.insert(victim);
      }
    }
  }
  EXPECT_EQ(seen.size() + deleted.size(), 500u);
}

TEST(Map, GrowthDuringRangeSeesEveryOldEntryOnce) {
  for (int trial = 0; trial < 20; trial++) {
    auto m = gort::make_map<int, int>();
    const int n = 50 + trial * 37;
    for (int i = 0; i < n; i++) m.set(i, i);
    std::map<int, int> seen;
    int next = 1000000;
    for (auto [k, v] : m) {
      seen[k]++;
      EXPECT_EQ(v, k >= 1000000 ? -k : k);
      for (int j = 0; j < 5; j++, next++) m.set(next, -next);  // forces growth mid-range
    }
    for (int i = 0; i < n; i++) EXPECT_EQ(seen[i], 1) << "key " << i << " trial " << trial;
    for (auto& [k, c] : seen) EXPECT_EQ(c, 1) << k;
  }
}

TEST(Map, RangeStartedDuringGrowth) {
  auto m = gort::make_map<int, int>();
  auto* h = map_test_access::h(m);
  int i = 0;
  while (!(h->B == 7 && h->growing())) m.set(i++, i);
  const int n = i;
  std::map<int, int> seen;
  int next = 1 << 20;
  for (auto [k, v] : m) {
    seen[k]++;
    m.set(next++, 0);
  }
  for (int j = 0; j < n; j++) EXPECT_EQ(seen[j], 1) << j;
  for (auto& [k, c] : seen) EXPECT_EQ(c, 1);
}

TEST(Map, ClearDuringRange) {
  auto m = gort::make_map<int, std::string>();
  for (int i = 0; i < 100; i++) m.set(i, std::to_string(i));
  int seen = 0;
  for (auto [k, v] : m) {
    EXPECT_EQ(v, std::to_string(k));
    seen++;
    m.clear();
  }
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(m.len(), 0u);
  m.set(1, "x");
  EXPECT_EQ(m.get(1), "x");
}

TEST(Map, FloatKeysFollowGo) {
  auto m = gort::make_map<double, int>();
  m.set(0.0, 1);
  EXPECT_EQ(m.get(-0.0), 1);
  m.set(-0.0, 2);
  EXPECT_EQ(m.len(), 1u);
  for (auto [k, v] : m) {
    EXPECT_TRUE(std::signbit(k));  // Go overwrites the key: it is -0 now
    EXPECT_EQ(v, 2);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  m.set(nan, 3);
  m.set(nan, 4);
  EXPECT_EQ(m.len(), 3u);
  EXPECT_FALSE(m.contains(nan));
  m.erase(nan);
  EXPECT_EQ(m.len(), 3u);
  int nans = 0;
  for (auto [k, v] : m) nans += std::isnan(k);
  EXPECT_EQ(nans, 2);
  // Many NaNs, growth included, all seen by ranges.
  for (int i = 0; i < 200; i++) m.set(nan, i);
  nans = 0;
  for (auto [k, v] : m) {
    nans += std::isnan(k);
    m.set(nan, 0);  // grows during the range
  }
  EXPECT_GE(nans, 202);
  m.clear();
  EXPECT_EQ(m.len(), 0u);
}

TEST(Map, StringAndPointerKeys) {
  auto m = gort::make_map<std::string, int>();
  auto key = [](int i) { return std::string("k").append(std::to_string(i)); };
  for (int i = 0; i < 1000; i++) m.set(key(i), i);
  for (int i = 0; i < 1000; i++) ASSERT_EQ(m.get(key(i)), i);
  EXPECT_FALSE(m.contains("k1000"));
  int xs[4];
  auto p = gort::make_map<int*, int>();
  for (int i = 0; i < 4; i++) p.set(&xs[i], i);
  EXPECT_EQ(p.get(&xs[2]), 2);
  EXPECT_FALSE(p.contains(nullptr));
}

struct point {
  int x, y;
  bool operator==(const point&) const = default;
};

}  // namespace

template <>
struct gort::hash<point> {
  uint64_t operator()(const point& p, uint64_t seed) const noexcept { return gort::hash_bytes(&p, sizeof p, seed); }
};

namespace {

TEST(Map, CustomHashKeys) {
  auto m = gort::make_map<point, int>();
  for (int i = 0; i < 100; i++) m.set(point{i, -i}, i);
  EXPECT_EQ(m.get(point{7, -7}), 7);
  EXPECT_FALSE(m.contains(point{7, 7}));
}

// Counts live objects; a double destroy or a leak shows in the count (and under ASan).
struct tracked {
  static inline int live = 0;
  int v;
  std::unique_ptr<int> heap;  // non-trivial, and ASan sees a double free
  explicit tracked(int x = 0) : v(x), heap(std::make_unique<int>(x)) { live++; }
  tracked(const tracked& o) : v(o.v), heap(std::make_unique<int>(o.v)) { live++; }
  tracked(tracked&& o) noexcept : v(o.v), heap(std::move(o.heap)) { live++; }
  tracked& operator=(const tracked& o) {
    v = o.v;
    heap = std::make_unique<int>(o.v);
    return *this;
  }
  tracked& operator=(tracked&&) = default;
  ~tracked() { live--; }
  bool operator==(const tracked& o) const { return v == o.v; }
  uint64_t gort_hash(uint64_t seed) const { return gort::hash_u64(uint64_t(v), seed); }
};

TEST(Map, NonTrivialKeysAndValuesDestroyedExactlyOnce) {
  tracked::live = 0;
  {
    auto m = gort::make_map<tracked, tracked>();
    for (int i = 0; i < 3000; i++) m.set(tracked(i), tracked(i * 2));
    for (int i = 0; i < 3000; i += 3) m.erase(tracked(i));
    // A range across growth keeps copies of evacuated keys alive for itself.
    int n = 0;
    for (auto [k, v] : m) {
      EXPECT_EQ(v.v, k.v * 2);
      if (n++ < 100) m.set(tracked(100000 + n), tracked(2 * (100000 + n)));
    }
    EXPECT_EQ(m.get(tracked(4)).v, 8);
    auto copy = m;
    m.clear();
    EXPECT_EQ(copy.len(), 0u);
    for (int i = 0; i < 50; i++) m.set(tracked(i), tracked(i));
  }
  EXPECT_EQ(tracked::live, 0);
}

TEST(Map, MoveOnlyValues) {
  auto m = gort::make_map<int, std::unique_ptr<int>>();
  for (int i = 0; i < 500; i++) m.set(i, std::make_unique<int>(i));
  for (int i = 0; i < 500; i++) ASSERT_EQ(**m.find(i), i);
  m[3] = std::make_unique<int>(33);
  EXPECT_EQ(*m[3], 33);
}

// Randomised insert/delete/lookup/range against std::unordered_map, with writes during
// ranges (growth mid-range), checking Go's range guarantees.
TEST(Map, DifferentialAgainstUnorderedMap) {
  std::mt19937_64 rng(12345);
#if defined(GORT_ASAN) || defined(GORT_TSAN)
  const int rounds = 4;  // sanitizers make each round several times slower
#else
  const int rounds = 12;
#endif
  for (int round = 0; round < rounds; round++) {
    auto m = gort::make_map<uint32_t, uint64_t>(round % 3 == 0 ? int64_t(rng() % 500) : 0);
    std::unordered_map<uint32_t, uint64_t> ref;
    const uint32_t keyspace = 16 + uint32_t(rng() % 4000);
    for (int op = 0; op < 4000; op++) {
      uint32_t k = uint32_t(rng() % keyspace);
      switch (rng() % 10) {
        case 0:
        case 1:
        case 2:
        case 3: {
          uint64_t v = rng();
          m.set(k, v);
          ref[k] = v;
          break;
        }
        case 4:
        case 5:
          m.erase(k);
          ref.erase(k);
          break;
        case 6:
        case 7: {
          auto [v, ok] = m.get_ok(k);
          auto it = ref.find(k);
          ASSERT_EQ(ok, it != ref.end());
          if (ok) {
            ASSERT_EQ(v, it->second);
          }
          break;
        }
        case 8: {
          if (rng() % 20 == 0) {
            m.clear();
            ref.clear();
          }
          break;
        }
        case 9: {
          if (rng() % 4 != 0) break;
          // A range with writes in it.
          std::unordered_map<uint32_t, uint64_t> start = ref;
          std::set<uint32_t> seen, removed, ever_removed;
          for (auto [rk, rv] : m) {
            // A key deleted and added again is a new entry, which a range may return again.
            if (!seen.insert(rk).second) {
              ASSERT_TRUE(ever_removed.count(rk)) << "seen twice: " << rk;
            }
            ASSERT_EQ(removed.count(rk), 0u) << "deleted key returned: " << rk;
            auto it = ref.find(rk);
            ASSERT_NE(it, ref.end());
            ASSERT_EQ(it->second, rv);
            if (rng() % 3 == 0) {
              for (int w = 0; w < 4; w++) {
                uint32_t nk = uint32_t(rng() % (keyspace * 2));
                if (rng() % 2) {
                  uint64_t nv = rng();
                  removed.erase(nk);  // back in: may or may not be seen
                  m.set(nk, nv);
                  ref[nk] = nv;
                } else {
                  if (ref.erase(nk)) {
                    removed.insert(nk);
                    ever_removed.insert(nk);
                  }
                  m.erase(nk);
                }
              }
            }
          }
          for (auto& [sk, sv] : start) {
            if (!ever_removed.count(sk)) {
              ASSERT_TRUE(seen.count(sk)) << "missed " << sk;
            }
          }
          break;
        }
      }
      ASSERT_EQ(m.len(), ref.size());
    }
    for (auto& [k, v] : ref) ASSERT_EQ(m.get(k), v);
  }
}

// A string-keyed bucket keeps Go's packed layout: 8 tophash bytes, 8 keys of 24 bytes, 8
// values, the overflow pointer.
static_assert(sizeof(gort::rt::bmap<gort::string, int64_t>) == 8 + 8 * 24 + 8 * 8 + 8);

struct same_hash {
  uint64_t operator()(const gort::string&, uint64_t) const noexcept { return 0x4200000000000000ULL; }
};

// Every key in one bucket chain: entries in every slot (each candidate slot's key compared,
// the tophash bytes all alike) and in overflow buckets are found, replaced and deleted.
TEST(Map, StringKeysInEverySlotAndOverflow) {
  auto m = gort::make_map<gort::string, int64_t, same_hash>();
  std::vector<gort::string> keys;
  for (int i = 0; i < 30; i++) keys.emplace_back(std::string(size_t(i % 26), 'z') + std::to_string(i));
  for (int i = 0; i < 30; i++) m.set(keys[i], i);
  for (int i = 0; growing(m) && i < 100; i++) m.set(keys[0], 0);  // each write evacuates
  ASSERT_FALSE(growing(m));
  auto* h = map_test_access::h(m);
  int chain = 0;
  for (auto* b = h->buckets; b != nullptr; b = b->overflow) chain++;
  EXPECT_GE(chain, 4);  // 30 entries, 8 a bucket
  for (int i = 0; i < 30; i++) ASSERT_EQ(m.get(gort::string(keys[i].view())), i) << i;
  EXPECT_FALSE(m.contains(gort::string("absent")));
  for (int i = 0; i < 30; i += 3) m.erase(keys[i]);
  for (int i = 0; i < 30; i++) ASSERT_EQ(m.contains(keys[i]), i % 3 != 0) << i;
  for (int i = 0; i < 30; i += 3) m.set(keys[i], 100 + i);
  for (int i = 0; i < 30; i++) ASSERT_EQ(m.get(keys[i]), i % 3 == 0 ? 100 + i : i) << i;
  EXPECT_EQ(m.len(), 30u);
}

// Keys of the lengths where the representation and the hash change (0, 7, 8, 15, 16, 23,
// 24, ...), inserted in one form and found, replaced and deleted through others.
TEST(Map, StringKeysOfEveryLengthAndForm) {
  auto m = gort::make_map<gort::string, int64_t>();
  std::string pool(50, '-');
  gort::string big = pool + std::string(200, 'q') + pool;
  std::vector<std::string> raw;
  for (size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 22, 23, 24, 25, 40, 100}) {
    for (int v = 0; v < 20; v++) {
      std::string k(n, 'q');
      if (n > 0) k[(v * 5) % n] = char('A' + v);
      if (v == 0) k = std::string(n, 'q');
      raw.push_back(k);
    }
  }
  std::sort(raw.begin(), raw.end());
  raw.erase(std::unique(raw.begin(), raw.end()), raw.end());
  for (size_t i = 0; i < raw.size(); i++) m.set(gort::string(raw[i]), int64_t(i));
  ASSERT_EQ(m.len(), raw.size());
  for (size_t i = 0; i < raw.size(); i++) {
    const std::string& k = raw[i];
    ASSERT_EQ(m.get(gort::string::lit(k)), int64_t(i)) << k.size();
    if (k == std::string(k.size(), 'q')) {
      // A substring of a long string (shared when over 23 bytes).
      ASSERT_EQ(m.get(big(50, 50 + int64_t(k.size()))), int64_t(i)) << k.size();
    }
    ASSERT_FALSE(m.contains(gort::string(k + '\0'))) << k.size();
    if (!k.empty()) {
      std::string shorter = k.substr(1);
      bool present = std::binary_search(raw.begin(), raw.end(), shorter);
      ASSERT_EQ(m.contains(gort::string(shorter)), present) << k.size();
    }
  }
  for (size_t i = 0; i < raw.size(); i += 2) m.erase(gort::string::lit(raw[i]));
  for (size_t i = 0; i < raw.size(); i++) ASSERT_EQ(m.contains(gort::string(raw[i])), i % 2 == 1) << raw[i].size();
  int64_t sum = 0;
  for (auto [k, v] : m) {
    EXPECT_EQ(k.view(), raw[size_t(v)]);
    sum += v;
  }
  int64_t want = 0;
  for (size_t i = 1; i < raw.size(); i += 2) want += int64_t(i);
  EXPECT_EQ(sum, want);
}

// The differential run with gort::string keys (short and long) and int64 values: growth,
// deletes and ranges through the string probe (map_probe).
TEST(Map, StringKeysDifferentialAgainstUnorderedMap) {
  std::mt19937_64 rng(777);
  for (int round = 0; round < 4; round++) {
    auto m = gort::make_map<gort::string, int64_t>(round == 1 ? 300 : 0);
    std::unordered_map<std::string, int64_t> ref;
    const uint32_t keyspace = 64 + uint32_t(rng() % 3000);
    auto key = [&](uint32_t x) {
      std::string k = std::to_string(x);
      k += std::string(x % 37, char('a' + x % 26));  // lengths 1 .. 40
      return k;
    };
    for (int op = 0; op < 5000; op++) {
      std::string k = key(uint32_t(rng() % keyspace));
      switch (rng() % 8) {
        case 0:
        case 1:
        case 2: {
          int64_t v = int64_t(rng() >> 1);
          m.set(gort::string(k), v);
          ref[k] = v;
          break;
        }
        case 3:
        case 4:
          m.erase(gort::string(k));
          ref.erase(k);
          break;
        case 5:
        case 6: {
          auto [v, ok] = m.get_ok(gort::string(k));
          auto it = ref.find(k);
          ASSERT_EQ(ok, it != ref.end()) << k;
          if (ok) {
            ASSERT_EQ(v, it->second);
          }
          break;
        }
        case 7: {
          if (rng() % 8 != 0) break;
          size_t n = 0;
          for (auto [rk, rv] : m) {
            auto it = ref.find(std::string(rk.view()));
            ASSERT_NE(it, ref.end());
            ASSERT_EQ(it->second, rv);
            n++;
          }
          ASSERT_EQ(n, ref.size());
          break;
        }
      }
      ASSERT_EQ(m.len(), ref.size());
    }
    for (auto& [k, v] : ref) ASSERT_EQ(m.get(gort::string(k)), v);
  }
}

// The tophash scan: the SSE2 form (used on x86-64) and the portable SWAR form agree on every
// mask's lowest slot and on the emptyRest test, for all kinds of tophash bytes.
TEST(Map, TophashGroupFormsAgree) {
  using gort::rt::mapdef::tophash_group;
  using gort::rt::mapdef::tophash_group_swar;
  std::mt19937_64 rng(99);
  for (int t = 0; t < 20000; t++) {
    uint8_t bytes[8];
    for (auto& x : bytes) {
      uint64_t r = rng();
      x = (r & 3) == 0 ? uint8_t((r >> 8) % 5) : uint8_t(5 + (r >> 8) % 251);  // special or full
      if (t % 3 == 0) x = uint8_t(5 + (r >> 16) % 3);  // frequent repeats
    }
    tophash_group g(bytes);
    tophash_group_swar s(bytes);
    unsigned want_rest = 0, want_empty = 0;
    for (unsigned i = 0; i < 8; i++) {
      want_rest |= unsigned(bytes[i] == 0) << i;
      want_empty |= unsigned(bytes[i] <= 1) << i;
    }
    ASSERT_EQ(g.any_empty_rest(), want_rest != 0);
    ASSERT_EQ(s.any_empty_rest(), want_rest != 0);
    unsigned ge = g.empty(), se = s.empty();
    ASSERT_EQ(ge != 0, want_empty != 0);
    ASSERT_EQ(se != 0, want_empty != 0);
    if (want_empty != 0) {
      ASSERT_EQ(gort::rt::mapdef::first_slot(ge), gort::rt::mapdef::first_slot(want_empty));
      ASSERT_EQ(gort::rt::mapdef::first_slot(se), gort::rt::mapdef::first_slot(want_empty));
    }
    for (uint8_t top : {uint8_t(5), uint8_t(6), uint8_t(7), bytes[t % 8], uint8_t(255)}) {
      if (top < 5) continue;
      unsigned want = 0;
      for (unsigned i = 0; i < 8; i++) want |= unsigned(bytes[i] == top) << i;
      ASSERT_EQ(g.match(tophash_group::needle(top)), want);
      ASSERT_EQ(s.match(top), want);
    }
  }
}

// Deletes in one long chain: after each, the tophash bytes are exactly those of Go's
// mapdelete (the slot becomes emptyOne; when nothing full follows, the run of empty slots
// before it becomes emptyRest, across bucket boundaries), modelled on the chain's bytes laid
// end to end.
TEST(Map, DeleteMarksEmptyRestAsGoDoes) {
  using gort::rt::mapdef::empty_one;
  using gort::rt::mapdef::empty_rest;
  std::mt19937_64 rng(4242);
  for (int round = 0; round < 30; round++) {
    auto m = gort::make_map<gort::string, int64_t, same_hash>();
    int n = 1 + int(rng() % 40);
    std::vector<gort::string> keys;
    for (int i = 0; i < n; i++) keys.emplace_back("key" + std::to_string(i));
    for (int i = 0; i < n; i++) m.set(keys[i], i);
    for (int i = 0; growing(m) && i < 100; i++) m.set(keys[0], 0);
    ASSERT_FALSE(growing(m));
    auto* h = map_test_access::h(m);
    auto chain_bytes = [&] {
      std::vector<uint8_t> out;
      for (auto* b = h->buckets; b != nullptr; b = b->overflow) out.insert(out.end(), b->tophash, b->tophash + 8);
      return out;
    };
    auto slot_of = [&](const gort::string& k) {
      size_t p = 0;
      for (auto* b = h->buckets; b != nullptr; b = b->overflow, p += 8) {
        for (unsigned i = 0; i < 8; i++) {
          if (b->tophash[i] >= gort::rt::mapdef::min_top_hash && *b->key(i) == k) return p + i;
        }
      }
      return size_t(-1);
    };
    std::vector<uint8_t> model = chain_bytes();
    std::vector<int> order(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) order[size_t(i)] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int d : order) {
      size_t p = slot_of(keys[size_t(d)]);
      ASSERT_NE(p, size_t(-1));
      m.erase(keys[size_t(d)]);
      // Go's rule on the flat bytes.
      model[p] = empty_one;
      if (p + 1 == model.size() || model[p + 1] == empty_rest) {
        for (size_t q = p + 1; q-- > 0;) {
          if (model[q] != empty_one) break;
          model[q] = empty_rest;
        }
      }
      ASSERT_EQ(chain_bytes(), model) << "round " << round << " deleting " << d;
    }
    EXPECT_EQ(m.len(), 0u);
  }
}

}  // namespace
