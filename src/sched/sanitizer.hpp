// sanitizer: tells ASan and TSan about every fiber switch, so that both understand
// goroutines (ASan: start/finish_switch_fiber with the target stack's bounds and the fake
// stack of the context left; TSan: one fiber per g, switched to before each swap).
// Compiles to nothing in ordinary builds.
#pragma once
#include <cstddef>
#include <cstdint>

#if defined(GORT_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(GORT_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace gort::rt::san {

// Before switching: fake_stack_save is where the context we leave keeps its ASan fake stack
// (null when that context is dying); [bottom, bottom+size) is the target's stack.
inline void start_switch(void** fake_stack_save, uintptr_t bottom, size_t size,
                         void* tsan_fiber) {
#if defined(GORT_ASAN)
  __sanitizer_start_switch_fiber(fake_stack_save, reinterpret_cast<const void*>(bottom), size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
#if defined(GORT_TSAN)
  __tsan_switch_to_fiber(tsan_fiber, 0);
#else
  (void)tsan_fiber;
#endif
}

// After landing: fake_stack is the landing context's saved fake stack (null when new).
inline void finish_switch(void* fake_stack) {
#if defined(GORT_ASAN)
  const void* old_bottom;
  size_t old_size;
  __sanitizer_finish_switch_fiber(fake_stack, &old_bottom, &old_size);
#else
  (void)fake_stack;
#endif
}

// A reused goroutine stack still carries the redzones of frames that never returned (the
// previous goroutine switched away for good): clear them before new frames go there.
inline void unpoison_stack(uintptr_t lo, uintptr_t hi) {
#if defined(GORT_ASAN)
  __asan_unpoison_memory_region(reinterpret_cast<void*>(lo), hi - lo);
#else
  (void)lo, (void)hi;
#endif
}

inline void* create_fiber() {
#if defined(GORT_TSAN)
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}

inline void destroy_fiber(void* f) {
#if defined(GORT_TSAN)
  if (f != nullptr) __tsan_destroy_fiber(f);
#else
  (void)f;
#endif
}

inline void* current_fiber() {
#if defined(GORT_TSAN)
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

}  // namespace gort::rt::san
