// gort/time.hpp — sleeping on the runtime's timers (Go: package time).
//
//   using namespace std::chrono_literals;
//   gort::time::sleep(10ms);                 // parks the goroutine, not the thread
//   gort::time::sleep(3 * gort::time::second);
//
// Timers live in per-processor 4-ary heaps checked by the scheduler, as in Go; an idle
// program sleeps in epoll until the earliest timer, with nanosecond precision where the
// kernel supports epoll_pwait2.
#pragma once
#include <chrono>
#include <cstdint>

namespace gort::time {

using duration = std::chrono::nanoseconds;
inline constexpr duration nanosecond{1};
inline constexpr duration microsecond{1000};
inline constexpr duration millisecond{1000000};
inline constexpr duration second{1000000000};
inline constexpr duration minute{60 * second};
inline constexpr duration hour{60 * minute};

namespace detail {
void sleep_ns(int64_t ns);
}

// time.Sleep: pauses the calling goroutine for at least d; d <= 0 returns at once. On a
// thread that is not a goroutine it sleeps the thread.
template <class Rep, class Period>
void sleep(std::chrono::duration<Rep, Period> d) {
  detail::sleep_ns(std::chrono::duration_cast<duration>(d).count());
}

// The runtime's monotonic clock (Go: nanotime).
std::chrono::steady_clock::time_point now();
inline duration since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<duration>(now() - t);
}

}  // namespace gort::time
