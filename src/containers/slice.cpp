// containers/slice: growslice's capacity rule (Go 1.18+: runtime/slice.go) and the slice
// panics. The new capacity is rounded up to the allocator's size class
// (malloc/size_classes.hpp, Go 1.19's table), so cap() sequences match Go's.
#include <cstdint>

#include "gort/errors.hpp"
#include "gort/slice.hpp"
#include "malloc/size_classes.hpp"

namespace gort::rt {

void panic_makeslice_len() { throw runtime_error("runtime error: makeslice: len out of range"); }
void panic_makeslice_cap() { throw runtime_error("runtime error: makeslice: cap out of range"); }
void panic_growslice_cap() { throw runtime_error("runtime error: growslice: cap out of range"); }

int64_t growslice_cap(int64_t oldcap, int64_t needed, size_t elemsize) {
  constexpr int64_t threshold = 256;
  constexpr uint64_t max_alloc = uint64_t(1) << 47;  // Go: maxAlloc on linux/amd64
  if (needed < 0) panic_growslice_cap();
  int64_t newcap = oldcap;
  int64_t doublecap = newcap + newcap;
  if (needed > doublecap) {
    newcap = needed;
  } else if (oldcap < threshold) {
    newcap = doublecap;
  } else {
    // From 2x for small slices to 1.25x for large ones, smoothly.
    while (0 < newcap && newcap < needed) newcap += (newcap + 3 * threshold) / 4;
    if (newcap <= 0) newcap = needed;  // overflowed
  }
  if (elemsize == 0) return needed;
  unsigned __int128 mem = (unsigned __int128)newcap * elemsize;
  if (mem > max_alloc) panic_growslice_cap();
  uint64_t capmem = gort::malloc::roundupsize(size_t(mem));
  return int64_t(capmem / elemsize);
}

}  // namespace gort::rt
