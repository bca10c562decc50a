// vm: batched madvise and populate (see vm.hpp).
#include "os/vm.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace gort::os {

namespace {

std::atomic<bool> unsupported{false};  // process_madvise refused for good

// This process's pidfd and the pid it names, packed (pid << 32 | fd), so that threads
// read and replace them together without a lock (a lock here could be held by a thread
// that a fork leaves behind, and the child's first call would wait on it for ever). 0: none
// opened yet.
std::atomic<uint64_t> pidfd_of_pid{0};

uint64_t pack(pid_t pid, int fd) { return uint64_t(uint32_t(pid)) << 32 | uint32_t(fd); }

// This process's pidfd, opened on first use and again in a forked child (its copy names
// the parent); -1 when the kernel has no pidfd_open. Only a forked child ever closes the
// inherited one, where no thread that used it exists.
int self_pidfd() {
  const pid_t pid = getpid();
  uint64_t seen = pidfd_of_pid.load(std::memory_order_acquire);
  while (seen == 0 || pid_t(seen >> 32) != pid) {
    int fd = int(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd_of_pid.compare_exchange_strong(seen, pack(pid, fd), std::memory_order_acq_rel)) {
      if (seen != 0 && int(uint32_t(seen)) >= 0) close(int(uint32_t(seen)));  // the parent's
      return fd;
    }
    if (fd >= 0) close(fd);  // another thread stored one first: `seen` now holds it
  }
  return int(uint32_t(seen));
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
