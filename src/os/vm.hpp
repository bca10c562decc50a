// vm: system calls on this process's own address space that the stacks and the heap share:
// advice over many ranges in one call, and mapping pages ahead of their first touch.
//
// Invariant: best effort everywhere. A caller whose batch the kernel refuses goes one range
// at a time (or does without, for populate); nothing here changes what memory holds.
#pragma once
#include <sys/uio.h>

#include <cstddef>

namespace gort::os {

inline constexpr int kMadvPopulateWrite = 23;  // Linux 5.14 (not in older headers)
// Guard-page markers in the page tables, no VMA of their own (Linux 6.13).
inline constexpr int kMadvGuardInstall = 102;
inline constexpr int kMadvGuardRemove = 103;

// madvise(advice) over n ranges of this process in one system call (process_madvise, which
// Linux >= 6.13 accepts with any advice for the caller itself). For MADV_DONTNEED each
// madvise flushes other cores' TLBs, tens of microseconds on a VM; 110 ranges took 8.4 ms
// one by one and 0.85 ms in one call there. False when the kernel refuses it; the caller
// then goes one range at a time or does without.
//
//   iovec r[2] = {{a, 8192}, {b, 16384}};
//   if (!gort::os::madvise_ranges(r, 2, MADV_DONTNEED)) { /* madvise each */ }
bool madvise_ranges(const iovec* ranges, size_t n, int advice);

// Maps the whole pages inside [p, p+len) now (MADV_POPULATE_WRITE): one system call instead
// of a page fault per page on first touch. Best effort.
void populate_pages(void* p, size_t len);

}  // namespace gort::os
