// membarrier: registration for expedited process-wide barriers and the heavy fence.
// A forked child inherits the registration (checked: membarrier succeeds there without
// registering again).
#include "os/membarrier.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gort::os {

namespace detail {
constinit std::atomic<bool> membarrier_ready{false};
}

namespace {

// A full fence of the caller's: a seq_cst read-modify-write (a locked instruction on x86),
// which TSan models, unlike atomic_thread_fence.
void full_fence() {
  static constinit std::atomic<int> fence_word{0};
  fence_word.fetch_add(0, std::memory_order_seq_cst);
}

long membarrier(int cmd) { return ::syscall(__NR_membarrier, cmd, 0, 0); }

bool try_register() {
  // GORT_NO_MEMBARRIER=1 takes the path of kernels without it (before 4.14, or a seccomp
  // filter that denies it), so that the tests can cover both.
  const char* off = std::getenv("GORT_NO_MEMBARRIER");
  if (off != nullptr && std::strcmp(off, "1") == 0) return false;
  long cmds = membarrier(MEMBARRIER_CMD_QUERY);
  if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
  if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0) return false;
  detail::membarrier_ready.store(true, std::memory_order_seq_cst);
  return true;
}

// At start-up, so that the fast sides skip their fence from the first unlock on.
[[maybe_unused]] const bool registered_at_start = register_membarrier();

}  // namespace

bool register_membarrier() {
  static const bool ok = try_register();  // thread-safe: the first caller registers
  return ok;
}

void heavy_fence() {
  if (!register_membarrier()) {
    full_fence();
    return;
  }
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
    // Fast sides already skip their fence, so no fallback would be correct now.
    std::fputs("fatal error: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed\n", stderr);
    std::abort();
  }
}

}  // namespace gort::os
