// membarrier: asymmetric fences (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED). A fast
// side that runs often orders its store before a later load with a compiler barrier alone;
// the slow side that runs rarely pays for both with heavy_fence(), which makes every thread
// of the process that is running execute a full fence. Dekker's pattern then holds: either
// the fast side's store is visible to the slow side's load after heavy_fence(), or the fast
// side's load sees the slow side's store made before it.
//
// Invariants: the fast side may skip its fence only while light_fences_ok() is true, which
// becomes true once, after the process registered for expedited barriers (at start-up, or
// at the first heavy_fence()); heavy_fence() always issues the barrier once registration
// succeeded, so a fast side that read true is always paired with a real barrier. Where the
// kernel lacks membarrier, both sides fence.
//
//   // fast side (light_fences_ok())     // slow side
//   flag.store(0, release);              waiters.fetch_add(1);
//   std::atomic_signal_fence(seq_cst);   os::heavy_fence();
//   if (waiters.load(relaxed)) wake();   if (flag.load() != 0) sleep();
// (Where light_fences_ok() is false, the fast side needs a full fence, or a seq_cst
// read-modify-write for its store, as light_rt_mutex::unlock does.)
#pragma once
#include <atomic>

namespace gort::os {

namespace detail {
extern constinit std::atomic<bool> membarrier_ready;
}

// True once the fast side may use a compiler barrier for its fence.
inline bool light_fences_ok() { return detail::membarrier_ready.load(std::memory_order_relaxed); }

// The slow side's fence: a full fence on every running thread of the process (registering
// for it first if start-up did not), or a full fence of the caller's where membarrier is
// missing.
void heavy_fence();

// Registers for expedited barriers if the kernel offers them; true when heavy_fence() is a
// membarrier. Idempotent; done at start-up by this file's initializer.
bool register_membarrier();

}  // namespace gort::os
