// sysio: the socket calls of the network hot path (read, readv, send), made as raw system
// calls, as Go makes them (syscall.Syscall), rather than through libc's wrappers, which are
// pthread cancellation points: each call there enables and disables asynchronous
// cancellation around the system call (about 2 % of the echo workload's CPU). gort never
// cancels its threads, so the bracket is pure cost.
//
// Same contract as the libc functions: the byte count, or -1 with errno set. Under ASan and
// TSan the libc functions are called instead: their interceptors check the buffers and
// model the happens-before that data passed through a socket carries.
#pragma once
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace gort::os {

#if defined(__x86_64__) && !defined(GORT_ASAN) && !defined(GORT_TSAN)
namespace detail {
// The kernel's result: >= 0, or -errno.
inline long syscall6(long nr, long a1, long a2, long a3, long a4 = 0, long a5 = 0, long a6 = 0) {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
inline ssize_t errno_result(long r) {
  if (__builtin_expect(r < 0 && r > -4096, 0)) {
    errno = int(-r);
    return -1;
  }
  return ssize_t(r);
}
}  // namespace detail

inline ssize_t sys_read(int fd, void* buf, size_t len) {
  return detail::errno_result(detail::syscall6(SYS_read, fd, long(buf), long(len)));
}
inline ssize_t sys_readv(int fd, const iovec* iov, int n) {
  return detail::errno_result(detail::syscall6(SYS_readv, fd, long(iov), n));
}
inline ssize_t sys_send(int fd, const void* buf, size_t len, int flags) {
  return detail::errno_result(detail::syscall6(SYS_sendto, fd, long(buf), long(len), flags));
}
#else
inline ssize_t sys_read(int fd, void* buf, size_t len) { return ::read(fd, buf, len); }
inline ssize_t sys_readv(int fd, const iovec* iov, int n) { return ::readv(fd, iov, n); }
inline ssize_t sys_send(int fd, const void* buf, size_t len, int flags) {
  return ::send(fd, buf, len, flags);
}
#endif

}  // namespace gort::os
