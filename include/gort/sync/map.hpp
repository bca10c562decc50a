// gort/sync/map.hpp — a concurrent map for read-mostly use (Go 1.19: sync.Map, with the
// 1.20 Swap/CompareAndSwap/CompareAndDelete and the 1.23 Clear).
//
//   gort::sync::map<std::string, int> m;
//   m.store("a", 1);                                // m.Store("a", 1)
//   if (auto v = m.load("a")) use(*v);              // v, ok := m.Load("a")
//   auto [actual, loaded] = m.load_or_store("b", 2);
//   m.erase("a");                                   // m.Delete("a")  (delete is a keyword)
//   m.range([](const std::string& k, const int& v) { return true; });  // m.Range(f)
//
// Operations (Go's spelling on the right):
//   load(k)                      Load          std::optional<V>: nullopt when absent
//   store(k, v)                  Store
//   load_or_store(k, v)          LoadOrStore   {the value now stored, loaded?}
//   load_and_delete(k)           LoadAndDelete the deleted value, or nullopt
//   erase(k)                     Delete
//   swap(k, v)                   Swap          the previous value, or nullopt
//   compare_and_swap(k, old, v)  CompareAndSwap    needs V == V
//   compare_and_delete(k, old)   CompareAndDelete  needs V == V
//   range(f)                     Range         f(const K&, const V&) -> bool (false stops);
//                                              f may also return void (never stops)
//   clear()                      Clear
// Values go in and out by copy: load hands back a copy made while the value is pinned.
// As in Go, range visits each key at most once and sees some consistent-or-later value of
// each; f may call any method of the map (it runs outside every lock and read section).
//
// ---- The algorithm (Go 1.19's, exactly) ----
// read_: an atomically loaded snapshot {m, amended}: a pointer to an immutable hash table
//   (never modified once published) with `amended` in its low bit (no allocation when only
//   amended flips). amended == dirty_ holds keys that read's table lacks.
// dirty_: a mutable table under mu_ (nullptr when not amended), holding every non-expunged
//   entry of read plus the new keys.
// misses_: slow-path lookups since the last promotion.
// entry: shared by the read and dirty tables; its atomic p is one of
//   - a value node (present);
//   - nullptr: deleted, but the key is still in read (and in dirty if dirty exists);
//   - expunged: deleted and absent from dirty (only while dirty != nullptr).
// Load: a read-table hit is lock-free (no lock, no write to shared memory except the reader
//   counter below). A miss with amended locks, re-checks read, looks in dirty and counts a
//   miss (missLocked).
// missLocked: misses++; when misses >= len(dirty) dirty is promoted: read = {dirty, false},
//   dirty = nullptr, misses = 0. No copy is made.
// Store/Swap: a read hit on an entry that is not expunged CASes the value in lock-free (a
//   nil entry revives). Otherwise, under mu_: an expunged read entry is un-expunged and put
//   back in dirty; a dirty entry is stored into; a new key makes dirty first if needed
//   (dirtyLocked, and amended = true), then goes into dirty.
// dirtyLocked: copies read into a new dirty table; each nil entry is CASed to expunged and
//   left out. O(n), paid by the first new key after a promotion.
// LoadAndDelete/Delete: a read hit CASes p to nil (the key stays). A miss with amended
//   removes the key from dirty under mu_ and counts a miss. CompareAndDelete never removes
//   keys. LoadOrStore and CompareAndSwap follow Load's and Store's paths.
// Range: promotes first when amended, then walks read's table without the lock.
// Clear: read = {nullptr, false}, dirty = nullptr, misses = 0.
// read_ and dirty_ change only under mu_; entry.p changes by CAS (lock-free paths) or under
// mu_ (expunge / unexpunge); misses_ only under mu_.
//
// ---- Memory reclamation (there is no GC) ----
// Lock-free readers may still be copying from a value node, a table or an entry that a
// writer has just replaced. Such objects are retired, not freed: a process-wide domain
// (src/sync/reclaim.cpp, SRCU-style) frees them after a grace period. Readers bracket every
// lock-free access with a read section: entering adds one to lock[phase] of the running
// thread's reader record, leaving adds one to unlock[phase] of the record of the thread
// running then (a goroutine that moved threads inside still balances the sums), both plain
// stores; the reclaimer's membarrier(2) stands in for the readers' fence (a reader fences
// itself where membarrier is unavailable). A grace period: barrier; wait until phase !p is
// idle (sum of unlocks, then sum of locks, equal); flip the phase; wait until phase p is
// idle. Writers never wait for readers: once enough objects wait (rt::kRcuBatch) a map
// operation, after leaving its read section and mu_, starts a grace period, and later
// operations advance it a step at a time (a check, never a wait) and free the batch when
// it completes. So mu_ is never held while readers are waited for, and nothing waits at
// all except ~map (and rt::rcu_barrier), which runs a grace period to the end.
// Who owns what:
//   - the value an entry holds belongs to the entry; whoever takes it out (the winning CAS
//     or exchange) retires it;
//   - a table carries a reference count: one for being read/dirty, one per range walking it
//     and one from its predecessor (the read table it replaced at promotion or clear); it is
//     retired when it stops being read or dirty and freed when the count reaches zero after
//     the grace period, dropping its reference on its successor;
//   - entries die with a table: at promotion the old read table takes its expunged entries
//     (the only ones not carried into the new read table; an entry expunged in a table that
//     is no longer read is never revived); clear gives the dropped tables all their entries;
//     an entry removed from dirty (LoadAndDelete of a dirty-only key) is retired on its own.
//     Since a table outlives its predecessor, a range pinning an old table keeps every entry
//     it can reach alive.
// ~map() frees what it holds and runs a grace period, so every value the map retired has
// been destroyed when it returns (unless another thread is freeing that batch right then).
//
// ---- Rules for K and V ----
// K's hash and equality and V's copy constructor and == run inside read sections: they must
// not block (park, wait for a lock, use any sync::map): while they are inside, no retired
// object in the process can be freed, and ~map / rt::rcu_barrier wait for them. They may
// allocate (and even yield: the section survives a move to another thread).
// The read side relies on gort preempting goroutines only at runtime calls, never
// asynchronously (a goroutine does not change threads between loading its thread's reader
// record and storing to it). Hash and KeyEqual must not throw; K must be copy constructible and
// nothrow move constructible; V must be copy constructible (move constructible suffices for
// the value passed in). A throwing copy of K or V (e.g. bad_alloc) leaves the map unchanged.
// V's destructor runs exactly once per stored value, never under the map's lock.
#pragma once
#include <atomic>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "gort/sync/mutex.hpp"

namespace gort {

// ---- Memory reclamation: the runtime's interface (src/sync/reclaim.cpp). ----
namespace rt {

// An object waiting for a grace period; free is called once with it afterwards.
struct retired {
  retired* next = nullptr;
  void (*free)(retired*) noexcept = nullptr;
};

inline constexpr int64_t kRcuBatch = 1024;  // retired objects that trigger a reclaim

// A reader record: one per thread that has entered a read section (kept for reuse by a
// later thread when its thread exits). Only its thread writes it. lock[ph] counts section
// entries on this thread in phase ph, unlock[ph] section exits; a section may end on another
// thread than it began (a goroutine that moved), so only the sums over all records balance.
struct alignas(128) rcu_reader {  // 128: AMD and Intel prefetch cache lines in pairs
  std::atomic<uint64_t> lock[2] = {};
  std::atomic<uint64_t> unlock[2] = {};
  rcu_reader* next_all = nullptr;   // every record ever made (append-only)
  rcu_reader* next_free = nullptr;  // records of exited threads
};
struct alignas(64) rcu_global {
  std::atomic<uint32_t> phase{0};
  // Readers fence after entering unless reclaimers can make them (membarrier(2)
  // MEMBARRIER_CMD_PRIVATE_EXPEDITED, registered at start-up; GORT_RCU_FENCED=1 forces
  // the fence).
  std::atomic<bool> reader_fence{true};
  std::atomic<uint64_t> orphan_unlock[2] = {};  // exits on threads without a record
};
extern rcu_global rcu_state;
extern std::atomic<int64_t> rcu_pending;  // retired, not yet taken by a reclaimer
inline constinit thread_local rcu_reader* rcu_self = nullptr;

rcu_reader* rcu_register() noexcept;
// Queues r for freeing after a grace period. Never waits.
void rcu_retire(retired* r) noexcept;
// Advances the polled grace period (starting one when enough objects wait) and frees the
// batch of one that completes; returns at once when readers still hold the current phase or
// another thread is at it. Must not be called inside a read section.
void rcu_reclaim() noexcept;
// Frees everything retired before the call (waits for a running reclaim). Not inside a
// read section.
void rcu_barrier() noexcept;

extern std::atomic<bool> rcu_gp_running;  // a polled grace period is under way

// Called by writers outside read sections and locks: starts a grace period when enough
// objects wait, or advances the one under way; never waits for readers.
inline void rcu_poll() noexcept {
  if (rcu_pending.load(std::memory_order_relaxed) >= kRcuBatch ||
      rcu_gp_running.load(std::memory_order_relaxed)) [[unlikely]]
    rcu_reclaim();
}

// A full fence. TSan does not model atomic_thread_fence (GCC warns), so there a seq_cst
// read-modify-write stands in (a locked instruction: a full barrier on x86 just the same).
inline void rcu_full_fence() noexcept {
#if defined(__SANITIZE_THREAD__)
  static constinit std::atomic<int> fence_word{0};
  fence_word.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

// A read section: objects loaded inside stay alive until it ends. Never blocks; must not
// contain anything that blocks. Entry and exit are plain stores to the running thread's
// record (no locked instruction; a goroutine cannot change threads between loading its
// record and storing to it, since gort preempts only at runtime calls), plus a fence after
// entry when membarrier is unavailable.
class rcu_section {
 public:
  rcu_section() noexcept {
    rcu_reader* r = rcu_self;
    if (r == nullptr) [[unlikely]]
      r = rcu_register();
    ph_ = rcu_state.phase.load(std::memory_order_relaxed) & 1;
    r->lock[ph_].store(r->lock[ph_].load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
    if (rcu_state.reader_fence.load(std::memory_order_relaxed)) [[unlikely]]
      rcu_full_fence();
    else
      std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~rcu_section() {
    rcu_reader* r = rcu_self;  // the thread running now (it may differ from the entry's)
    if (r != nullptr) [[likely]] {
      r->unlock[ph_].store(r->unlock[ph_].load(std::memory_order_relaxed) + 1,
                           std::memory_order_release);
    } else {
      // A goroutine that moved to a thread without a record: no call here (it would make
      // the compiler spill the hot path's values), one shared counter instead.
      rcu_state.orphan_unlock[ph_].fetch_add(1, std::memory_order_release);
    }
  }
  rcu_section(const rcu_section&) = delete;
  rcu_section& operator=(const rcu_section&) = delete;

 private:
  uint32_t ph_;
};

// The expunged sentinel's address (never dereferenced).
inline constinit char sync_map_expunged = 0;

}  // namespace rt

namespace sync {

template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
class map {
  static_assert(std::is_copy_constructible_v<K> && std::is_nothrow_move_constructible_v<K>,
                "gort::sync::map: K must be copy constructible and nothrow move constructible");
  static_assert(std::is_copy_constructible_v<V>, "gort::sync::map: V must be copy constructible");

 public:
  map() = default;
  map(const map&) = delete;
  map& operator=(const map&) = delete;
  ~map();

  // Go: Load — the value stored for key, or nullopt.
  std::optional<V> load(const K& key) const;
  // Go: Store — sets the value for key.
  void store(const K& key, V value);
  // Go: LoadOrStore — the existing value and true if key is present; otherwise stores value
  // and returns it and false.
  std::pair<V, bool> load_or_store(const K& key, V value);
  // Go: LoadAndDelete — deletes key, returning the value it had, or nullopt.
  std::optional<V> load_and_delete(const K& key);
  // Go: Delete (`delete` is a C++ keyword).
  void erase(const K& key);
  // Go: Swap — stores value and returns the previous value, or nullopt.
  std::optional<V> swap(const K& key, V value);
  // Go: CompareAndSwap — stores new_value if key's value == old (false when key is absent).
  bool compare_and_swap(const K& key, const V& old, V new_value)
    requires std::equality_comparable<V>;
  // Go: CompareAndDelete — deletes key if its value == old.
  bool compare_and_delete(const K& key, const V& old)
    requires std::equality_comparable<V>;
  // Go: Range — calls f(key, value) for each key until f returns false.
  template <class F>
  void range(F&& f);
  // Go: Clear — deletes every key.
  void clear();

  // The algorithm's state, for tests and debugging (takes the lock; not in Go's API).
  struct debug_state {
    bool amended;           // read.amended
    size_t read_keys;       // len(read.m), deleted and expunged keys included
    size_t read_expunged;   // entries of read.m that are expunged
    size_t read_deleted;    // entries of read.m that are nil
    bool has_dirty;         // dirty != nil
    size_t dirty_keys;      // len(dirty)
    size_t misses;
  };
  debug_state state() const;

 private:
  struct vnode : rt::retired {
    template <class... A>
    explicit vnode(A&&... a) : v(std::forward<A>(a)...) {
      this->free = &free_vnode;
    }
    V v;
  };

  struct entry : rt::retired {
    explicit entry(vnode* n) : p(n) { this->free = &free_entry; }
    std::atomic<vnode*> p;
    entry* dead_next = nullptr;  // the map's expunged list, then its table's dead list
  };

  struct slot {
    entry* e;  // nullptr: empty
    uint64_t h;
    union {
      K key;
    };
    slot() : e(nullptr), h(0) {}
    ~slot() {}
  };

  struct table : rt::retired {
    std::atomic<int64_t> refs{1};
    table* succ = nullptr;       // the table that replaced this one as read (holds a ref)
    entry* dead = nullptr;       // entries freed with this table
    size_t count = 0;
    size_t mask = 0;
    unsigned shift = 0;

    slot* slots() { return reinterpret_cast<slot*>(reinterpret_cast<char*>(this) + header()); }
    static constexpr size_t header() {
      return (sizeof(table) + alignof(slot) - 1) / alignof(slot) * alignof(slot);
    }
    static constexpr size_t align() {
      return alignof(table) > alignof(slot) ? alignof(table) : alignof(slot);
    }
    static table* create(size_t cap) {  // cap: a power of two
      void* mem = ::operator new(header() + cap * sizeof(slot), std::align_val_t(align()));
      table* t = new (mem) table();
      t->free = &retire_done;
      t->mask = cap - 1;
      t->shift = unsigned(64 - std::countr_zero(cap));
      slot* s = t->slots();
      for (size_t i = 0; i < cap; i++) new (&s[i]) slot();
      return t;
    }
    static void destroy(table* t) noexcept {
      slot* s = t->slots();
      for (size_t i = 0; i <= t->mask; i++) {
        if (s[i].e != nullptr) s[i].key.~K();
        s[i].~slot();
      }
      t->~table();
      ::operator delete(static_cast<void*>(t), std::align_val_t(align()));
    }
    size_t cap() const { return mask + 1; }
    size_t home(uint64_t h) const { return size_t(h >> shift) & mask; }

    entry* find(uint64_t h, const K& k, const KeyEqual& eq) {
      slot* s = slots();
      for (size_t i = home(h);; i = (i + 1) & mask) {
        if (s[i].e == nullptr) return nullptr;
        if (s[i].h == h && eq(s[i].key, k)) return s[i].e;
      }
    }
    // The slot holding e (which must be here); no key comparison.
    size_t index_of(uint64_t h, entry* e) {
      slot* s = slots();
      size_t i = home(h);
      while (s[i].e != e) i = (i + 1) & mask;
      return i;
    }
    // Adds a key known to be absent; room must exist.
    void insert_new(uint64_t h, K&& k, entry* e) noexcept {
      slot* s = slots();
      size_t i = home(h);
      while (s[i].e != nullptr) i = (i + 1) & mask;
      new (&s[i].key) K(std::move(k));
      s[i].h = h;
      s[i].e = e;
      count++;
    }
    // Removes slot i, shifting later members of its probe run back (no tombstones).
    void erase_at(size_t i) noexcept {
      slot* s = slots();
      s[i].key.~K();
      s[i].e = nullptr;
      count--;
      for (size_t j = (i + 1) & mask; s[j].e != nullptr; j = (j + 1) & mask) {
        size_t k = home(s[j].h);
        // s[j] may move to i if its home is not in (i, j] (cyclically).
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        new (&s[i].key) K(std::move(s[j].key));
        s[i].h = s[j].h;
        s[i].e = s[j].e;
        s[j].key.~K();
        s[j].e = nullptr;
        i = j;
      }
    }
  };

  static constexpr uintptr_t kAmended = 1;

  static vnode* expunged() noexcept { return reinterpret_cast<vnode*>(&rt::sync_map_expunged); }
  static bool is_value(vnode* p) noexcept { return p != nullptr && p != expunged(); }
  static table* table_of(uintptr_t w) noexcept { return reinterpret_cast<table*>(w & ~kAmended); }

  static void free_vnode(rt::retired* r) noexcept { delete static_cast<vnode*>(r); }
  static void free_entry(rt::retired* r) noexcept {
    entry* e = static_cast<entry*>(r);
    vnode* p = e->p.load(std::memory_order_acquire);
    if (is_value(p)) delete p;
    delete e;
  }
  // Drops one reference; the last one frees the table, its dead entries and then drops the
  // table's reference on its successor.
  static void release(table* t) noexcept {
    while (t != nullptr && t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      for (entry* e = t->dead; e != nullptr;) {
        entry* next = e->dead_next;
        free_entry(e);
        e = next;
      }
      table* succ = t->succ;
      table::destroy(t);
      t = succ;
    }
  }
  // A retired table's grace period is over: drop the read/dirty reference.
  static void retire_done(rt::retired* r) noexcept { release(static_cast<table*>(r)); }

  static size_t cap_for(size_t n) {  // load factor <= 0.7
    size_t cap = 8;
    while (cap * 7 < n * 10) cap *= 2;
    return cap;
  }

  uint64_t hash_of(const K& k) const noexcept {
    return uint64_t(hash_(k)) * 0x9E3779B97F4A7C15ull;  // Fibonacci hashing: index = top bits
  }

  void retire(rt::retired* r) const noexcept {
    if (!retired_any_.load(std::memory_order_relaxed))
      retired_any_.store(true, std::memory_order_relaxed);
    rt::rcu_retire(r);
  }
  void retire_value(vnode* p) const noexcept {
    if (is_value(p)) retire(p);
  }

  // ---- entry operations (Go: entry methods). Callers hold a read section or mu_ plus a
  // read section for anything that dereferences a value node.
  static std::optional<V> entry_load(entry* e) {
    vnode* p = e->p.load(std::memory_order_seq_cst);
    if (!is_value(p)) return std::nullopt;
    return std::optional<V>(p->v);
  }
  // Go: tryExpungeLocked.
  static bool try_expunge_locked(entry* e) noexcept {
    vnode* p = e->p.load(std::memory_order_seq_cst);
    while (p == nullptr) {
      if (e->p.compare_exchange_weak(p, expunged(), std::memory_order_seq_cst)) return true;
    }
    return p == expunged();
  }
  // Go: unexpungeLocked.
  static bool unexpunge_locked(entry* e) noexcept {
    vnode* p = expunged();
    return e->p.compare_exchange_strong(p, nullptr, std::memory_order_seq_cst);
  }
  // Go: trySwap — installs n unless expunged; returns {true, previous}.
  static std::pair<bool, vnode*> try_swap(entry* e, vnode* n) noexcept {
    vnode* p = e->p.load(std::memory_order_seq_cst);
    while (p != expunged()) {
      if (e->p.compare_exchange_weak(p, n, std::memory_order_seq_cst)) return {true, p};
    }
    return {false, nullptr};
  }
  // Go: entry.delete — takes the value out; nullptr when there was none.
  static vnode* entry_delete(entry* e) noexcept {
    vnode* p = e->p.load(std::memory_order_seq_cst);
    while (is_value(p)) {
      if (e->p.compare_exchange_weak(p, nullptr, std::memory_order_seq_cst)) return p;
    }
    return nullptr;
  }

  enum class outcome { retry, done };

  // ---- locked helpers (mu_ held)
  // Go: missLocked.
  void miss_locked() const noexcept {
    misses_++;
    if (dirty_ == nullptr || misses_ < dirty_->count) return;
    promote_locked();
  }
  // read = {dirty, false}; dirty = nil; misses = 0.
  void promote_locked() const noexcept {
    table* old = table_of(read_.load(std::memory_order_relaxed));
    table* d = dirty_;
    if (old != nullptr) {
      old->dead = take_expunged_locked();
      if (d != nullptr) {
        d->refs.fetch_add(1, std::memory_order_relaxed);
        old->succ = d;
      }
    }
    read_.store(reinterpret_cast<uintptr_t>(d), std::memory_order_seq_cst);
    dirty_ = nullptr;
    misses_ = 0;
    if (old != nullptr) retire(old);
  }
  // The entries still expunged from the expunged list (the dead ones of the read table).
  entry* take_expunged_locked() const noexcept {
    entry* dead = nullptr;
    for (entry* e = expunged_; e != nullptr;) {
      entry* next = e->dead_next;
      if (e->p.load(std::memory_order_relaxed) == expunged()) {
        e->dead_next = dead;
        dead = e;
      }
      e = next;
    }
    expunged_ = nullptr;
    return dead;
  }
  // Go: dirtyLocked.
  void dirty_locked() const {
    if (dirty_ != nullptr) return;
    table* r = table_of(read_.load(std::memory_order_relaxed));
    size_t n = r != nullptr ? r->count : 0;
    table* d = table::create(cap_for(n + 1));
    if (r != nullptr) {
      slot* s = r->slots();
      try {  // copy every key first: a throwing K copy leaves everything as it was
        for (size_t i = 0; i <= r->mask; i++)
          if (s[i].e != nullptr) d->insert_new(s[i].h, K(s[i].key), s[i].e);
      } catch (...) {
        table::destroy(d);
        throw;
      }
      for (size_t i = 0; i <= r->mask; i++) {
        entry* e = s[i].e;
        if (e == nullptr || !try_expunge_locked(e)) continue;
        d->erase_at(d->index_of(s[i].h, e));
        e->dead_next = expunged_;
        expunged_ = e;
      }
    }
    dirty_ = d;
  }
  // Room for one more key in dirty (may throw; changes nothing visible).
  void dirty_reserve_locked() const {
    table* d = dirty_;
    if ((d->count + 1) * 10 <= d->cap() * 7) return;
    table* g = table::create(d->cap() * 2);
    slot* s = d->slots();
    for (size_t i = 0; i <= d->mask; i++)
      if (s[i].e != nullptr) g->insert_new(s[i].h, std::move(s[i].key), s[i].e);
    table::destroy(d);  // never published: dirty is only reached under mu_
    dirty_ = g;
  }
  // Adds a new key to dirty, making dirty first when read is not amended. Copies the key
  // before changing anything.
  void add_new_key_locked(uint64_t h, const K& key, entry* e) {
    K kc(key);
    uintptr_t w = read_.load(std::memory_order_relaxed);
    if (!(w & kAmended)) {
      dirty_locked();
      read_.store(w | kAmended, std::memory_order_seq_cst);
    }
    dirty_reserve_locked();
    dirty_->insert_new(h, std::move(kc), e);
  }
  // Puts an expunged read entry back into dirty (Go: `if e.unexpungeLocked() {
  // m.dirty[key] = e }`), copying the key and making room first.
  void unexpunge_into_dirty_locked(uint64_t h, const K& key, entry* e) {
    if (e->p.load(std::memory_order_seq_cst) != expunged()) return;  // only mu_ expunges
    K kc(key);
    dirty_reserve_locked();
    if (unexpunge_locked(e)) dirty_->insert_new(h, std::move(kc), e);
  }
  entry* find_read_locked(uint64_t h, const K& key) const {
    table* t = table_of(read_.load(std::memory_order_relaxed));
    return t != nullptr ? t->find(h, key, eq_) : nullptr;
  }
  entry* find_dirty_locked(uint64_t h, const K& key) const {
    return dirty_ != nullptr ? dirty_->find(h, key, eq_) : nullptr;
  }

  // Store/Swap's locked path; returns the value node taken out (owned by the caller).
  vnode* swap_locked(uint64_t h, const K& key, std::unique_ptr<vnode>& n) {
    std::lock_guard lk(mu_);
    if (entry* e = find_read_locked(h, key)) {
      unexpunge_into_dirty_locked(h, key, e);
      return e->p.exchange(n.release(), std::memory_order_seq_cst);
    }
    if (entry* e = find_dirty_locked(h, key)) return e->p.exchange(n.release());
    auto ne = std::make_unique<entry>(n.get());
    add_new_key_locked(h, key, ne.get());
    ne.release();
    n.release();
    return nullptr;
  }

  // The lock-free first step of most operations: when key's entry is in the read table,
  // runs f(e) on it inside a read section. Returns whether the read table settled the
  // operation: the key was there, or dirty holds no key that read lacks (the key is
  // absent; f did not run). Otherwise the caller goes on under mu_.
  template <class F>
  bool settled_in_read_table(uint64_t h, const K& key, F&& f) const {
    rt::rcu_section sec;
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    table* t = table_of(w);
    if (entry* e = t != nullptr ? t->find(h, key, eq_) : nullptr) {
      f(e);
      return true;
    }
    return !(w & kAmended);
  }

  // Go: Swap (which Store calls since Go 1.20): puts a node holding value in for key, by a
  // CAS on the read table's entry when it has one that is not expunged, else under mu_.
  // Returns the node taken out (null or not a value when there was none), now the caller's.
  vnode* exchange_node(uint64_t h, const K& key, V value);
  // Go: LoadAndDelete (which Delete calls): takes key's value node out, from the read
  // table without the lock when the key is there or dirty holds nothing more. Returns the
  // node taken out (null or not a value when there was none), now the caller's.
  vnode* delete_node(uint64_t h, const K& key);

  // Value-node copies made from a node this thread owns (taken out of an entry): other
  // readers may still read it, so copy, then retire.
  std::optional<V> take_value(vnode* p) const {
    if (!is_value(p)) return std::nullopt;
    struct retire_on_exit {
      const map* m;
      vnode* p;
      ~retire_on_exit() { m->retire(p); }
    } r{this, p};
    return std::optional<V>(p->v);
  }

  mutable std::atomic<uintptr_t> read_{0};  // table* | amended
  mutable mutex mu_;
  mutable table* dirty_ = nullptr;
  mutable size_t misses_ = 0;
  mutable entry* expunged_ = nullptr;  // entries dirtyLocked expunged (some maybe revived)
  mutable std::atomic<bool> retired_any_{false};
  [[no_unique_address]] Hash hash_{};
  [[no_unique_address]] KeyEqual eq_{};
};

// ---------------------------------------------------------------- implementation

template <class K, class V, class H, class E>
map<K, V, H, E>::~map() {
  // No other goroutine may use the map now, so nothing needs a grace period for this map's
  // sake; older tables still waiting in the domain may hold references on these, so they go
  // through release like everything else.
  table* t = table_of(read_.load(std::memory_order_relaxed));
  table* d = dirty_;
  auto all_entries = [](table* x) {
    entry* list = nullptr;
    slot* s = x->slots();
    for (size_t i = 0; i <= x->mask; i++) {
      if (s[i].e == nullptr) continue;
      s[i].e->dead_next = list;
      list = s[i].e;
    }
    return list;
  };
  if (t != nullptr) t->dead = d != nullptr ? take_expunged_locked() : all_entries(t);
  if (d != nullptr) d->dead = all_entries(d);
  release(t);
  release(d);
  if (retired_any_.load(std::memory_order_relaxed)) rt::rcu_barrier();
}

template <class K, class V, class H, class E>
auto map<K, V, H, E>::state() const -> debug_state {
  std::lock_guard lk(mu_);
  uintptr_t w = read_.load(std::memory_order_relaxed);
  debug_state st{};
  st.amended = (w & kAmended) != 0;
  if (table* t = table_of(w)) {
    st.read_keys = t->count;
    slot* s = t->slots();
    for (size_t i = 0; i <= t->mask; i++) {
      if (s[i].e == nullptr) continue;
      vnode* p = s[i].e->p.load(std::memory_order_seq_cst);
      st.read_expunged += p == expunged();
      st.read_deleted += p == nullptr;
    }
  }
  st.has_dirty = dirty_ != nullptr;
  st.dirty_keys = dirty_ != nullptr ? dirty_->count : 0;
  st.misses = misses_;
  return st;
}

template <class K, class V, class H, class E>
std::optional<V> map<K, V, H, E>::load(const K& key) const {
  const uint64_t h = hash_of(key);
  {
    // Not settled_in_read_table: returning entry_load's result straight from the read
    // section keeps a hit at 12.8 ns; through the helper's out-parameter it took 17.4
    // (BM_SyncMapLoadHit).
    rt::rcu_section sec;
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    table* t = table_of(w);
    if (entry* e = t != nullptr ? t->find(h, key, eq_) : nullptr) return entry_load(e);
    if (!(w & kAmended)) return std::nullopt;
  }
  std::optional<V> r;
  {
    std::lock_guard lk(mu_);
    entry* e = find_read_locked(h, key);
    if (e == nullptr && (read_.load(std::memory_order_relaxed) & kAmended)) {
      e = find_dirty_locked(h, key);
      miss_locked();  // a promotion keeps e alive: it moves with dirty into read
    }
    if (e != nullptr) {
      rt::rcu_section sec;
      r = entry_load(e);
    }
  }
  rt::rcu_poll();
  return r;
}

template <class K, class V, class H, class E>
auto map<K, V, H, E>::exchange_node(uint64_t h, const K& key, V value) -> vnode* {
  auto n = std::make_unique<vnode>(std::move(value));
  {
    rt::rcu_section sec;
    table* t = table_of(read_.load(std::memory_order_seq_cst));
    if (entry* e = t != nullptr ? t->find(h, key, eq_) : nullptr) {
      auto [ok, prev] = try_swap(e, n.get());  // Go: trySwap (1.19: tryStore)
      if (ok) {
        n.release();
        return prev;
      }
    }
  }
  return swap_locked(h, key, n);
}

template <class K, class V, class H, class E>
void map<K, V, H, E>::store(const K& key, V value) {
  retire_value(exchange_node(hash_of(key), key, std::move(value)));
  rt::rcu_poll();
}

template <class K, class V, class H, class E>
std::optional<V> map<K, V, H, E>::swap(const K& key, V value) {
  std::optional<V> r = take_value(exchange_node(hash_of(key), key, std::move(value)));
  rt::rcu_poll();
  return r;
}

template <class K, class V, class H, class E>
std::pair<V, bool> map<K, V, H, E>::load_or_store(const K& key, V value) {
  const uint64_t h = hash_of(key);
  // Go: tryLoadOrStore. Under a read section. Returns nullopt when e is expunged.
  auto try_load_or_store = [&](entry* e) -> std::optional<std::pair<V, bool>> {
    vnode* p = e->p.load(std::memory_order_seq_cst);
    if (p == expunged()) return std::nullopt;
    if (p != nullptr) return std::pair<V, bool>(p->v, true);
    V ret(value);
    auto n = std::make_unique<vnode>(std::move(value));
    for (;;) {
      vnode* expect = nullptr;
      if (e->p.compare_exchange_strong(expect, n.get(), std::memory_order_seq_cst)) {
        n.release();
        return std::pair<V, bool>(std::move(ret), false);
      }
      if (expect == expunged()) {
        value = std::move(n->v);  // keep the caller's value for the locked path
        return std::nullopt;
      }
      if (expect != nullptr) return std::pair<V, bool>(expect->v, true);
    }
  };
  {
    rt::rcu_section sec;
    table* t = table_of(read_.load(std::memory_order_seq_cst));
    if (entry* e = t != nullptr ? t->find(h, key, eq_) : nullptr) {
      if (auto r = try_load_or_store(e)) return std::move(*r);
    }
  }
  std::optional<std::pair<V, bool>> r;
  {
    std::lock_guard lk(mu_);
    if (entry* e = find_read_locked(h, key)) {
      unexpunge_into_dirty_locked(h, key, e);
      rt::rcu_section sec;
      r = try_load_or_store(e);  // not expunged now: always has an answer
    } else if (entry* e = find_dirty_locked(h, key)) {
      {
        rt::rcu_section sec;
        r = try_load_or_store(e);
      }
      miss_locked();
    } else {
      V ret(value);
      auto n = std::make_unique<vnode>(std::move(value));
      auto ne = std::make_unique<entry>(n.get());
      add_new_key_locked(h, key, ne.get());
      ne.release();
      n.release();
      r.emplace(std::move(ret), false);
    }
  }
  rt::rcu_poll();
  return std::move(*r);
}

template <class K, class V, class H, class E>
auto map<K, V, H, E>::delete_node(uint64_t h, const K& key) -> vnode* {
  vnode* old = nullptr;
  if (settled_in_read_table(h, key, [&](entry* e) { old = entry_delete(e); })) return old;
  std::lock_guard lk(mu_);
  if (entry* e = find_read_locked(h, key)) return entry_delete(e);
  if (read_.load(std::memory_order_relaxed) & kAmended) {
    if (entry* d = find_dirty_locked(h, key)) {
      // Go: delete(m.dirty, key); e.delete(). The entry was never in a read table.
      dirty_->erase_at(dirty_->index_of(h, d));
      old = entry_delete(d);
      retire(d);
    }
    miss_locked();
  }
  return old;
}

template <class K, class V, class H, class E>
std::optional<V> map<K, V, H, E>::load_and_delete(const K& key) {
  std::optional<V> r = take_value(delete_node(hash_of(key), key));
  rt::rcu_poll();
  return r;
}

template <class K, class V, class H, class E>
void map<K, V, H, E>::erase(const K& key) {
  retire_value(delete_node(hash_of(key), key));
  rt::rcu_poll();
}

template <class K, class V, class H, class E>
bool map<K, V, H, E>::compare_and_swap(const K& key, const V& old, V new_value)
  requires std::equality_comparable<V>
{
  const uint64_t h = hash_of(key);
  std::unique_ptr<vnode> n;
  vnode* taken = nullptr;
  // Go: tryCompareAndSwap. Under a read section.
  auto try_cas = [&](entry* e) -> bool {
    vnode* p = e->p.load(std::memory_order_seq_cst);
    if (!is_value(p) || !(p->v == old)) return false;
    if (!n) n = std::make_unique<vnode>(std::move(new_value));
    for (;;) {
      if (e->p.compare_exchange_strong(p, n.get(), std::memory_order_seq_cst)) {
        n.release();
        taken = p;
        return true;
      }
      if (!is_value(p) || !(p->v == old)) return false;
    }
  };
  bool swapped = false;
  if (!settled_in_read_table(h, key, [&](entry* e) { swapped = try_cas(e); })) {
    std::lock_guard lk(mu_);
    if (entry* e = find_read_locked(h, key)) {
      rt::rcu_section sec;
      swapped = try_cas(e);
    } else if (entry* e = find_dirty_locked(h, key)) {
      {
        rt::rcu_section sec;
        swapped = try_cas(e);
      }
      miss_locked();
    }
  }
  retire_value(taken);
  rt::rcu_poll();
  return swapped;
}

template <class K, class V, class H, class E>
bool map<K, V, H, E>::compare_and_delete(const K& key, const V& old)
  requires std::equality_comparable<V>
{
  const uint64_t h = hash_of(key);
  vnode* taken = nullptr;
  auto try_cad = [&](entry* e) -> bool {
    vnode* p = e->p.load(std::memory_order_seq_cst);
    for (;;) {
      if (!is_value(p) || !(p->v == old)) return false;
      if (e->p.compare_exchange_strong(p, nullptr, std::memory_order_seq_cst)) {
        taken = p;
        return true;
      }
    }
  };
  bool deleted = false;
  if (!settled_in_read_table(h, key, [&](entry* e) { deleted = try_cad(e); })) {
    std::lock_guard lk(mu_);
    entry* e = find_read_locked(h, key);
    bool miss = false;
    if (e == nullptr && (read_.load(std::memory_order_relaxed) & kAmended)) {
      // Go leaves the key in dirty (it is expunged at the next dirtyLocked) and counts a
      // miss whether or not the key was there. The compare runs under mu_ here, where Go
      // runs it after unlocking: a dirty entry may be freed once mu_ is released.
      e = find_dirty_locked(h, key);
      miss = true;
    }
    if (e != nullptr) {
      rt::rcu_section sec;
      deleted = try_cad(e);
    }
    if (miss) miss_locked();
  }
  retire_value(taken);
  rt::rcu_poll();
  return deleted;
}

template <class K, class V, class H, class E>
template <class F>
void map<K, V, H, E>::range(F&& f) {
  table* t = nullptr;
  if (read_.load(std::memory_order_seq_cst) & kAmended) {
    std::lock_guard lk(mu_);
    if (read_.load(std::memory_order_relaxed) & kAmended) promote_locked();
    t = table_of(read_.load(std::memory_order_relaxed));
    if (t != nullptr) t->refs.fetch_add(1, std::memory_order_relaxed);  // mu_ keeps t read
  } else {
    rt::rcu_section sec;
    t = table_of(read_.load(std::memory_order_seq_cst));
    if (t != nullptr) t->refs.fetch_add(1, std::memory_order_relaxed);
  }
  rt::rcu_poll();
  if (t == nullptr) return;
  struct unpin {
    table* t;
    ~unpin() { release(t); }
  } pin{t};
  slot* s = t->slots();
  for (size_t i = 0; i <= t->mask; i++) {
    entry* e = s[i].e;
    if (e == nullptr) continue;
    std::optional<V> v;
    {
      rt::rcu_section sec;
      v = entry_load(e);
    }
    if (!v) continue;
    if constexpr (std::is_void_v<std::invoke_result_t<F&, const K&, const V&>>) {
      f(std::as_const(s[i].key), std::as_const(*v));
    } else {
      if (!f(std::as_const(s[i].key), std::as_const(*v))) break;
    }
  }
}

template <class K, class V, class H, class E>
void map<K, V, H, E>::clear() {
  {
    rt::rcu_section sec;
    uintptr_t w = read_.load(std::memory_order_seq_cst);
    table* t = table_of(w);
    if ((t == nullptr || t->count == 0) && !(w & kAmended)) return;
  }
  {
    std::lock_guard lk(mu_);
    table* t = table_of(read_.load(std::memory_order_relaxed));
    table* d = dirty_;
    auto all_entries = [](table* x) {
      entry* list = nullptr;
      slot* s = x->slots();
      for (size_t i = 0; i <= x->mask; i++) {
        if (s[i].e == nullptr) continue;
        s[i].e->dead_next = list;
        list = s[i].e;
      }
      return list;
    };
    // Every entry dies: read's expunged ones with read (the rest are in dirty, which
    // outlives read through succ), dirty's with dirty.
    if (t != nullptr) {
      if (d != nullptr) {
        t->dead = take_expunged_locked();
        d->refs.fetch_add(1, std::memory_order_relaxed);
        t->succ = d;
      } else {
        t->dead = all_entries(t);
      }
    }
    if (d != nullptr) d->dead = all_entries(d);
    expunged_ = nullptr;
    read_.store(0, std::memory_order_seq_cst);
    dirty_ = nullptr;
    misses_ = 0;
    if (t != nullptr) retire(t);
    if (d != nullptr) retire(d);
  }
  rt::rcu_poll();
}

}  // namespace sync
}  // namespace gort
