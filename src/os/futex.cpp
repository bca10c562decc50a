// futex: thin wrappers over the Linux futex system call (private futexes only).
#include "os/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace gort::os {

#if defined(GORT_TSAN)
// TSan runs an asynchronous signal's handler on the thread that received it only when that
// thread next enters one of TSan's interceptors, and the futex system call is not one: a
// thread parked here would hold a SIGQUIT (the goroutine dump) for as long as it sleeps,
// while the program goes on and may finish first. Under TSan a wait lasts at most 10 ms and
// ends in an intercepted call (usleep), which runs the pending handlers; callers re-check
// their condition after every return anyway.
constexpr int64_t kTsanLongestWaitNs = 10'000'000;
#endif

void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns) {
#if defined(GORT_TSAN)
  if (timeout_ns < 0 || timeout_ns > kTsanLongestWaitNs) timeout_ns = kTsanLongestWaitNs;
#endif
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, tsp,
            nullptr, 0);
#if defined(GORT_TSAN)
  usleep(0);
#endif
}

void futex_wake(std::atomic<uint32_t>* addr, int n) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr,
            nullptr, 0);
}

}  // namespace gort::os
