// containers/runtime: the non-template pieces behind gort::map, gort::slice and
// gort::string — the one allocation pair every backing array and map bucket goes through
// (containers_alloc / containers_free: switching containers to the gort allocator is a change
// here only), the random source for map seeds and iteration starts, the map's fatal errors,
// and the text of Go's bounds-check panics (Go: runtime/panic.go, boundsError).
// Invariants: containers_alloc returns zeroed memory aligned to `align`; containers_free is
// given the same size and alignment.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "gort/errors.hpp"
#include "gort/map.hpp"
#include "gort/slice.hpp"
#include "sched/fatal.hpp"
#include "sched/sched.hpp"

namespace gort::rt {

void* containers_alloc(size_t bytes, size_t align) {
  if (bytes == 0) bytes = 1;
  void* p;
  if (align <= alignof(std::max_align_t)) {
    // calloc: fresh pages from the OS come already zeroed.
    p = std::calloc(1, bytes);
  } else {
    p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
    if (p != nullptr) std::memset(p, 0, bytes);
  }
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void containers_free(void* p, size_t /*bytes*/, size_t /*align*/) noexcept { std::free(p); }

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
