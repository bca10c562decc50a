// gort/mem.hpp — gort's memory allocator (Go: runtime malloc, runtime.MemStats,
// debug.FreeOSMemory). Go's design: 8 KiB pages, 67 size classes, per-thread caches, central
// span lists per class, a page heap on 64 MiB arenas, a tiny allocator, and a scavenger
// that returns memory that stays free to the OS. The garbage collector is not there yet,
// so memory is freed explicitly.
//
//   struct point { double x, y; };
//   point* p = gort::mem::make<point>(1.0, 2.0);
//   gort::mem::destroy(p);
//   void* buf = gort::mem::alloc(4096, 64);   // zeroed, 64-byte aligned
//   gort::mem::free(buf);
//   gort::mem_stats st = gort::read_mem_stats();  // st.heap_alloc, st.mallocs, ...
//
// Any thread may allocate and any thread may free (also ones that are not running
// goroutines). free() of a pointer gort did not hand out, or a double free, prints
// "fatal error: free: ..." and aborts. `libgort_malloc.so` puts the same allocator under
// malloc/new of any program (LD_PRELOAD); its realloc grows a large block in place when the
// pages after it are free, and otherwise by a quarter at least (as Go's append grows a
// large slice), so a buffer grown a little at a time costs linear time, not quadratic.
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace gort::mem {

// Allocates `size` zeroed bytes aligned to `align` (a power of two; Go's mallocgc zeroes
// too). align 0 means the size class's natural alignment, enough for any type of that size
// (8 for the 8- and 24-byte classes, 16 or more for the others). Throws std::bad_alloc when the OS cannot back it. size 0
// gives a distinct object.
void* alloc(std::size_t size, std::size_t align = 0);
// As alloc, for memory that holds no pointers (Go's noscan): objects under 16 bytes are
// packed into shared 16-byte blocks by the tiny allocator, aligned to 8/4/2 by size.
void* alloc_noscan(std::size_t size);
// Frees what alloc/alloc_noscan returned (null is ignored). Aborts on a pointer gort did not
// hand out or one already freed.
void free(void* p) noexcept;
// Bytes usable at p (its size class, or whole pages for large objects).
std::size_t usable_size(const void* p);

// Go: new(T) with constructor arguments; types without pointers of under 16 bytes use the
// tiny allocator.
template <class T, class... Args>
T* make(Args&&... args) {
  void* p;
  if constexpr ((std::is_arithmetic_v<T> || std::is_enum_v<T>) && alignof(T) <= 8)
    p = alloc_noscan(sizeof(T));
  else
    p = alloc(sizeof(T), alignof(T));
  try {
    return ::new (p) T(std::forward<Args>(args)...);
  } catch (...) {
    free(p);
    throw;
  }
}

// Destroys and frees what make<T> returned (null is ignored).
template <class T>
void destroy(T* p) noexcept {
  if (p == nullptr) return;
  p->~T();
  free(const_cast<std::remove_cv_t<T>*>(p));
}

}  // namespace gort::mem

namespace gort {

// Go: runtime.MemStats (the fields the allocator keeps; Go's name in each comment).
struct mem_stats {
  std::uint64_t alloc;          // Alloc: bytes of live objects (= heap_alloc)
  std::uint64_t total_alloc;    // TotalAlloc: bytes allocated, ever
  std::uint64_t sys;            // Sys: bytes obtained from the OS, all kinds
  std::uint64_t mallocs;        // Mallocs: objects allocated, ever (tiny ones included)
  std::uint64_t frees;          // Frees: objects freed, ever
  std::uint64_t heap_alloc;     // HeapAlloc
  std::uint64_t heap_sys;       // HeapSys: arena bytes reserved
  std::uint64_t heap_idle;      // HeapIdle: bytes in free pages
  std::uint64_t heap_inuse;     // HeapInuse: bytes in spans in use
  std::uint64_t heap_released;  // HeapReleased: free bytes returned to the OS
  std::uint64_t heap_objects;   // HeapObjects: live objects
  std::uint64_t mspan_inuse;    // MSpanInuse
  std::uint64_t mspan_sys;      // MSpanSys
  std::uint64_t mcache_inuse;   // MCacheInuse
  std::uint64_t mcache_sys;     // MCacheSys
  std::uint64_t other_sys;      // OtherSys: arena metadata
  std::uint64_t num_gc;         // NumGC: 0 until the collector exists
  struct size_class {
    std::uint32_t size;         // BySize[i].Size
    std::uint64_t mallocs;      // BySize[i].Mallocs
    std::uint64_t frees;        // BySize[i].Frees
  } by_size[68];                // Go reports 61 classes; gort all 68 (0 = large, empty)
};

// Go: runtime.ReadMemStats, without stopping the world: a snapshot while other threads keep
// allocating. As Go between cache flushes, a small object counts as allocated when a
// thread's cache takes the 64-object window it lies in; the calling thread's own unused
// window is taken back, other threads' (up to 64 objects per size class) count until their
// spans leave their caches. Exact for the caller when other threads are quiet.
mem_stats read_mem_stats();

namespace debug {
// Go: debug.FreeOSMemory. Gives the calling thread's cached spans back, returns spans that
// frees emptied to the heap, and releases every free page to the OS at once.
void free_os_memory();
}  // namespace debug

}  // namespace gort
