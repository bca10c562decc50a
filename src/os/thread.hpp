// thread: OS threads for the runtime (Ms and sysmon). They inherit the creating thread's
// signal mask, as Go's threads take any signal: a fault (SIGSEGV on a guard page) must be
// deliverable on every thread that runs goroutines.
#pragma once
#include <cstddef>
#include <cstdint>

namespace gort::os {

// Starts a detached thread running fn(arg). False if the OS refused.
// CPUs this process may run on (its affinity mask), at least 1. (Go: runtime.ncpu)
int ncpu();

bool start_thread(void* (*fn)(void*), void* arg, size_t stack_size = 0);

// The calling thread's own stack, [lo, lo + size).
void current_thread_stack(uintptr_t* lo, size_t* size);

// Runs fn(arg) on a new thread with a large stack and waits for it. For work that needs
// more stack than a goroutine has (symbolising tracebacks with libdw), as Go switches to
// the system stack. Runs fn inline if no thread can be started.
void run_on_big_stack(void (*fn)(void*), void* arg);

}  // namespace gort::os
