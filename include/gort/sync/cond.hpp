// gort/sync/cond.hpp — condition variables for goroutines (Go: sync.Cond).
//
//   gort::sync::mutex mu;
//   gort::sync::cond c(mu);              // sync.NewCond(&mu)
//   std::deque<int> q;
//   // consumer:
//   mu.lock();
//   while (q.empty()) c.wait();          // unlocks mu while waiting, relocks before returning
//   int v = q.front(); q.pop_front();
//   mu.unlock();
//   // producer:
//   { std::lock_guard lk(mu); q.push_back(1); }
//   c.signal();                          // wakes one waiter; broadcast() wakes all
//
// As in Go, the caller of wait must hold the lock, a woken waiter re-checks its condition in
// a loop, and signal/broadcast may be called with or without the lock held. Signal wakes
// the goroutine that has waited longest. Works over any lock with lock()/unlock()
// (gort::sync::mutex, rw_mutex, rw_mutex::r_locker(), std::mutex for plain threads...).
// A cond cannot be copied (Go detects copies at run time; here the compiler refuses).
#pragma once
#include <atomic>
#include <cstdint>

namespace gort::rt {
struct notify_list;
}

namespace gort::sync {

class cond {
 public:
  template <class Lock>
  explicit cond(Lock& l) noexcept
      : lock_(&l),
        do_lock_([](void* p) { static_cast<Lock*>(p)->lock(); }),
        do_unlock_([](void* p) { static_cast<Lock*>(p)->unlock(); }) {}
  cond(const cond&) = delete;
  cond& operator=(const cond&) = delete;
  ~cond();

  // Go: Wait — atomically unlocks the lock and waits; relocks before returning.
  void wait();
  // Go: Signal — wakes the longest-waiting goroutine, if any.
  void signal();
  // Go: Broadcast — wakes every waiting goroutine.
  void broadcast();

 private:
  rt::notify_list* list();

  void* lock_;
  void (*do_lock_)(void*);
  void (*do_unlock_)(void*);
  std::atomic<rt::notify_list*> list_{nullptr};  // created on first use
};

}  // namespace gort::sync
