// vm: batched madvise and populate (see vm.hpp).
#include "os/vm.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>

namespace gort::os {

namespace {

std::atomic<bool> unsupported{false};  // process_madvise refused for good

// This process's pidfd, opened on first use and again in a forked child (a child's copy
// refers to the parent); -1 when the kernel has no pidfd_open. The lock covers the open
// only: a pidfd returned here is the current process's, and only a forked child (where the
// threads that got it do not exist) ever closes it.
int self_pidfd() {
  static std::mutex mu;
  static pid_t pid = 0;
  static int pidfd = -1;
  std::lock_guard<std::mutex> lk(mu);
  if (pid != getpid()) {
    if (pidfd >= 0) close(pidfd);
    pid = getpid();
    pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  }
  return pidfd;
}

}  // namespace

bool madvise_ranges(const iovec* ranges, size_t n, int advice) {
  // No lock across the system call: populating a slab's pages takes half a millisecond,
  // and Ps starting goroutines on fresh stacks each populate their own (parked).
  if (unsupported.load(std::memory_order_relaxed)) return false;
  int pidfd = self_pidfd();
  long r = -1;
  for (size_t done = 0; pidfd >= 0 && done < n;) {
    size_t batch = n - done < 1024 ? n - done : 1024;  // UIO_MAXIOV
    size_t bytes = 0;
    for (size_t i = done; i < done + batch; i++) bytes += ranges[i].iov_len;
    r = syscall(SYS_process_madvise, pidfd, ranges + done, batch, advice, 0);
    if (r != long(bytes)) break;
    done += batch;
    if (done == n) return true;
  }
  // Refused for good (no such call, or a seccomp filter); not for one advice it lacks.
  if (pidfd < 0 || (r < 0 && (errno == ENOSYS || errno == EPERM || errno == EBADF)))
    unsupported.store(true, std::memory_order_relaxed);
  return false;
}

void populate_pages(void* p, size_t len) {
  static const uintptr_t ps = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t lo = (reinterpret_cast<uintptr_t>(p) + ps - 1) & ~(ps - 1);
  uintptr_t hi = (reinterpret_cast<uintptr_t>(p) + len) & ~(ps - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, kMadvPopulateWrite);
}

}  // namespace gort::os
