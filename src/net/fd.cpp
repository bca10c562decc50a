// fd: the socket layer under gort::net (Go: internal/poll/fd_unix.go, fd_mutex.go and
// net/fd_unix.go). See fd.hpp.
#include "net/fd.hpp"

#include <sys/uio.h>

#include <errno.h>
#include <unistd.h>

#include "os/sysio.hpp"
#include "sched/stack_release.hpp"
#include "sync/sema.hpp"

namespace gort::net::detail {
namespace {

constexpr size_t kMaxRW = 1 << 30;  // Go: maxRW, the most one read/write syscall asks for

int map_poll(int e) {
  switch (e) {
    case rt::poll_ok: return 0;
    case rt::poll_err_closing: return kErrClosed;
    default: return kErrTimeout;
  }
}

}  // namespace

netfd::netfd(int fd, int fam, int sot, std::string n)
    : sysfd(fd), family(fam), sotype(sot), net(std::move(n)) {}

netfd::~netfd() {
  // No handle is left, so no call can be in progress, except one on a goroutine abandoned
  // by a finished gort::run: do not wait for that one.
  if ((state_.load() & kClosed) == 0) close(false);
}

int netfd::init() {
  int err = 0;
  pd_ = rt::poll_open(sysfd, &err);
  if (pd_ == nullptr) {
    ::close(sysfd);
    sysfd = -1;
    state_.store(kClosed);
    return err;
  }
  return 0;
}

bool netfd::incref() {
  uint64_t v = state_.load();
  for (;;) {
    if (v & kClosed) return false;
    if (state_.compare_exchange_weak(v, v + 1)) return true;
  }
}

void netfd::decref() {
  if (state_.fetch_sub(1) - 1 == kClosed) destroy();
}

// An uncontended lock and unlock are one atomic operation each; a contended lock parks on
// the runtime semaphore (a plain thread sleeps there too) and retries when woken.
void netfd::io_lock::lock() {
  uint32_t v = 0;
  if (state.compare_exchange_strong(v, 1, std::memory_order_acquire)) return;
  for (;;) {
    v = state.load(std::memory_order_relaxed);
    if ((v & 1) == 0) {
      if (state.compare_exchange_weak(v, v | 1, std::memory_order_acquire)) return;
      continue;
    }
    if (state.compare_exchange_weak(v, v + 2, std::memory_order_relaxed)) rt::semacquire(&sema);
  }
}

void netfd::io_lock::unlock() {
  uint32_t v = state.fetch_sub(1, std::memory_order_release) - 1;
  while (v >= 2) {
    if (state.compare_exchange_weak(v, v - 2, std::memory_order_relaxed)) {
      rt::semrelease(&sema);  // the woken waiter competes for the lock again
      return;
    }
  }
}

// Go: fdMutex.rwlock — a reference for the call, then the direction's lock; false (and
// nothing held) once the descriptor is closed.
bool netfd::io_acquire(io_lock& l) {
  if (!incref()) return false;
  l.lock();
  if (state_.load() & kClosed) {
    l.unlock();
    decref();
    return false;
  }
  return true;
}
void netfd::io_release(io_lock& l) {
  l.unlock();
  decref();
}

bool netfd::read_lock() { return io_acquire(rlock_); }
void netfd::read_unlock() { io_release(rlock_); }
bool netfd::write_lock() { return io_acquire(wlock_); }
void netfd::write_unlock() { io_release(wlock_); }

void netfd::destroy() {
  // Close first, then recycle the poll_desc: the kernel drops the epoll registration with
  // the last reference to the socket.
  if (sysfd >= 0) ::close(sysfd);
  if (pd_ != nullptr) rt::poll_close(pd_);
  pd_ = nullptr;
  sysfd = -1;
  if (!unlink_path.empty()) ::unlink(unlink_path.c_str());
  rt::semrelease(&csema_);
}

int netfd::close(bool wait) {
  uint64_t v = state_.load();
  for (;;) {
    if (v & kClosed) return kErrClosed;
    if (state_.compare_exchange_weak(v, (v | kClosed) + 1)) break;
  }
  if (pd_ != nullptr) rt::poll_evict(pd_);
  decref();
  // Wait for the calls still in progress to notice (Go: runtime_Semacquire(&fd.csema)).
  if (wait) rt::semacquire(&csema_);
  return 0;
}

ssize_t netfd::read_once(char* buf, size_t len, bool tcp) {
  rt::touch_user_buffer(buf, len);
  if (!tcp) return os::sys_read(sysfd, buf, len);
  iovec iov[2] = {{buf, len}, {&peek_, 1}};
  ssize_t n = os::sys_readv(sysfd, iov, 2);
  if (n > ssize_t(len)) {
    has_peek_ = true;
    return ssize_t(len);
  }
  if (n > 0) drained_ = true;  // it took all there was, the extra byte found nothing
  return n;
}

io_res netfd::read(char* buf, size_t len) {
  if (len == 0 && sotype == SOCK_STREAM) return {0, 0};
  if (!read_lock()) return {0, kErrClosed};
  struct unlock {
    netfd* f;
    ~unlock() { f->read_unlock(); }
  } u{this};
  bool tcp = sotype == SOCK_STREAM && (family == AF_INET || family == AF_INET6);
  bool skip = drained_ && tcp && pending_err_ == 0;
  drained_ = false;
  // Closed and deadline checks come first, as in Go, even with a byte read ahead.
  if (int e = map_poll(skip ? rt::poll_wait_drained(pd_, 'r') : rt::poll_reset(pd_, 'r')))
    return {0, e};
  if (len > kMaxRW) len = kMaxRW;
  if (has_peek_) {
    // The byte read ahead, and whatever else is there now, without waiting.
    buf[0] = peek_;
    has_peek_ = false;
    if (len == 1) return {1, 0};
    for (;;) {
      ssize_t n = read_once(buf + 1, len - 1, tcp);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) drained_ = true;
      else if (n < 0) pending_err_ = errno;  // reported by the next read
      return {1 + size_t(n > 0 ? n : 0), 0};
    }
  }
  if (pending_err_ != 0) {
    int e = pending_err_;
    pending_err_ = 0;
    return {0, e};
  }
  for (;;) {
    ssize_t n = read_once(buf, len, tcp);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (int e = map_poll(rt::poll_wait(pd_, 'r'))) return {0, e};
        continue;
      }
      return {0, errno};
    }
    if (n == 0 && sotype == SOCK_STREAM) return {0, kErrEOF};
    return {size_t(n), 0};
  }
}

io_res netfd::write(const char* buf, size_t len) {
  if (!write_lock()) return {0, kErrClosed};
  struct unlock {
    netfd* f;
    ~unlock() { f->write_unlock(); }
  } u{this};
  if (int e = map_poll(rt::poll_reset(pd_, 'w'))) return {0, e};
  size_t done = 0;
  for (;;) {
    size_t chunk = len - done;
    if (chunk > kMaxRW) chunk = kMaxRW;
    rt::touch_user_buffer(buf + done, chunk);
    ssize_t n = os::sys_send(sysfd, buf + done, chunk, MSG_NOSIGNAL);
    if (n > 0) done += size_t(n);
    if (done == len && n >= 0) return {done, 0};
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (int e = map_poll(rt::poll_wait(pd_, 'w'))) return {done, e};
        continue;
      }
      return {done, errno};
    }
    if (n == 0) return {done, EIO};
  }
}

// Go: the loop of FD.ReadFrom / FD.WriteTo — one datagram call, retried on EINTR, parked
// on the poller in `mode` ('r' or 'w') while it would block.
template <class Call>
io_res netfd::datagram_loop(char mode, Call call) {
  if (int e = map_poll(rt::poll_reset(pd_, mode))) return {0, e};
  for (;;) {
    ssize_t n = call();
    if (n >= 0) return {size_t(n), 0};
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {0, errno};
    if (int e = map_poll(rt::poll_wait(pd_, mode))) return {0, e};
  }
}

io_res netfd::read_from(char* buf, size_t len, sockaddr_storage* from, socklen_t* fromlen) {
  if (!read_lock()) return {0, kErrClosed};
  struct unlock {
    netfd* f;
    ~unlock() { f->read_unlock(); }
  } u{this};
  return datagram_loop('r', [&] {
    *fromlen = sizeof *from;
    rt::touch_user_buffer(buf, len);
    return ::recvfrom(sysfd, buf, len, 0, reinterpret_cast<sockaddr*>(from), fromlen);
  });
}

io_res netfd::write_to(const char* buf, size_t len, const sockaddr* to, socklen_t tolen) {
  if (!write_lock()) return {0, kErrClosed};
  struct unlock {
    netfd* f;
    ~unlock() { f->write_unlock(); }
  } u{this};
  return datagram_loop('w', [&] {
    rt::touch_user_buffer(buf, len);
    return ::sendto(sysfd, buf, len, MSG_NOSIGNAL, to, tolen);
  });
}

int netfd::accept(sockaddr_storage* from, socklen_t* fromlen, int* code) {
  if (!read_lock()) {
    *code = kErrClosed;
    return -1;
  }
  struct unlock {
    netfd* f;
    ~unlock() { f->read_unlock(); }
  } u{this};
  if (int e = map_poll(rt::poll_reset(pd_, 'r'))) {
    *code = e;
    return -1;
  }
  for (;;) {
    *fromlen = sizeof *from;
    int s = ::accept4(sysfd, reinterpret_cast<sockaddr*>(from), fromlen,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s >= 0) {
      *code = 0;
      return s;
    }
    switch (errno) {
      case EINTR:
      case ECONNABORTED:  // the peer went before we took it: take the next one (as Go)
        continue;
      case EAGAIN:
        if (int e = map_poll(rt::poll_wait(pd_, 'r'))) {
          *code = e;
          return -1;
        }
        continue;
      default:
        *code = errno;
        return -1;
    }
  }
}

int netfd::connect(const sockaddr* sa, socklen_t len, int64_t deadline) {
  if (!incref()) return kErrClosed;
  struct unref {
    netfd* f;
    ~unref() { f->decref(); }
  } u{this};
  if (::connect(sysfd, sa, len) == 0) return 0;
  switch (errno) {
    case EINPROGRESS:
    case EALREADY:
    case EINTR:
      break;
    case EISCONN:
      return 0;
    default:
      return errno;
  }
  if (deadline != 0) rt::poll_set_deadline(pd_, deadline, 'w');
  struct clear {
    netfd* f;
    int64_t d;
    ~clear() {
      if (d != 0) rt::poll_set_deadline(f->pd_, 0, 'w');
    }
  } c{this, deadline};
  for (;;) {
    if (int e = map_poll(rt::poll_wait(pd_, 'w'))) return e;
    int err = 0;
    socklen_t l = sizeof err;
    if (getsockopt(sysfd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) return errno;
    switch (err) {
      case EINPROGRESS:
      case EALREADY:
      case EINTR:
        continue;
      case EISCONN:
        return 0;
      case 0: {
        // Readiness may be stale (an unconnected socket reports OUT|HUP when registered):
        // connected only if there is a peer (Go checks getpeername too).
        sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(sysfd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) return 0;
        continue;
      }
      default:
        return err;
    }
  }
}

int netfd::shutdown(int how) {
  if (!incref()) return kErrClosed;
  int r = ::shutdown(sysfd, how) == 0 ? 0 : errno;
  decref();
  return r;
}

int netfd::set_deadline(int64_t d, int mode) {
  if (!incref()) return kErrClosed;
  rt::poll_set_deadline(pd_, d, mode);
  decref();
  return 0;
}

int netfd::setsockopt_int(int level, int name, int value) {
  if (!incref()) return kErrClosed;
  int r = ::setsockopt(sysfd, level, name, &value, sizeof value) == 0 ? 0 : errno;
  decref();
  return r;
}

}  // namespace gort::net::detail
