// gort/sync/mutex.hpp — mutual exclusion for goroutines (Go: sync.Mutex, sync.RWMutex).
//
//   gort::sync::mutex mu;
//   {
//     std::lock_guard lk(mu);           // mu.Lock(); defer mu.Unlock()
//     counter++;
//   }
//   gort::sync::rw_mutex rw;
//   { std::shared_lock lk(rw); read(); }     // rw.RLock(); defer rw.RUnlock()
//   { std::unique_lock lk(rw); write(); }    // rw.Lock(); defer rw.Unlock()
//
// A goroutine that waits parks (its thread runs other goroutines); a plain thread that is
// not a goroutine blocks its thread. As in Go a lock is not tied to the goroutine that took
// it: another goroutine may unlock it. Unlocking an unlocked mutex is a fatal error
// (`fatal error: sync: unlock of unlocked mutex`, exit 2), not a recoverable panic.
//
// mutex is Go 1.19's: in normal mode a goroutine that finds it locked may spin briefly and
// newcomers can barge ahead of woken waiters; a waiter that has waited more than 1 ms turns
// on starvation mode, in which unlock hands the mutex straight to the oldest waiter and
// newcomers queue behind. mutex and rw_mutex satisfy Lockable (std::lock_guard,
// std::unique_lock, std::scoped_lock); rw_mutex also SharedLockable (std::shared_lock).
#pragma once
#include <atomic>
#include <cstdint>

namespace gort::detail {
// True while some goroutine may be flagged for preemption (set with the flag, cleared by
// sysmon once none is): a hint that lets an unlock look for a preemption request with one
// load. When it is set, preempt_point() yields if the calling goroutine is flagged, so a
// loop of uncontended lock/unlock is a safe point, as in Go, instead of a hog that gets a
// stand-in processor (docs/preemption.md).
extern std::atomic<bool> preempt_hint;
void preempt_point();
}  // namespace gort::detail

namespace gort::sync {

// Go: sync.Locker.
class locker {
 public:
  virtual void lock() = 0;
  virtual void unlock() = 0;

 protected:
  ~locker() = default;
};

class mutex final : public locker {
 public:
  constexpr mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  // Go: Lock.
  void lock() override {
    int32_t unlocked = 0;
    if (state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire)) return;
    lock_slow();
  }
  // Go: TryLock — takes the mutex if it is free and not promised to a starving waiter.
  bool try_lock() noexcept;
  // Go: Unlock. A safe point: yields here if the goroutine was asked to.
  void unlock() override {
    int32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (now != 0) unlock_slow(now);
    if (detail::preempt_hint.load(std::memory_order_relaxed)) [[unlikely]]
      detail::preempt_point();
  }

 private:
  static constexpr int32_t kLocked = 1, kWoken = 2, kStarving = 4, kWaiterShift = 3;
  void lock_slow();
  void unlock_slow(int32_t now);

  // locked | woken | starving | waiters << 3, as Go's state word.
  std::atomic<int32_t> state_{0};
  std::atomic<uint32_t> sema_{0};
};

// Go: sync.RWMutex — any number of readers or one writer. Writers are preferred: once a
// writer waits, new readers wait behind it (so a recursive r_lock can deadlock, as in Go).
class rw_mutex final : public locker {
 public:
  constexpr rw_mutex() noexcept = default;
  rw_mutex(const rw_mutex&) = delete;
  rw_mutex& operator=(const rw_mutex&) = delete;

  // Go: RLock, TryRLock, RUnlock.
  void r_lock() {
    if (reader_count_.fetch_add(1, std::memory_order_acquire) + 1 < 0) r_lock_slow();
  }
  bool try_r_lock() noexcept;
  void r_unlock() {
    int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) r_unlock_slow(r);
    if (detail::preempt_hint.load(std::memory_order_relaxed)) [[unlikely]]
      detail::preempt_point();
  }
  // Go: Lock, TryLock, Unlock.
  void lock() override;
  bool try_lock() noexcept;
  void unlock() override;
  // Go: RLocker — a locker whose lock/unlock are r_lock/r_unlock.
  locker& r_locker() noexcept { return reader_; }

  // SharedLockable spelling.
  void lock_shared() { r_lock(); }
  bool try_lock_shared() noexcept { return try_r_lock(); }
  void unlock_shared() { r_unlock(); }

 private:
  static constexpr int32_t kMaxReaders = 1 << 30;
  struct reader_locker final : locker {
    rw_mutex* rw;
    explicit constexpr reader_locker(rw_mutex* r) : rw(r) {}
    void lock() override { rw->r_lock(); }
    void unlock() override { rw->r_unlock(); }
  };
  void r_lock_slow();
  void r_unlock_slow(int32_t r);

  mutex w_;                                   // held by the writer (and by waiting writers)
  std::atomic<uint32_t> writer_sem_{0};       // the writer waits here for readers to leave
  std::atomic<uint32_t> reader_sem_{0};       // readers wait here for the writer to leave
  std::atomic<int32_t> reader_count_{0};      // readers; minus kMaxReaders while a writer waits
  std::atomic<int32_t> reader_wait_{0};       // readers the waiting writer still waits for
  reader_locker reader_{this};
};

}  // namespace gort::sync
