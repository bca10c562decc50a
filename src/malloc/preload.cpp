// preload: libgort_malloc.so, gort's allocator as the C and C++ allocator of any program
// (LD_PRELOAD=libgort_malloc.so prog). It needs no scheduler: plain threads get their own
// mcache, given back at thread exit (pthread key destructor); fork holds every allocator
// lock across the fork (pthread_atfork) so the child's heap is consistent.
//
// C semantics: malloc family returns null with errno = ENOMEM when memory runs out; calloc
// checks n*size for overflow; the C++ operators throw std::bad_alloc (or return null for
// nothrow). free of a pointer this heap did not hand out, or a double free, aborts with
// "fatal error: free: ...". GORT_MALLOC_STATS=1 prints MemStats-style totals at exit.
#include <errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "gort/mem.hpp"
#include "malloc/malloc.hpp"

namespace gm = gort::malloc;

#define GORT_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// mallocgc's slow paths set errno when they fail, so the fast paths test nothing more.
inline void* do_malloc(std::size_t n, bool zero) { return gm::mallocgc(n, false, zero); }

inline void* do_aligned(std::size_t align, std::size_t n) {
  void* p = gm::malloc_aligned(n, align, false);
  if (p == nullptr) errno = ENOMEM;
  return p;
}

void* do_realloc(void* p, std::size_t n) {
  if (p == nullptr) return do_malloc(n, false);
  if (n == 0) {
    gm::freegc(p);
    return nullptr;
  }
  std::size_t have = gm::usable_size(p);
  // Stay in place while the new size fits and would not fit a class half the size.
  if (n <= have && (n > have / 2 || have <= 16)) return p;
  // A large object grows in place when the pages after it are free (glibc's mremap and
  // jemalloc avoid the copy too). Else it moves, taking a quarter more than it had at
  // least (Go's append grows large slices by 1.25x; tcmalloc's realloc does the same): a
  // buffer grown a page at a time then moves O(log n) times, where moving at every page
  // made growing one to 16 MiB 4 KiB at a time copy 32 GiB (5 s against glibc's 9 ms).
  // The quarter costs little memory: fresh pages the program never writes are never backed.
  std::size_t want = n;
  if (n > have && have > gm::max_small_size) {
    if (gm::grow_in_place(p, n)) return p;
    if (have + have / 4 > n) want = have + have / 4;
  }
  void* q = do_malloc(want, false);
  if (q == nullptr && want != n) q = do_malloc(n, false);  // the quarter more did not fit
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, n < have ? n : have);
  gm::freegc(p);
  return q;
}

__attribute__((destructor)) void report_at_exit() {
  const char* e = getenv("GORT_MALLOC_STATS");
  if (e == nullptr || e[0] != '1') return;
  gort::mem_stats s = gort::read_mem_stats();
  char buf[256];
  int n = std::snprintf(buf, sizeof buf,
                        "gort_malloc: mallocs=%llu frees=%llu total_alloc=%llu heap_sys=%llu "
                        "heap_inuse=%llu heap_released=%llu\n",
                        (unsigned long long)s.mallocs, (unsigned long long)s.frees,
                        (unsigned long long)s.total_alloc, (unsigned long long)s.heap_sys,
                        (unsigned long long)s.heap_inuse, (unsigned long long)s.heap_released);
  if (n > 0) {
    ssize_t r = write(2, buf, std::size_t(n));
    (void)r;
  }
}

}  // namespace

GORT_EXPORT void* malloc(std::size_t n) { return do_malloc(n, false); }
GORT_EXPORT void free(void* p) { gm::freegc(p); }
GORT_EXPORT void cfree(void* p) { gm::freegc(p); }
GORT_EXPORT void* calloc(std::size_t n, std::size_t size) {
  std::size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return do_malloc(total, true);
}
GORT_EXPORT void* realloc(void* p, std::size_t n) { return do_realloc(p, n); }
GORT_EXPORT void* reallocarray(void* p, std::size_t n, std::size_t size) {
  std::size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return do_realloc(p, total);
}
GORT_EXPORT void* memalign(std::size_t align, std::size_t n) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  return do_aligned(align, n);
}
GORT_EXPORT void* aligned_alloc(std::size_t align, std::size_t n) { return memalign(align, n); }
GORT_EXPORT int posix_memalign(void** out, std::size_t align, std::size_t n) {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  void* p = gm::malloc_aligned(n, align, false);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
GORT_EXPORT void* valloc(std::size_t n) { return do_aligned(gm::page_size >= 4096 ? 4096 : gm::page_size, n); }
GORT_EXPORT void* pvalloc(std::size_t n) {
  std::size_t r = (n + 4095) & ~std::size_t{4095};
  if (r < n) {
    errno = ENOMEM;
    return nullptr;
  }
  return do_aligned(4096, r);
}
GORT_EXPORT std::size_t malloc_usable_size(void* p) { return gm::usable_size(p); }

// ---- C++ operators ----

namespace {

void* new_or_throw(std::size_t n) {
  void* p = gm::mallocgc(n, false, false);
  while (__builtin_expect(p == nullptr, 0)) {
    std::new_handler h = std::get_new_handler();
    if (h == nullptr) throw std::bad_alloc();
    h();
    p = gm::mallocgc(n, false, false);
  }
  return p;
}

void* new_aligned_or_throw(std::size_t n, std::size_t align) {
  void* p = gm::malloc_aligned(n, align, false);
  while (p == nullptr) {
    std::new_handler h = std::get_new_handler();
    if (h == nullptr) throw std::bad_alloc();
    h();
    p = gm::malloc_aligned(n, align, false);
  }
  return p;
}

}  // namespace

#define GORT_NEW_EXPORT __attribute__((visibility("default")))
GORT_NEW_EXPORT void* operator new(std::size_t n) { return new_or_throw(n); }
GORT_NEW_EXPORT void* operator new[](std::size_t n) { return new_or_throw(n); }
GORT_NEW_EXPORT void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return gm::mallocgc(n, false, false);
}
GORT_NEW_EXPORT void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return gm::mallocgc(n, false, false);
}
GORT_NEW_EXPORT void* operator new(std::size_t n, std::align_val_t a) {
  return new_aligned_or_throw(n, std::size_t(a));
}
GORT_NEW_EXPORT void* operator new[](std::size_t n, std::align_val_t a) {
  return new_aligned_or_throw(n, std::size_t(a));
}
GORT_NEW_EXPORT void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return gm::malloc_aligned(n, std::size_t(a), false);
}
GORT_NEW_EXPORT void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return gm::malloc_aligned(n, std::size_t(a), false);
}
GORT_NEW_EXPORT void operator delete(void* p) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete[](void* p) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete(void* p, std::size_t) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete[](void* p, std::size_t) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete(void* p, std::align_val_t) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete(void* p, std::size_t, std::align_val_t) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { gm::freegc(p); }
GORT_NEW_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { gm::freegc(p); }
