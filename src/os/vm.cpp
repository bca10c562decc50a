// vm: batched madvise and populate (see vm.hpp).
#include "os/vm.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>

namespace gort::os {

bool madvise_ranges(const iovec* ranges, size_t n, int advice) {
  static std::mutex mu;
  static pid_t pid = 0;  // the process pidfd refers to: a forked child opens its own
  static int pidfd = -1;
  static bool unsupported = false;
  std::lock_guard<std::mutex> lk(mu);
  if (unsupported) return false;
  if (pid != getpid()) {
    if (pidfd >= 0) close(pidfd);
    pid = getpid();
    pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  }
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
  unsupported = pidfd < 0 || (r < 0 && (errno == ENOSYS || errno == EPERM || errno == EBADF));
  return false;
}

void populate_pages(void* p, size_t len) {
  static const uintptr_t ps = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t lo = (reinterpret_cast<uintptr_t>(p) + ps - 1) & ~(ps - 1);
  uintptr_t hi = (reinterpret_cast<uintptr_t>(p) + len) & ~(ps - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, kMadvPopulateWrite);
}

}  // namespace gort::os
