// wait_group: Go 1.19's WaitGroup — one 64-bit state word (counter << 32 | waiters) and a
// semaphore the waiters park on.
#include "gort/sync/wait_group.hpp"
#include "sync/sema.hpp"

namespace gort::sync {

void wait_group::add(int delta) {
  uint64_t state = state_.fetch_add(uint64_t(int64_t(delta)) << 32, std::memory_order_acq_rel) +
                   (uint64_t(int64_t(delta)) << 32);
  auto v = int32_t(state >> 32);
  auto w = uint32_t(state);
  if (v < 0) gort::panic("sync: negative WaitGroup counter");
  if (w != 0 && delta > 0 && v == delta)
    gort::panic("sync: WaitGroup misuse: Add called concurrently with Wait");
  if (v > 0 || w == 0) return;
  // The counter reached zero with waiters: nobody may add now, so reset and release them.
  if (state_.load(std::memory_order_acquire) != state)
    gort::panic("sync: WaitGroup misuse: Add called concurrently with Wait");
  state_.store(0, std::memory_order_release);
  for (; w != 0; w--) rt::semrelease(&sema_);
}

void wait_group::wait() {
  uint64_t state = state_.load(std::memory_order_acquire);
  for (;;) {
    if (int32_t(state >> 32) == 0) return;
    if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) {
      rt::semacquire(&sema_);
      if (state_.load(std::memory_order_acquire) != 0)
        gort::panic("sync: WaitGroup is reused before previous Wait has returned");
      return;
    }
  }
}

}  // namespace gort::sync
