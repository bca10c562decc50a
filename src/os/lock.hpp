// lock: the runtime's own low-level locks (Go: lock_futex.go) and `note`, a one-shot event
// that parks an OS thread (Go: notesleep/notewakeup). These block *threads*; they guard
// short runtime critical sections and idle Ms. Goroutine-level waiting uses gopark instead.
//
// light_rt_mutex is rt_mutex for locks whose storage outlives every call of unlock(): the
// scheduler's lock, the Ps' timer locks, the semaphore table, the heap and pooled poll
// descriptors (never freed, or reused only as the same kind of lock), and channels' locks
// (each operation holds a handle, and a goroutine woken from a park waits until the park's
// commit has unlocked: chan/chan.hpp, waiter::parking). Where membarrier(2) works its
// unlock is a plain store followed by a look at a sleeper count, not an exchange, and a
// thread about to sleep pays for both sides with a process-wide fence (os/membarrier.hpp):
// a locked instruction drains the store buffer, which a goroutine switch has just filled.
// That unlock reads the lock after releasing it, so it is wrong for a lock that the next
// holder may free at once with nothing to make it wait (a cond's, whose waiter returns and
// destroys it; a timer's, whose stop then lets the owner destroy it): those use rt_mutex,
// whose unlock touches only the futex's address after its exchange, as Go's does.
//
// Invariants: neither lock is recursive, and neither is held across a context switch, except
// the scheduler hand-off paths documented in sched/proc.cpp, nor at a safe point (a call that
// may yield to a preemption request, sched/proc.cpp: check_preempt), which sanitizer builds
// check by counting the locks each thread holds. A note is woken at most once between
// clears.
#pragma once
#include <sched.h>

#include <atomic>
#include <cstdint>

#include "os/futex.hpp"
#include "os/membarrier.hpp"

namespace gort::os {

// Go: procyield — n PAUSE instructions, the unit of a short spin.
inline void procyield(uint32_t n) {
  for (uint32_t i = 0; i < n; i++) __builtin_ia32_pause();
}

// The PAUSEs in one round of a lock spin (Go: procyield(30) in lock_futex.go and in
// sync.Mutex's spin). Go's 30 is a count, and a PAUSE lasts very different times on
// different cores: about 140 cycles on Intel cores since Skylake (a round of 1-2 us), 19 ns
// on this project's AMD EPYC VM (0.57 us). Between looks at the lock's line a waiter leaves
// the holder alone; looking twice as often pulled the line away from the holder so much
// that chan-buf ran at 88 ns per item against 62 with a 1.1 us round (and 142 with rounds
// of 4 PAUSEs). So the count is calibrated once, to a round of about 1 us, clamped to Go's
// 30 at least and 240 at most.
uint32_t spin_round_pauses();
inline void spin_round() { procyield(spin_round_pauses()); }
// One step of waiting for another thread that makes system calls meanwhile: a PAUSE for
// the first 64 steps, then the CPU given away.
inline void spin_then_yield(int& steps) {
  if (++steps < 64)
    procyield(1);
  else
    sched_yield();
}

#if defined(GORT_ASAN) || defined(GORT_TSAN)
#define GORT_COUNT_RT_LOCKS 1
// Sanitizer builds: how many rt_mutexes the calling thread holds, so that a safe point
// reached with one held is reported (a preemption there would yield with the lock held,
// and every thread that then takes it blocks; with GOMAXPROCS 1 for good).
extern thread_local uint32_t rt_locks_held [[gnu::tls_model("initial-exec")]];
inline void count_rt_lock(int d) { rt_locks_held += uint32_t(d); }
#else
inline void count_rt_lock(int) {}
#endif

// The spin and yield stages of both locks' slow paths: true once state went 0 -> 1.
bool spin_to_acquire(std::atomic<uint32_t>& state);

// What both locks share: the lock word's fast paths. Derived supplies lock_slow().
template <class Derived>
class rt_lock_word {
 public:
  void lock() {
    uint32_t expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acquire))
      static_cast<Derived*>(this)->lock_slow();
    count_rt_lock(1);
  }
  bool try_lock() {
    uint32_t expected = 0;
    bool ok = state_.compare_exchange_strong(expected, 1, std::memory_order_acquire);
    if (ok) count_rt_lock(1);
    return ok;
  }

 protected:
  std::atomic<uint32_t> state_{0};
};

class rt_mutex : public rt_lock_word<rt_mutex> {
 public:
  void unlock() {
    count_rt_lock(-1);
    if (state_.exchange(0, std::memory_order_release) == 2) futex_wake(&state_, 1);
  }
  // In a forked child only, where the thread that held the lock did not come along:
  // unlocked again (what it guarded may be half updated; the caller resets that too).
  void reinit_in_forked_child() { state_.store(0, std::memory_order_relaxed); }

 private:
  friend class rt_lock_word<rt_mutex>;
  void lock_slow();
  // state_: 0 unlocked, 1 locked, 2 locked with possible sleepers.
};

class light_rt_mutex : public rt_lock_word<light_rt_mutex> {
 public:
  // A plain store where membarrier works: the sleepers' heavy fence pairs with it (see
  // membarrier.hpp), so an unlock drains no store buffer. Wakes one sleeper when some sleep
  // and no wake is already on its way to one. Reads and may write the lock after releasing
  // it: hence storage that outlives this call (see the top of this file; a stale unlock of
  // a lock reused in place only wakes a sleeper of the new one early, and sleepers
  // re-check).
  void unlock() {
    count_rt_lock(-1);
    if (__builtin_expect(light_fences_ok(), 1)) {
      state_.store(0, std::memory_order_release);
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      state_.exchange(0, std::memory_order_seq_cst);
    }
    uint32_t w = waiters_.load(std::memory_order_seq_cst);
    if (__builtin_expect(w >= kSleeper && (w & kWakeInFlight) == 0, 0)) wake_one();
  }
  // In a forked child only, where the thread that held the lock did not come along:
  // unlocked again (what it guarded may be half updated; the caller resets that too).
  void reinit_in_forked_child() {
    state_.store(0, std::memory_order_relaxed);
    waiters_.store(0, std::memory_order_relaxed);
  }

 private:
  friend class rt_lock_word<light_rt_mutex>;
  static constexpr uint32_t kWakeInFlight = 1, kSleeper = 2;
  void lock_slow();
  void wake_one();
  // state_: 0 unlocked, 1 locked.
  // The futex word sleepers wait on: kSleeper per thread past its spin (asleep, about to
  // sleep, or woken and retrying), plus kWakeInFlight from a wake until a sleeper retries:
  // unlocks meanwhile wake nobody else, so a lock passed back and forth while a thread
  // goes to sleep costs one system call, not one per unlock.
  std::atomic<uint32_t> waiters_{0};
};

template <class Mutex>
class rt_lock_guard {
 public:
  explicit rt_lock_guard(Mutex& m) : m_(m) { m_.lock(); }
  ~rt_lock_guard() { m_.unlock(); }
  rt_lock_guard(const rt_lock_guard&) = delete;
  rt_lock_guard& operator=(const rt_lock_guard&) = delete;

 private:
  Mutex& m_;
};

class note {
 public:
  void clear() { key_.store(0, std::memory_order_relaxed); }
  void wakeup() {
    if (key_.exchange(1, std::memory_order_release) == 0) futex_wake(&key_, 1);
  }
  void sleep() {
    while (key_.load(std::memory_order_acquire) == 0) futex_wait(&key_, 0);
  }
  // Sleeps at most ns nanoseconds; returns true if woken.
  bool sleep_for(int64_t ns);
  bool is_set() const { return key_.load(std::memory_order_acquire) != 0; }

 private:
  std::atomic<uint32_t> key_{0};
};

}  // namespace gort::os
