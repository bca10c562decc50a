// file: gort::os::file, regular files through the blocking-call bracket (Go: os/file.go,
// file_unix.go). Regular files are always "ready" to epoll, so they are not registered with
// the poller; each read/write is a plain syscall inside gort::syscall, so a slow disk hands
// the processor to another thread instead of stalling it. Close is guarded by a reference
// count as for sockets: the descriptor is closed once no call uses it.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "gort/os.hpp"
#include "gort/runtime.hpp"
#include "sched/stack_release.hpp"

namespace gort::os {

struct file::impl {
  int fd;
  std::string name;
  std::atomic<uint64_t> state{0};  // bit 63 closed, the rest: calls in progress
  static constexpr uint64_t kClosed = uint64_t(1) << 63;

  impl(int f, std::string n) : fd(f), name(std::move(n)) {}
  ~impl() {
    if ((state.load() & kClosed) == 0 && fd >= 0) ::close(fd);
  }
  bool incref() {
    uint64_t v = state.load();
    for (;;) {
      if (v & kClosed) return false;
      if (state.compare_exchange_weak(v, v + 1)) return true;
    }
  }
  void decref() {
    if (state.fetch_sub(1) - 1 == kClosed) {
      gort::syscall([&] { ::close(fd); });
      fd = -1;
    }
  }
};

namespace {

error path_err(const char* op, const std::string& name, error e) {
  return error(std::make_shared<const path_error>(op, name, std::move(e)));
}
error invalid_file() { return errno_err(EINVAL); }

}  // namespace

std::pair<file, error> open_file(const std::string& name, int flag, unsigned perm) {
  int fd = gort::syscall([&] {
    int r;
    do {
      r = ::open(name.c_str(), flag | O_CLOEXEC, perm);
    } while (r < 0 && errno == EINTR);
    return r;
  });
  if (fd < 0) return {file(), path_err("open", name, errno_err(errno))};
  return {file(std::make_shared<file::impl>(fd, name)), nullptr};
}

std::pair<size_t, error> file::read(std::span<char> buf) const {
  if (!impl_) return {0, invalid_file()};
  if (!impl_->incref()) return {0, path_err("read", impl_->name, err_closed)};
  ssize_t n = gort::syscall([&] {
    ssize_t r;
    do {
      rt::touch_user_buffer(buf.data(), buf.size());
      r = ::read(impl_->fd, buf.data(), buf.size());
    } while (r < 0 && errno == EINTR);
    return r;
  });
  int e = errno;
  impl_->decref();
  if (n < 0) return {0, path_err("read", impl_->name, errno_err(e))};
  if (n == 0 && !buf.empty()) return {0, io::eof};
  return {size_t(n), nullptr};
}

std::pair<size_t, error> file::read_at(std::span<char> buf, int64_t off) const {
  if (!impl_) return {0, invalid_file()};
  if (!impl_->incref()) return {0, path_err("read", impl_->name, err_closed)};
  size_t done = 0;
  error err;
  gort::syscall([&] {
    while (done < buf.size()) {
      rt::touch_user_buffer(buf.data() + done, buf.size() - done);
      ssize_t r = ::pread(impl_->fd, buf.data() + done, buf.size() - done, off + int64_t(done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        err = path_err("read", impl_->name, errno_err(errno));
        return;
      }
      if (r == 0) {
        err = io::eof;
        return;
      }
      done += size_t(r);
    }
  });
  impl_->decref();
  return {done, err};
}

std::pair<size_t, error> file::write(std::string_view data) const {
  if (!impl_) return {0, invalid_file()};
  if (!impl_->incref()) return {0, path_err("write", impl_->name, err_closed)};
  size_t done = 0;
  error err;
  gort::syscall([&] {
    while (done < data.size()) {
      rt::touch_user_buffer(data.data() + done, data.size() - done);
      ssize_t r = ::write(impl_->fd, data.data() + done, data.size() - done);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        err = path_err("write", impl_->name, errno_err(errno));
        return;
      }
      if (r == 0) {
        err = io::err_short_write;
        return;
      }
      done += size_t(r);
    }
  });
  impl_->decref();
  return {done, err};
}

std::pair<int64_t, error> file::seek(int64_t offset, int whence) const {
  if (!impl_) return {0, invalid_file()};
  if (!impl_->incref()) return {0, path_err("seek", impl_->name, err_closed)};
  off_t r = ::lseek(impl_->fd, offset, whence);
  int e = errno;
  impl_->decref();
  if (r < 0) return {0, path_err("seek", impl_->name, errno_err(e))};
  return {int64_t(r), nullptr};
}

error file::sync() const {
  if (!impl_) return invalid_file();
  if (!impl_->incref()) return path_err("sync", impl_->name, err_closed);
  int r = gort::blocking([&] { return ::fsync(impl_->fd); });
  int e = errno;
  impl_->decref();
  return r < 0 ? path_err("sync", impl_->name, errno_err(e)) : nullptr;
}

error file::close() const {
  if (!impl_) return invalid_file();
  uint64_t v = impl_->state.load();
  for (;;) {
    if (v & impl::kClosed) return path_err("close", impl_->name, err_closed);
    if (impl_->state.compare_exchange_weak(v, (v | impl::kClosed) + 1)) break;
  }
  impl_->decref();
  return nullptr;
}

const std::string& file::name() const {
  static const std::string empty;
  return impl_ ? impl_->name : empty;
}

int file::fd() const {
  if (!impl_ || (impl_->state.load() & impl::kClosed)) return -1;
  return impl_->fd;
}

error remove(const std::string& name) {
  int r = gort::syscall([&] { return ::unlink(name.c_str()); });
  if (r == 0) return nullptr;
  int e = errno;
  if (e == EISDIR) {
    r = gort::syscall([&] { return ::rmdir(name.c_str()); });
    if (r == 0) return nullptr;
    e = errno;
  }
  return path_err("remove", name, errno_err(e));
}

std::pair<std::string, error> read_file(const std::string& name) {
  auto [f, err] = open(name);
  if (err) return {std::string(), err};
  std::string out;
  char buf[16384];
  for (;;) {
    auto [n, rerr] = f.read(buf);
    out.append(buf, n);
    if (rerr == io::eof) break;
    if (rerr) {
      f.close();
      return {out, rerr};
    }
  }
  f.close();
  return {out, nullptr};
}

error write_file(const std::string& name, std::string_view data, unsigned perm) {
  auto [f, err] = open_file(name, o_wronly | o_create | o_trunc, perm);
  if (err) return err;
  auto [n, werr] = f.write(data);
  (void)n;
  error cerr = f.close();
  return werr ? werr : cerr;
}

}  // namespace gort::os
