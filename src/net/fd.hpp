// fd: a non-blocking socket registered with the poller (Go: internal/poll.FD plus
// net.netFD). Every operation holds a reference (Go: fdMutex incref/decref); close marks
// the descriptor closing, wakes the waiters, and the last reference closes the socket, so
// the fd number is never reused while a call still uses it. Reads are serialised among
// themselves, and writes among themselves (Go: readLock/writeLock), so each poll_desc slot
// has at most one waiter.
//
// Results are (n, code): code 0 ok, > 0 an errno, or one of the negative codes below.
#pragma once
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "gort/net.hpp"
#include "net/poll_desc.hpp"

namespace gort::net::detail {

inline constexpr int kErrClosed = -1;   // err_closed
inline constexpr int kErrTimeout = -2;  // os::err_deadline_exceeded
inline constexpr int kErrEOF = -3;      // io::eof

struct io_res {
  size_t n;
  int code;
};

struct netfd {
  netfd(int fd, int family, int sotype, std::string net);
  ~netfd();
  netfd(const netfd&) = delete;
  netfd& operator=(const netfd&) = delete;

  // Registers with the poller; an errno on failure (the socket is then closed).
  int init();

  // Go: fdMutex incref/decref. incref fails (false) once closing.
  bool incref();
  void decref();
  bool read_lock();
  void read_unlock();
  bool write_lock();
  void write_unlock();

  io_res read(char* buf, size_t len);
  io_res write(const char* buf, size_t len);
  io_res read_from(char* buf, size_t len, sockaddr_storage* from, socklen_t* fromlen);
  io_res write_to(const char* buf, size_t len, const sockaddr* to, socklen_t tolen);
  // Accept: the new descriptor (>= 0) or -code.
  int accept(sockaddr_storage* from, socklen_t* fromlen, int* code);
  // Non-blocking connect, waiting for completion (deadline: nanotime, 0 none).
  int connect(const sockaddr* sa, socklen_t len, int64_t deadline);
  // wait: return only once the socket is really closed (every call in progress returned).
  int close(bool wait = true);
  int shutdown(int how);
  int set_deadline(int64_t d, int mode);
  int setsockopt_int(int level, int name, int value);

  int sysfd;
  int family;
  int sotype;
  std::string net;
  addr laddr, raddr;
  std::string unlink_path;  // a unix listener removes its socket file on close

 private:
  void destroy();
  static constexpr uint64_t kClosed = uint64_t(1) << 63;
  rt::poll_desc* pd_ = nullptr;
  // TCP read-ahead (under the read lock). Each read asks the kernel for one byte more
  // than the caller's buffer holds: when that byte does not come, the read emptied the
  // receive queue (drained_), and the next read waits for the poller's next edge instead
  // of first making a read() that fails with EAGAIN; when it comes, it waits in peek_ for
  // the next read. An error met while reading ahead is kept for the next read.
  bool drained_ = false;
  bool has_peek_ = false;
  char peek_ = 0;
  int pending_err_ = 0;
  // One read(v) of up to len bytes, read-ahead byte included for TCP; sets drained_ and
  // the peek. Returns the bytes for the caller, or -1 with errno set.
  ssize_t read_once(char* buf, size_t len, bool tcp);
  std::atomic<uint64_t> state_{0};
  // Read and write locks: bit 0 held, the rest counts waiters parked on the sema.
  struct io_lock {
    std::atomic<uint32_t> state{0};
    std::atomic<uint32_t> sema{0};
    void lock();
    void unlock();
  };
  template <class Call>
  io_res datagram_loop(char mode, Call call);
  bool io_acquire(io_lock& l);
  void io_release(io_lock& l);
  io_lock rlock_;
  io_lock wlock_;
  std::atomic<uint32_t> csema_{0};  // released when the socket is really closed
};

}  // namespace gort::net::detail
