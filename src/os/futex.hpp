// futex: the one OS primitive every blocking wait in the runtime ends in (Go: os_linux.go
// futexsleep/futexwakeup). Invariant: callers re-check their condition after every return,
// since a futex wait may wake spuriously.
#pragma once
#include <atomic>
#include <cstdint>

namespace gort::os {

// Sleeps while *addr == expected, at most timeout_ns (< 0: no limit).
void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns = -1);
// Wakes up to n threads sleeping on addr.
void futex_wake(std::atomic<uint32_t>* addr, int n);

}  // namespace gort::os
