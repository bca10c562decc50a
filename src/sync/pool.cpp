// pool: sync.Pool's per-P caches and victim rotation (Go: sync/pool.go, poolCleanup).
//
// Each P id has a local: a private slot (one object, taken and filled with an atomic
// exchange, so the owner's common get/put touch nothing shared) and a shared stack under a
// per-local lock (the owner pushes and pops at the back, thieves take from the front). Go
// makes the shared part a lock-free chain of ring buffers, which relies on its GC to free
// dropped rings; gort takes the lock, which is uncontended except while another P steals.
// One extra local serves plain threads, which have no P.
//
// Invariants: every cached object is in exactly one primary or victim slot of exactly one
// local; cleanup (at each collection cycle) moves primary to victim and destroys the old
// victim, under each local's lock; the registry of live pools is guarded by pools_lock and
// a pool leaves it in its destructor, before its caches are destroyed. Locks: pools_lock,
// then a local's (cleanup, and fork(), which holds them all so that a forked child finds
// them free); a local's lock is held with no other.
#include <atomic>
#include <deque>
#include <vector>

#include "gort/sync/pool.hpp"
#include "os/lock.hpp"
#include "sched/fork.hpp"
#include "sched/sched.hpp"

namespace gort::sync::detail {

struct alignas(64) pool_base::local {
  std::atomic<void*> private_obj{nullptr};
  os::rt_mutex lock;
  std::deque<void*> shared;
  void* victim_private = nullptr;  // under lock
  std::deque<void*> victim_shared;
  bool held_for_fork = false;  // lock taken by lock_pools_for_fork (a local made since is not)
};

struct pool_base::impl {
  void (*deleter)(void*);
  // Index = P id; the last one is for plain threads. Created on first use, never moved.
  std::atomic<local*> locals[rt::kMaxGomaxprocs + 1] = {};
};

namespace {

os::light_rt_mutex pools_lock;
std::vector<pool_base::impl*>* all_pools;  // under pools_lock; allocated on first pool

constexpr int kPlainThreadSlot = rt::kMaxGomaxprocs;

int my_slot() {
  rt::p* pp = rt::current_p();
  // A stand-in P (src/sched/standin.hpp) beyond the slots shares one: any slot is safe to
  // share, its private object is exchanged and its shared stack locked.
  return pp != nullptr ? pp->id % rt::kMaxGomaxprocs : kPlainThreadSlot;
}

pool_base::local* local_at(pool_base::impl* im, int i) {
  pool_base::local* l = im->locals[i].load(std::memory_order_acquire);
  if (l != nullptr) return l;
  auto* fresh = new pool_base::local;
  if (im->locals[i].compare_exchange_strong(l, fresh, std::memory_order_acq_rel)) return fresh;
  delete fresh;
  return l;
}

void* pop_back(std::deque<void*>& v) {
  if (v.empty()) return nullptr;
  void* x = v.back();
  v.pop_back();
  return x;
}

void* pop_front(std::deque<void*>& v) {
  if (v.empty()) return nullptr;
  void* x = v.front();
  v.pop_front();
  return x;
}

// Go: poolCleanup — the primary caches become the victim caches, the old victims go.
void pool_cleanup() {
  struct doomed {
    void (*deleter)(void*);
    void* obj;
  };
  std::vector<doomed> drop;
  {
    os::rt_lock_guard g(pools_lock);
    if (all_pools == nullptr) return;
    for (pool_base::impl* im : *all_pools) {
      for (auto& slot : im->locals) {
        pool_base::local* l = slot.load(std::memory_order_acquire);
        if (l == nullptr) continue;
        os::rt_lock_guard lk(l->lock);
        if (l->victim_private) drop.push_back({im->deleter, l->victim_private});
        for (void* x : l->victim_shared) drop.push_back({im->deleter, x});
        l->victim_private = l->private_obj.exchange(nullptr, std::memory_order_acq_rel);
        l->victim_shared.swap(l->shared);
        l->shared.clear();
      }
    }
  }
  for (auto& d : drop) d.deleter(d.obj);  // user destructors, with no runtime lock held
}

[[maybe_unused]] const bool registered = (rt::on_gc_start(pool_cleanup), true);
[[maybe_unused]] const bool fork_registered = (rt::on_fork(lock_pools_for_fork, unlock_pools_after_fork), true);

}  // namespace

void lock_pools_for_fork() {
  pools_lock.lock();
  if (all_pools == nullptr) return;
  for (pool_base::impl* im : *all_pools) {
    for (auto& slot : im->locals) {
      if (pool_base::local* l = slot.load(std::memory_order_acquire)) {
        l->lock.lock();
        l->held_for_fork = true;
      }
    }
  }
}

void unlock_pools_after_fork() {
  if (all_pools != nullptr) {
    for (pool_base::impl* im : *all_pools) {
      for (auto& slot : im->locals) {
        pool_base::local* l = slot.load(std::memory_order_acquire);
        if (l == nullptr || !l->held_for_fork) continue;
        l->held_for_fork = false;
        l->lock.unlock();
      }
    }
  }
  pools_lock.unlock();
}

pool_base::pool_base(void (*deleter)(void*)) : impl_(new impl) {
  impl_->deleter = deleter;
  os::rt_lock_guard g(pools_lock);
  if (all_pools == nullptr) all_pools = new std::vector<impl*>;
  all_pools->push_back(impl_);
}

pool_base::~pool_base() {
  {
    os::rt_lock_guard g(pools_lock);
    std::erase(*all_pools, impl_);
  }
  for (auto& slot : impl_->locals) {
    local* l = slot.load(std::memory_order_acquire);
    if (l == nullptr) continue;
    if (void* x = l->private_obj.load()) impl_->deleter(x);
    if (l->victim_private) impl_->deleter(l->victim_private);
    for (void* x : l->shared) impl_->deleter(x);
    for (void* x : l->victim_shared) impl_->deleter(x);
    delete l;
  }
  delete impl_;
}

void pool_base::put(void* obj) {
  local* l = local_at(impl_, my_slot());
  void* empty = nullptr;
  if (l->private_obj.compare_exchange_strong(empty, obj, std::memory_order_acq_rel)) return;
  os::rt_lock_guard lk(l->lock);
  l->shared.push_back(obj);
}

void* pool_base::get() {
  int me = my_slot();
  local* l = local_at(impl_, me);
  if (void* x = l->private_obj.exchange(nullptr, std::memory_order_acq_rel)) return x;
  {
    os::rt_lock_guard lk(l->lock);
    if (void* x = pop_back(l->shared)) return x;
  }
  // Go: getSlow — steal from the other locals' shared stacks, then try the victims.
  // Every P's slot, stand-ins' too (my_slot).
  int n = std::min(rt::sched.nprocs.load(std::memory_order_acquire), rt::kMaxGomaxprocs);
  auto others = [&](auto&& take) -> void* {
    for (int i = 0; i <= n; i++) {  // from our neighbour on, as Go's (pid+i+1) % size
      int idx = i == n ? kPlainThreadSlot : (me == kPlainThreadSlot ? i : (me + 1 + i) % n);
      local* o = impl_->locals[idx].load(std::memory_order_acquire);
      if (o == nullptr) continue;
      if (void* x = take(o, idx == me)) return x;
    }
    return nullptr;
  };
  if (void* x = others([](local* o, bool mine) -> void* {
        if (mine) return nullptr;
        os::rt_lock_guard lk(o->lock);
        return pop_front(o->shared);
      }))
    return x;
  {
    os::rt_lock_guard lk(l->lock);
    if (void* x = std::exchange(l->victim_private, nullptr)) return x;
  }
  return others([](local* o, bool) -> void* {
    os::rt_lock_guard lk(o->lock);
    return pop_front(o->victim_shared);
  });
}

}  // namespace gort::sync::detail
