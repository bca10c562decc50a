// mutex: Go 1.19's sync.Mutex (see gort/sync/mutex.hpp for the modes).
//
// state_: bit 0 locked, bit 1 woken (a woken or spinning goroutine will try to take it, so
// unlock need wake nobody), bit 2 starving, bits 3.. the number of waiters parked on sema_.
// Invariants: in starvation mode the mutex is never free-for-all: unlock hands it (with the
// locked bit left clear in state_) to the first waiter, which sets it on wake; woken and
// starving are never both set by a waiter that took ownership.
#include "gort/sync/mutex.hpp"

#include "os/clock.hpp"
#include "os/lock.hpp"
#include "sched/fatal.hpp"
#include "sched/sched.hpp"
#include "sync/sema.hpp"

namespace gort::sync {
namespace {
constexpr int64_t kStarvationThresholdNs = 1'000'000;  // Go: starvationThresholdNs
}

bool mutex::try_lock() noexcept {
  int32_t old = state_.load(std::memory_order_relaxed);
  if (old & (kLocked | kStarving)) return false;
  return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire);
}

void mutex::lock_slow() {
  int64_t wait_start = 0;
  bool starving = false, awoke = false;
  int iter = 0;
  int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while it is held in normal mode: the holder may let go soon. Setting woken
    // tells unlock not to wake a parked waiter we would only compete with.
    if ((old & (kLocked | kStarving)) == kLocked && rt::sync_can_spin(iter)) {
      if (!awoke && !(old & kWoken) && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_strong(old, old | kWoken, std::memory_order_relaxed))
        awoke = true;
      os::spin_round();  // Go: procyield(active_spin_cnt)
      iter++;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    int32_t next = old;
    if (!(old & kStarving)) next |= kLocked;  // a starving mutex goes to a waiter, not us
    if (old & (kLocked | kStarving)) next += 1 << kWaiterShift;
    if (starving && (old & kLocked)) next |= kStarving;
    if (awoke) {
      if (!(next & kWoken)) rt::fatal("sync: inconsistent mutex state");
      next &= ~kWoken;
    }
    if (!state_.compare_exchange_strong(old, next, std::memory_order_acquire,
                                        std::memory_order_relaxed))
      continue;  // old was reloaded
    if (!(old & (kLocked | kStarving))) return;  // took it
    // Queue: at the back the first time, at the front after losing a race once woken.
    bool lifo = wait_start != 0;
    if (wait_start == 0) wait_start = os::nanotime();
    rt::semacquire(&sema_, lifo);
    starving = starving || os::nanotime() - wait_start > kStarvationThresholdNs;
    old = state_.load(std::memory_order_relaxed);
    if (old & kStarving) {
      // Handed to us: we own it. Take the locked bit, drop our waiter count, and leave
      // starvation mode if we did not wait long or nobody waits behind us.
      if ((old & (kLocked | kWoken)) || (old >> kWaiterShift) == 0)
        rt::fatal("sync: inconsistent mutex state");
      int32_t delta = kLocked - (1 << kWaiterShift);
      if (!starving || (old >> kWaiterShift) == 1) delta -= kStarving;
      state_.fetch_add(delta, std::memory_order_acquire);
      return;
    }
    awoke = true;
    iter = 0;
  }
}

void mutex::unlock_slow(int32_t now) {
  if (((now + kLocked) & kLocked) == 0) rt::fatal("sync: unlock of unlocked mutex");
  if (now & kStarving) {
    // Hand ownership to the first waiter and yield our P to it.
    rt::semrelease(&sema_, true);
    return;
  }
  int32_t old = now;
  for (;;) {
    // Nobody to wake, or someone is already awake (spinning, woken or holding it).
    if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving))) return;
    int32_t next = (old - (1 << kWaiterShift)) | kWoken;
    if (state_.compare_exchange_strong(old, next, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      rt::semrelease(&sema_, false);
      return;
    }
  }
}

// ---- rw_mutex (Go 1.19 rwmutex.go) ----

// A writer is pending: wait for it to finish.
void rw_mutex::r_lock_slow() { rt::semacquire(&reader_sem_); }

bool rw_mutex::try_r_lock() noexcept {
  int32_t c = reader_count_.load(std::memory_order_relaxed);
  while (c >= 0) {
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire)) return true;
  }
  return false;
}

void rw_mutex::r_unlock_slow(int32_t r) {
  if (r + 1 == 0 || r + 1 == -kMaxReaders) rt::fatal("sync: RUnlock of unlocked RWMutex");
  // A writer is pending: the last reader it waits for wakes it.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0)
    rt::semrelease(&writer_sem_);
}

void rw_mutex::lock() {
  w_.lock();  // first, win against other writers
  // Announce the writer to readers, and count the readers still inside.
  int32_t r = reader_count_.fetch_sub(kMaxReaders, std::memory_order_acq_rel);
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0)
    rt::semacquire(&writer_sem_);
}

bool rw_mutex::try_lock() noexcept {
  if (!w_.try_lock()) return false;
  int32_t zero = 0;
  if (!reader_count_.compare_exchange_strong(zero, -kMaxReaders, std::memory_order_acquire)) {
    w_.unlock();
    return false;
  }
  return true;
}

void rw_mutex::unlock() {
  // Announce to readers that there is no active writer, and let in those that waited.
  int32_t r = reader_count_.fetch_add(kMaxReaders, std::memory_order_release) + kMaxReaders;
  if (r >= kMaxReaders) rt::fatal("sync: Unlock of unlocked RWMutex");
  for (int32_t i = 0; i < r; i++) rt::semrelease(&reader_sem_);
  w_.unlock();
}

}  // namespace gort::sync
