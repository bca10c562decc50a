// containers/runtime: the non-template pieces behind gort::map, gort::slice and
// gort::string — the one allocation pair every backing array and map bucket goes through
// (containers_alloc / containers_free, on gort's allocator, gort::mem), the random source for map seeds and iteration starts, the map's fatal errors,
// and the text of Go's bounds-check panics (Go: runtime/panic.go, boundsError).
// Invariants: containers_alloc returns zeroed memory aligned to `align`; containers_free is
// given the same size and alignment. Blocks of 2 MiB and more are mapped directly, 2 MiB
// aligned, and marked for transparent huge pages (Go's heap asks for them as well): a big
// map's random probes then miss the TLB far less often.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include <sys/mman.h>

#include "gort/errors.hpp"
#include "gort/map.hpp"
#include "gort/mem.hpp"
#include "gort/slice.hpp"
#include "sched/fatal.hpp"
#include "sched/sched.hpp"

namespace gort::rt {

namespace {
constexpr size_t huge_size = size_t(2) << 20;
size_t huge_len(size_t bytes) { return (bytes + huge_size - 1) & ~(huge_size - 1); }

void* huge_alloc(size_t bytes) {
  size_t len = huge_len(bytes);
  void* m = mmap(nullptr, len + huge_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  // Trim to a 2 MiB-aligned run of len bytes.
  uintptr_t base = reinterpret_cast<uintptr_t>(m);
  uintptr_t aligned = (base + huge_size - 1) & ~uintptr_t(huge_size - 1);
  if (aligned > base) munmap(m, aligned - base);
  uintptr_t end = base + len + huge_size;
  if (end > aligned + len) munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
  void* p = reinterpret_cast<void*>(aligned);
  madvise(p, len, MADV_HUGEPAGE);
  return p;
}
}  // namespace

void* containers_alloc(size_t bytes, size_t align) {
  if (bytes == 0) bytes = 1;
  if (bytes >= huge_size && align <= huge_size) return huge_alloc(bytes);
  return gort::mem::alloc(bytes, align);  // zeroed, as Go's mallocgc; throws bad_alloc
}

void containers_free(void* p, size_t bytes, size_t align) noexcept {
  if (bytes >= huge_size && align <= huge_size) {
    munmap(p, huge_len(bytes));
    return;
  }
  gort::mem::free(p);
}

uint32_t containers_rand() noexcept { return fastrand(); }

void map_fatal(const char* msg) { fatal(msg); }

// Go: runtime.boundsError.Error. The texts are Go's, form for form.
void panic_bounds(bounds_code code, int64_t x, int64_t y) {
  std::string s = "runtime error: ";
  auto num = [](int64_t v) { return std::to_string(v); };
  switch (code) {
    case bounds_code::index:
      s += "index out of range [" + num(x) + "] with length " + num(y);
      break;
    case bounds_code::slice_alen:
      s += "slice bounds out of range [:" + num(x) + "] with length " + num(y);
      break;
    case bounds_code::slice_acap:
      s += "slice bounds out of range [:" + num(x) + "] with capacity " + num(y);
      break;
    case bounds_code::slice_b:
      s += "slice bounds out of range [" + num(x) + ":" + num(y) + "]";
      break;
    case bounds_code::slice3_alen:
      s += "slice bounds out of range [::" + num(x) + "] with length " + num(y);
      break;
    case bounds_code::slice3_acap:
      s += "slice bounds out of range [::" + num(x) + "] with capacity " + num(y);
      break;
    case bounds_code::slice3_b:
      s += "slice bounds out of range [:" + num(x) + ":" + num(y) + "]";
      break;
    case bounds_code::slice3_c:
      s += "slice bounds out of range [" + num(x) + ":" + num(y) + ":]";
      break;
  }
  // A negative index reads "index out of range [-1]" in Go, with no length.
  if (x < 0 && (code == bounds_code::index)) s = "runtime error: index out of range [" + num(x) + "]";
  if (x < 0 && code != bounds_code::index) {
    switch (code) {
      case bounds_code::slice_alen:
      case bounds_code::slice_acap:
        s = "runtime error: slice bounds out of range [:" + num(x) + "]";
        break;
      case bounds_code::slice_b:
        s = "runtime error: slice bounds out of range [" + num(x) + ":]";
        break;
      case bounds_code::slice3_alen:
      case bounds_code::slice3_acap:
        s = "runtime error: slice bounds out of range [::" + num(x) + "]";
        break;
      case bounds_code::slice3_b:
        s = "runtime error: slice bounds out of range [:" + num(x) + ":]";
        break;
      case bounds_code::slice3_c:
        s = "runtime error: slice bounds out of range [" + num(x) + "::]";
        break;
      default:
        break;
    }
  }
  throw runtime_error(s);
}

}  // namespace gort::rt
