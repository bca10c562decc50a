// gort/sync/pool.hpp — a cache of reusable objects (Go: sync.Pool).
//
//   gort::sync::pool<std::string> bufs([] { return std::make_unique<std::string>(); });
//   std::unique_ptr<std::string> b = bufs.get();   // a cached one, or a new one
//   b->clear();
//   ...
//   bufs.put(std::move(b));                         // back for reuse
//
// As in Go, a pool is a cache, not a free list with guarantees: get may return any object
// that was put (not necessarily the last), or a new one, and objects may be dropped at any
// time. Objects survive one collection cycle in a victim cache and are destroyed at the
// next; until gort has a collector a cycle starts every 2 minutes (Go forces a GC on that
// beat). Each P has its own cache, so goroutines on different Ps do not contend; get takes
// from its own P first, then steals from other Ps, then looks in the victim cache, then
// calls the new function (or returns null without one). put(nullptr) is ignored.
// Objects still cached when the pool is destroyed are destroyed with it.
#pragma once
#include <functional>
#include <memory>
#include <utility>

namespace gort::sync {

namespace detail {
// The type-erased pool (src/sync/pool.cpp) holding void* objects and their deleter.
class pool_base {
 public:
  explicit pool_base(void (*deleter)(void*));
  ~pool_base();
  pool_base(const pool_base&) = delete;
  pool_base& operator=(const pool_base&) = delete;

  void* get();          // null when the pool has nothing cached
  void put(void* obj);  // obj != null

  struct local;
  struct impl;

 private:
  impl* impl_;
};

// Held across fork() (src/sched/fork.hpp): the registry's lock, then every pool's caches'.
void lock_pools_for_fork();
void unlock_pools_after_fork();
}  // namespace detail

template <class T>
class pool {
 public:
  // Go: Pool{} — get returns null when nothing is cached.
  pool() : base_(&destroy) {}
  // Go: Pool{New: f}.
  explicit pool(std::function<std::unique_ptr<T>()> new_fn)
      : base_(&destroy), new_(std::move(new_fn)) {}

  // Go: Get.
  std::unique_ptr<T> get() {
    if (void* p = base_.get()) return std::unique_ptr<T>(static_cast<T*>(p));
    return new_ ? new_() : nullptr;
  }
  // Go: Put.
  void put(std::unique_ptr<T> x) {
    if (x) base_.put(x.release());
  }

 private:
  static void destroy(void* p) { delete static_cast<T*>(p); }
  detail::pool_base base_;
  std::function<std::unique_ptr<T>()> new_;
};

}  // namespace gort::sync
