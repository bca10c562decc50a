// context: saved execution contexts and the switch between them (Go: gobuf, gogo). A context
// is just a stack pointer; everything else lives in the 64-byte frame gort_swap_context
// pushes (see context_x86_64.S). Invariant: a saved sp is only resumed once per save.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" {
void gort_swap_context(void** save_sp, void* load_sp, uint64_t fp_control);
// Resumes load_sp, leaving a context that is never resumed (nothing is saved).
[[noreturn]] void gort_jump_context(void* load_sp);
void gort_start_trampoline();
}

namespace gort::rt {

inline constexpr size_t kSwitchFrameSize = 64;

// The calling thread's MXCSR (low 32 bits) and x87 control word (bits 32-47): the
// floating-point control state a switch saves, packed as gort_swap_context takes it.
inline uint64_t read_fp_control() {
  uint32_t mxcsr;
  uint16_t x87;
  __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(x87));
  return mxcsr | uint64_t{x87} << 32;
}

// Builds a frame at the top of [.., top) that, when resumed, calls fn(arg) on that stack.
// top must be 16-byte aligned. Returns the sp to resume.
inline void* make_context(uintptr_t top, void (*fn)(void*), void* arg) {
  // sp is 16-aligned so that fn is entered with rsp % 16 == 8, as after a call.
  uintptr_t sp = top - kSwitchFrameSize - 16;
  auto* frame = reinterpret_cast<uint64_t*>(sp);
  std::memset(frame, 0, kSwitchFrameSize + 16);
  uint32_t mxcsr = 0x1F80;   // default MXCSR: all exceptions masked, round to nearest
  uint16_t fpucw = 0x037F;   // default x87 control word
  std::memcpy(&frame[0], &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(&frame[0]) + 4, &fpucw, 2);
  frame[3] = reinterpret_cast<uint64_t>(fn);   // r13
  frame[4] = reinterpret_cast<uint64_t>(arg);  // r12
  frame[6] = 0;                                // rbp: ends frame-pointer walks
  frame[7] = reinterpret_cast<uint64_t>(&gort_start_trampoline);
  return reinterpret_cast<void*>(sp);
}

}  // namespace gort::rt
