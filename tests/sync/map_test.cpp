// map_test: gort::sync::map (Go 1.19 sync.Map plus 1.20 Swap/CompareAndSwap/CompareAndDelete
// and 1.23 Clear) — each operation's result as Go documents it, the algorithm's state
// transitions (first key into dirty, promotion when misses reach len(dirty), dirtyLocked
// expunging deleted entries, un-expunging on store, lock-free revival of a deleted read
// entry, range promoting first, clear), a randomised differential test against a
// mutex + std::unordered_map model, use from goroutines and plain threads, and memory
// reclamation (every value destroyed exactly once; a range keeps the table it walks alive).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gort/gort.hpp"

namespace {

using imap = gort::sync::map<int, int>;

// Counts live values so that tests can check each is destroyed exactly once.
struct tracked {
  static inline std::atomic<int64_t> live{0};
  static inline std::atomic<int64_t> made{0};
  int v = 0;
  tracked() : tracked(0) {}
  explicit tracked(int x) : v(x) {
    live++;
    made++;
  }
  tracked(const tracked& o) : v(o.v) {
    live++;
    made++;
  }
  tracked(tracked&& o) noexcept : v(o.v) {
    live++;
    made++;
  }
  tracked& operator=(const tracked&) = default;
  ~tracked() {
    EXPECT_EQ(v == -999, false) << "destroyed twice";
    v = -999;
    live--;
  }
  bool operator==(const tracked& o) const { return v == o.v; }
};

TEST(SyncMap, LoadStoreOverwrite) {
  imap m;
  EXPECT_FALSE(m.load(1).has_value());
  m.store(1, 10);
  EXPECT_EQ(m.load(1), 10);
  m.store(1, 11);
  EXPECT_EQ(m.load(1), 11);
  EXPECT_FALSE(m.load(2).has_value());
}

TEST(SyncMap, FirstKeyGoesToDirtyAndOneMissPromotesIt) {
  imap m;
  auto st = m.state();
  EXPECT_FALSE(st.amended);
  EXPECT_FALSE(st.has_dirty);
  m.store(1, 10);
  st = m.state();
  EXPECT_TRUE(st.amended);
  EXPECT_EQ(st.read_keys, 0u);
  EXPECT_TRUE(st.has_dirty);
  EXPECT_EQ(st.dirty_keys, 1u);
  EXPECT_EQ(m.load(1), 10);  // slow path: misses (1) >= len(dirty) (1): promote
  st = m.state();
  EXPECT_FALSE(st.amended);
  EXPECT_FALSE(st.has_dirty);
  EXPECT_EQ(st.read_keys, 1u);
  EXPECT_EQ(st.misses, 0u);
}

TEST(SyncMap, PromotionWhenMissesReachLenDirty) {
  imap m;
  for (int k = 0; k < 10; k++) m.store(k, k * 10);
  auto st = m.state();
  ASSERT_TRUE(st.amended);
  ASSERT_EQ(st.dirty_keys, 10u);
  for (int i = 0; i < 9; i++) {
    EXPECT_EQ(m.load(i), i * 10);
    st = m.state();
    EXPECT_TRUE(st.amended) << "promoted after " << i + 1 << " misses";
    EXPECT_EQ(st.misses, size_t(i + 1));
  }
  EXPECT_EQ(m.load(100), std::nullopt);  // a miss on an absent key counts too: 10 >= 10
  st = m.state();
  EXPECT_FALSE(st.amended);
  EXPECT_FALSE(st.has_dirty);
  EXPECT_EQ(st.read_keys, 10u);
  EXPECT_EQ(st.misses, 0u);
  // Read hits are lock-free and count nothing.
  for (int i = 0; i < 100; i++) EXPECT_EQ(m.load(i % 10), (i % 10) * 10);
  EXPECT_EQ(m.load(100), std::nullopt);  // not amended: no slow path
  st = m.state();
  EXPECT_EQ(st.misses, 0u);
  EXPECT_FALSE(st.amended);
}

// Stores and loads until every key is in read and dirty is gone.
void promote_all(imap& m) {
  for (int i = 0; i < 1000 && m.state().amended; i++) m.load(-1);
  ASSERT_FALSE(m.state().amended);
}

TEST(SyncMap, DirtyLockedExpungesDeletedEntriesAndStoreUnexpunges) {
  imap m;
  for (int k = 0; k < 10; k++) m.store(k, k);
  promote_all(m);
  m.erase(3);  // read hit: p = nil, the key stays in read
  auto st = m.state();
  EXPECT_EQ(st.read_keys, 10u);
  EXPECT_EQ(st.read_deleted, 1u);
  EXPECT_FALSE(st.has_dirty);
  EXPECT_EQ(m.load(3), std::nullopt);

  m.store(10, 10);  // new key: dirtyLocked copies read, expunging the nil entry
  st = m.state();
  EXPECT_TRUE(st.amended);
  EXPECT_EQ(st.read_expunged, 1u);
  EXPECT_EQ(st.read_deleted, 0u);
  EXPECT_EQ(st.dirty_keys, 10u);  // 9 live copied + the new key
  EXPECT_EQ(m.load(3), std::nullopt);

  m.store(3, 33);  // expunged read entry: un-expunge, back into dirty, store
  st = m.state();
  EXPECT_EQ(st.read_expunged, 0u);
  EXPECT_EQ(st.dirty_keys, 11u);
  EXPECT_EQ(st.misses, 0u);  // found in read: no miss
  EXPECT_EQ(m.load(3), 33);

  promote_all(m);
  for (int k = 0; k <= 10; k++) EXPECT_EQ(m.load(k), k == 3 ? 33 : k);
  EXPECT_EQ(m.state().read_keys, 11u);
}

TEST(SyncMap, ExpungedKeysLeaveReadAtPromotion) {
  imap m;
  for (int k = 0; k < 10; k++) m.store(k, k);
  promote_all(m);
  for (int k = 0; k < 5; k++) m.erase(k);
  m.store(10, 10);  // expunges 0..4
  EXPECT_EQ(m.state().read_expunged, 5u);
  promote_all(m);
  auto st = m.state();
  EXPECT_EQ(st.read_keys, 6u);  // 5..10
  EXPECT_EQ(st.read_expunged, 0u);
  for (int k = 0; k < 5; k++) EXPECT_EQ(m.load(k), std::nullopt);
}

TEST(SyncMap, DeletedReadEntryRevivesWithoutDirty) {
  imap m;
  m.store(1, 1);
  promote_all(m);
  m.erase(1);
  m.store(1, 2);  // read hit on a nil entry: lock-free CAS, no dirty made
  auto st = m.state();
  EXPECT_FALSE(st.has_dirty);
  EXPECT_FALSE(st.amended);
  EXPECT_EQ(m.load(1), 2);
}

TEST(SyncMap, LoadOrStore) {
  imap m;
  auto [v1, loaded1] = m.load_or_store(1, 10);
  EXPECT_EQ(v1, 10);
  EXPECT_FALSE(loaded1);
  m.store(2, 2);  // len(dirty) = 2, so one miss does not promote
  auto [v2, loaded2] = m.load_or_store(1, 20);
  EXPECT_EQ(v2, 10);
  EXPECT_TRUE(loaded2);
  EXPECT_EQ(m.state().misses, 1u) << "a dirty hit counts a miss";
  promote_all(m);
  auto [v3, loaded3] = m.load_or_store(1, 30);  // lock-free read hit
  EXPECT_EQ(v3, 10);
  EXPECT_TRUE(loaded3);
  m.erase(1);
  auto [v4, loaded4] = m.load_or_store(1, 40);  // nil entry: stores lock-free
  EXPECT_EQ(v4, 40);
  EXPECT_FALSE(loaded4);
  EXPECT_FALSE(m.state().has_dirty);
  // Expunged entry: un-expunged and stored under the lock.
  m.erase(1);
  m.store(3, 3);
  ASSERT_EQ(m.state().read_expunged, 1u);
  auto [v5, loaded5] = m.load_or_store(1, 50);
  EXPECT_EQ(v5, 50);
  EXPECT_FALSE(loaded5);
  EXPECT_EQ(m.load(1), 50);
  EXPECT_EQ(m.state().read_expunged, 0u);
}

TEST(SyncMap, LoadAndDeleteAndErase) {
  imap m;
  EXPECT_EQ(m.load_and_delete(1), std::nullopt);
  m.store(1, 10);
  m.store(2, 20);
  m.store(3, 30);
  // Dirty-only keys: removed from dirty under the lock, each call counts a miss.
  EXPECT_EQ(m.load_and_delete(1), 10);
  auto st = m.state();
  EXPECT_EQ(st.dirty_keys, 2u);
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(m.load_and_delete(1), std::nullopt);
  EXPECT_EQ(m.load(1), std::nullopt);
  promote_all(m);
  EXPECT_EQ(m.load_and_delete(2), 20);  // read hit: p = nil, key stays
  EXPECT_EQ(m.state().read_deleted, 1u);
  EXPECT_EQ(m.load_and_delete(2), std::nullopt);
  m.erase(3);
  m.erase(3);
  m.erase(42);
  EXPECT_EQ(m.load(3), std::nullopt);
  EXPECT_EQ(m.state().read_deleted, 2u);
}

TEST(SyncMap, Swap) {
  imap m;
  EXPECT_EQ(m.swap(1, 10), std::nullopt);
  EXPECT_EQ(m.load(1), 10);
  EXPECT_EQ(m.swap(1, 11), 10);  // read hit, lock-free
  EXPECT_EQ(m.swap(2, 20), std::nullopt);
  EXPECT_EQ(m.swap(2, 21), 20);  // dirty hit
  m.erase(1);
  EXPECT_EQ(m.swap(1, 12), std::nullopt) << "a deleted key has no previous value";
  EXPECT_EQ(m.load(1), 12);
}

TEST(SyncMap, CompareAndSwap) {
  imap m;
  EXPECT_FALSE(m.compare_and_swap(1, 0, 1)) << "absent key";
  EXPECT_FALSE(m.load(1).has_value());
  m.store(1, 10);
  m.store(2, 20);  // len(dirty) = 2
  EXPECT_FALSE(m.compare_and_swap(1, 9, 11));  // dirty, mismatch
  EXPECT_EQ(m.state().misses, 1u);
  EXPECT_TRUE(m.compare_and_swap(1, 10, 11));  // dirty, match
  EXPECT_EQ(m.load(1), 11);
  promote_all(m);
  EXPECT_TRUE(m.compare_and_swap(1, 11, 12));  // read, lock-free
  EXPECT_FALSE(m.compare_and_swap(1, 11, 13));
  EXPECT_EQ(m.load(1), 12);
  m.erase(1);
  EXPECT_FALSE(m.compare_and_swap(1, 12, 14)) << "deleted key";
  EXPECT_FALSE(m.load(1).has_value());
}

TEST(SyncMap, CompareAndDeleteLeavesTheKeyInDirty) {
  imap m;
  EXPECT_FALSE(m.compare_and_delete(1, 0));
  m.store(1, 10);
  m.store(2, 20);
  m.store(3, 30);  // len(dirty) = 3
  EXPECT_FALSE(m.compare_and_delete(1, 11));
  EXPECT_TRUE(m.compare_and_delete(1, 10));
  auto st = m.state();
  EXPECT_EQ(st.dirty_keys, 3u) << "Go leaves the key in dirty";
  EXPECT_EQ(st.misses, 2u) << "each dirty lookup counts a miss";
  EXPECT_EQ(m.load(1), std::nullopt);
  promote_all(m);
  EXPECT_TRUE(m.compare_and_delete(2, 20));  // read hit
  EXPECT_FALSE(m.compare_and_delete(2, 20));
  EXPECT_EQ(m.load(2), std::nullopt);
}

TEST(SyncMap, RangePromotesFirstAndVisitsEachLiveKeyOnce) {
  imap m;
  for (int k = 0; k < 50; k++) m.store(k, k + 100);
  m.erase(7);
  ASSERT_TRUE(m.state().amended);
  std::map<int, int> seen;
  m.range([&](const int& k, const int& v) {
    EXPECT_TRUE(seen.emplace(k, v).second) << "key visited twice";
    return true;
  });
  auto st = m.state();
  EXPECT_FALSE(st.amended);
  EXPECT_FALSE(st.has_dirty);
  EXPECT_EQ(seen.size(), 49u);
  for (auto [k, v] : seen) EXPECT_EQ(v, k + 100);
  EXPECT_EQ(seen.count(7), 0u);
}

TEST(SyncMap, RangeStopsWhenFReturnsFalse) {
  imap m;
  for (int k = 0; k < 20; k++) m.store(k, k);
  int calls = 0;
  m.range([&](const int&, const int&) { return ++calls < 5; });
  EXPECT_EQ(calls, 5);
  calls = 0;
  m.range([&](const int&, const int&) { calls++; });  // void: never stops
  EXPECT_EQ(calls, 20);
  imap empty;
  empty.range([&](const int&, const int&) {
    ADD_FAILURE() << "range over an empty map called f";
    return true;
  });
}

TEST(SyncMap, RangeCallbackMayUseTheMap) {
  // f stores, deletes keys the walk has not reached yet, promotes (nested range) and forces
  // reclamation: the table being walked and every entry it reaches must stay alive.
  imap m;
  for (int k = 0; k < 100; k++) m.store(k, k);
  std::vector<int> visited;
  m.range([&](const int& k, const int& v) {
    EXPECT_EQ(k, v);
    visited.push_back(k);
    m.store(k + 1000, v);  // new keys: dirty, amended
    m.erase(k);
    m.erase((k + 50) % 100);
    m.load(k + 1000);
    m.range([](const int&, const int&) { return false; });  // promotes
    gort::rt::rcu_barrier();  // frees whatever is retired, now
    return true;
  });
  EXPECT_GE(visited.size(), 50u);
  for (int k = 0; k < 100; k++) EXPECT_EQ(m.load(k), std::nullopt);
  for (int k : visited) EXPECT_EQ(m.load(k + 1000), k);
}

TEST(SyncMap, Clear) {
  imap m;
  m.clear();  // empty: nothing to do
  for (int k = 0; k < 10; k++) m.store(k, k);
  promote_all(m);
  m.erase(0);
  m.store(20, 20);  // dirty exists, 0 expunged
  m.clear();
  auto st = m.state();
  EXPECT_FALSE(st.amended);
  EXPECT_FALSE(st.has_dirty);
  EXPECT_EQ(st.read_keys, 0u);
  EXPECT_EQ(st.misses, 0u);
  for (int k = 0; k <= 20; k++) EXPECT_EQ(m.load(k), std::nullopt);
  int calls = 0;
  m.range([&](const int&, const int&) { return ++calls > 0; });
  EXPECT_EQ(calls, 0);
  m.store(5, 55);
  EXPECT_EQ(m.load(5), 55);
  EXPECT_EQ(m.load_or_store(6, 66), std::make_pair(66, false));
}

TEST(SyncMap, StringKeysAndValues) {
  gort::sync::map<std::string, std::string> m;
  for (int i = 0; i < 300; i++)
    m.store("key" + std::to_string(i), std::string(50, char('a' + i % 26)));
  for (int i = 0; i < 300; i++) {
    auto v = m.load("key" + std::to_string(i));
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, std::string(50, char('a' + i % 26)));
  }
  EXPECT_TRUE(m.compare_and_swap("key1", std::string(50, 'b'), "one"));
  EXPECT_EQ(m.swap("key1", "uno"), "one");
  EXPECT_EQ(m.load_and_delete("key1"), "uno");
  EXPECT_EQ(m.load("key1"), std::nullopt);
}

// A differential test: random operations on the map and on a model, compared result by
// result, with the algorithm's invariants checked along the way.
TEST(SyncMap, DifferentialAgainstModel) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 4; round++) {
    gort::sync::map<int, std::string> m;
    std::mutex mu;
    std::unordered_map<int, std::string> model;
    const int keys = round == 0 ? 4 : round == 1 ? 16 : 200;
    for (int step = 0; step < 20000; step++) {
      int k = int(rng() % unsigned(keys));
      std::string v = std::to_string(rng() % 5);
      std::lock_guard lk(mu);
      auto it = model.find(k);
      std::optional<std::string> want = it == model.end() ? std::nullopt
                                                          : std::optional<std::string>(it->second);
      switch (rng() % 12) {
        case 0:
        case 1:
        case 2:
          ASSERT_EQ(m.load(k), want) << "step " << step;
          break;
        case 3:
          m.store(k, v);
          model[k] = v;
          break;
        case 4: {
          auto [actual, loaded] = m.load_or_store(k, v);
          ASSERT_EQ(loaded, want.has_value());
          ASSERT_EQ(actual, want.value_or(v));
          if (!want) model[k] = v;
          break;
        }
        case 5:
          ASSERT_EQ(m.load_and_delete(k), want);
          model.erase(k);
          break;
        case 6:
          m.erase(k);
          model.erase(k);
          break;
        case 7:
          ASSERT_EQ(m.swap(k, v), want);
          model[k] = v;
          break;
        case 8: {
          std::string old = std::to_string(rng() % 5);
          bool ok = want && *want == old;
          ASSERT_EQ(m.compare_and_swap(k, old, v), ok);
          if (ok) model[k] = v;
          break;
        }
        case 9: {
          std::string old = std::to_string(rng() % 5);
          bool ok = want && *want == old;
          ASSERT_EQ(m.compare_and_delete(k, old), ok);
          if (ok) model.erase(k);
          break;
        }
        case 10: {
          if (rng() % 8 != 0) {
            ASSERT_EQ(m.load(k), want);
            break;
          }
          std::unordered_map<int, std::string> seen;
          m.range([&](const int& rk, const std::string& rv) {
            EXPECT_TRUE(seen.emplace(rk, rv).second);
            return true;
          });
          ASSERT_EQ(seen, model);
          break;
        }
        case 11:
          if (rng() % 50 == 0) {
            m.clear();
            model.clear();
          } else {
            ASSERT_EQ(m.load(k), want);
          }
          break;
      }
      if (step % 97 == 0) {
        auto st = m.state();
        ASSERT_EQ(st.amended, st.has_dirty);
        if (!st.has_dirty) {
          ASSERT_EQ(st.read_expunged, 0u) << "expunged without dirty";
        }
        if (st.has_dirty) {
          // dirty holds every non-expunged read key plus the new ones.
          ASSERT_GE(st.dirty_keys + st.read_expunged, st.read_keys);
        }
      }
    }
  }
}

TEST(SyncMap, EveryValueDestroyedExactlyOnce) {
  int64_t live0 = tracked::live.load();
  {
    gort::sync::map<int, tracked> m;
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; i++) {
      int k = int(rng() % 64);
      switch (rng() % 8) {
        case 0:
          m.store(k, tracked(i));
          break;
        case 1:
          m.swap(k, tracked(i));
          break;
        case 2:
          m.load_or_store(k, tracked(i));
          break;
        case 3:
          m.load_and_delete(k);
          break;
        case 4:
          m.erase(k);
          break;
        case 5:
          m.compare_and_swap(k, tracked(k), tracked(i));
          break;
        case 6:
          m.compare_and_delete(k, tracked(i - 1));
          break;
        case 7:
          if (rng() % 100 == 0) m.clear();
          m.load(k);
          break;
      }
    }
    EXPECT_GT(tracked::live.load() - live0, 0);
  }
  EXPECT_EQ(tracked::live.load(), live0) << "values leaked or destroyed twice";
}

TEST(SyncMap, ReplacedValuesAreFreedInBatchesWhileTheMapLives) {
  int64_t live0 = tracked::live.load();
  gort::sync::map<int, tracked> m;
  for (int i = 0; i < 5 * int(gort::rt::kRcuBatch); i++) m.store(i % 8, tracked(i));
  // At most the 8 current values plus one unreclaimed batch (and a little slack).
  EXPECT_LE(tracked::live.load() - live0, 8 + 2 * gort::rt::kRcuBatch);
  gort::rt::rcu_barrier();
  EXPECT_EQ(tracked::live.load() - live0, 8);
}

// A key whose copies throw on demand (as a std::string copy can with bad_alloc).
struct flaky_key {
  static inline bool fail = false;
  int k;
  explicit flaky_key(int x) : k(x) {}
  flaky_key(const flaky_key& o) : k(o.k) {
    if (fail) throw std::runtime_error("copy failed");
  }
  flaky_key(flaky_key&&) noexcept = default;
  bool operator==(const flaky_key& o) const { return k == o.k; }
};
struct flaky_hash {
  size_t operator()(const flaky_key& f) const noexcept { return std::hash<int>()(f.k); }
};

TEST(SyncMap, AThrowingKeyCopyLeavesTheMapUnchanged) {
  const int64_t live0 = tracked::live.load();
  {
    gort::sync::map<flaky_key, tracked, flaky_hash> m;
    for (int k = 0; k < 20; k++) m.store(flaky_key(k), tracked(k));
    for (int i = 0; i < 100 && m.state().amended; i++) m.load(flaky_key(-1));
    ASSERT_FALSE(m.state().amended);
    m.erase(flaky_key(3));
    auto before = m.state();
    flaky_key::fail = true;
    // A new key: dirtyLocked copies every key of read first; the copy throws.
    EXPECT_THROW(m.store(flaky_key(100), tracked(100)), std::runtime_error);
    EXPECT_THROW(m.load_or_store(flaky_key(101), tracked(101)), std::runtime_error);
    flaky_key::fail = false;
    auto after = m.state();
    EXPECT_EQ(after.amended, before.amended);
    EXPECT_EQ(after.has_dirty, before.has_dirty);
    EXPECT_EQ(after.read_deleted, 1u) << "the nil entry must not be left expunged";
    EXPECT_EQ(after.read_expunged, 0u);
    EXPECT_EQ(m.load(flaky_key(100)), std::nullopt);
    for (int k = 0; k < 20; k++) {
      if (k != 3) {
        EXPECT_EQ(m.load(flaky_key(k)).value_or(tracked(-1)).v, k);
      }
    }
    // With dirty made, a new key's own copy throws: still nothing changes.
    m.store(flaky_key(200), tracked(200));
    flaky_key::fail = true;
    EXPECT_THROW(m.swap(flaky_key(201), tracked(201)), std::runtime_error);
    // Re-adding the expunged key 3 copies its key into dirty: the copy throws first.
    EXPECT_THROW(m.store(flaky_key(3), tracked(33)), std::runtime_error);
    flaky_key::fail = false;
    EXPECT_EQ(m.load(flaky_key(201)), std::nullopt);
    EXPECT_EQ(m.load(flaky_key(3)), std::nullopt);
    m.store(flaky_key(3), tracked(34));
    EXPECT_EQ(m.load(flaky_key(3)).value_or(tracked(-1)).v, 34);
    EXPECT_EQ(m.load(flaky_key(200)).value_or(tracked(-1)).v, 200);
  }
  EXPECT_EQ(tracked::live.load(), live0) << "a value leaked or was destroyed twice";
}

// A reader that stays inside a read section (here: a thread parked in one on purpose)
// holds back every grace period, but writers never wait for it: stores complete, and what
// they retire is freed once the reader leaves.
TEST(SyncMap, WritersDoNotWaitForAStalledReader) {
  const int64_t live0 = tracked::live.load();
  gort::sync::map<int, tracked> m;
  std::atomic<bool> inside{false}, leave{false};
  std::thread reader([&] {
    gort::rt::rcu_section sec;
    inside = true;
    while (!leave.load()) std::this_thread::yield();
  });
  while (!inside.load()) std::this_thread::yield();
  const int n = 4 * int(gort::rt::kRcuBatch);
  for (int i = 0; i < n; i++) m.store(i % 8, tracked(i));
  EXPECT_GE(tracked::live.load() - live0, n - 8 - 1) << "a value was freed during the section";
  leave = true;
  reader.join();
  for (int i = 0; i < 2 * int(gort::rt::kRcuBatch); i++) m.store(i % 8, tracked(i));
  EXPECT_LE(tracked::live.load() - live0, 8 + 2 * gort::rt::kRcuBatch)
      << "the grace period never completed after the reader left";
  gort::rt::rcu_barrier();
  EXPECT_EQ(tracked::live.load() - live0, 8);
}

// Values whose destructor destroys another map (it runs a grace period itself).
TEST(SyncMap, MapOfMaps) {
  gort::sync::map<int, std::shared_ptr<gort::sync::map<int, int>>> outer;
  for (int i = 0; i < 3000; i++) {
    auto inner = std::make_shared<gort::sync::map<int, int>>();
    inner->store(i, i);
    inner->store(i, i + 1);  // something retired
    outer.store(i % 10, std::move(inner));
  }
  auto v = outer.load(3);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)->load(2993), 2994);
}

TEST(SyncMap, GoroutinesAndPlainThreadsShareAMap) {
  gort::sync::map<int, int> m;
  constexpr int kWriters = 4, kPer = 2000;
  std::thread plain;
  gort::run([&] {
    // Started inside the run, so the runtime counts it as a thread that may wake goroutines
    // (here: by unlocking the map's mutex).
    plain = std::thread([&] {
      for (int i = 0; i < kPer; i++) m.store(100000 + i, i);
    });
    gort::sync::wait_group wg;
    wg.add(kWriters);
    for (int w = 0; w < kWriters; w++) {
      gort::go([&, w] {
        for (int i = 0; i < kPer; i++) {
          m.store(w * kPer + i, i);
          if (i % 7 == 0) gort::yield();
          auto v = m.load(w * kPer + i / 2);
          EXPECT_TRUE(v.has_value());
        }
        wg.done();
      });
    }
    wg.wait();
  });
  plain.join();
  int n = 0;
  m.range([&](const int& k, const int& v) {
    n++;
    EXPECT_EQ(v, k >= 100000 ? k - 100000 : k % kPer);
    return true;
  });
  EXPECT_EQ(n, kWriters * kPer + kPer);
}

}  // namespace
