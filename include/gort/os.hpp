// gort/os.hpp — regular files and the OS error values (Go: package os, syscall.Errno).
//
//   auto [f, err] = gort::os::create("/tmp/out.txt");
//   if (err) return;
//   f.write("hello\n");
//   f.close();
//   auto [g, err2] = gort::os::open("/tmp/out.txt");
//   char buf[64];
//   auto [n, rerr] = g.read(buf);                  // n == 6; a later read: (0, io::eof)
//
// Regular files cannot be polled, so every file call goes through the blocking-call bracket
// (gort::syscall): the goroutine's processor is handed to another thread if the call lasts.
//
// Errors: a failed call returns a path_error ("open /nonexistent: no such file or
// directory") wrapping an errno_error; errors::is(err, os::errno_err(ENOENT)) tests the
// errno, and errors::is(err, os::err_not_exist) the portable class.
#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "gort/error.hpp"
#include "gort/io.hpp"

namespace gort::os {

// Go: syscall.Errno — an errno with Go's message (strerror in lower case: "connection
// refused"). Two errno_errors with the same code count as the same error for errors::is.
class errno_error final : public error_value {
 public:
  explicit errno_error(int code) : code_(code) {}
  int code() const { return code_; }
  std::string message() const override;
  bool timeout() const override;    // EAGAIN, EWOULDBLOCK, ETIMEDOUT
  bool temporary() const override;  // EINTR, EMFILE, ENFILE, ECONNRESET, ECONNABORTED, ...
  bool is(const error& target) const override;

 private:
  int code_;
};
// The error value for an errno (0 gives nil).
error errno_err(int code);

// Go: os.SyscallError — "<syscall>: <errno message>", e.g. "connect: connection refused".
class syscall_error final : public error_value {
 public:
  syscall_error(std::string syscall, error err) : syscall_(std::move(syscall)), err_(std::move(err)) {}
  const std::string& syscall() const { return syscall_; }
  std::string message() const override { return syscall_ + ": " + err_.message(); }
  bool timeout() const override { return err_.timeout(); }
  bool temporary() const override { return err_.temporary(); }
  error unwrap() const override { return err_; }

 private:
  std::string syscall_;
  error err_;
};
// Go: os.NewSyscallError (nil for errno 0).
error new_syscall_error(std::string syscall, int code);

// Go: os.PathError — "<op> <path>: <err>".
class path_error final : public error_value {
 public:
  path_error(std::string op, std::string path, error err)
      : op_(std::move(op)), path_(std::move(path)), err_(std::move(err)) {}
  const std::string& op() const { return op_; }
  const std::string& path() const { return path_; }
  std::string message() const override { return op_ + " " + path_ + ": " + err_.message(); }
  bool timeout() const override { return err_.timeout(); }
  error unwrap() const override { return err_; }

 private:
  std::string op_, path_;
  error err_;
};

// Go: os.ErrDeadlineExceeded — "i/o timeout", timeout() true. What a passed read/write
// deadline returns (wrapped in the operation's error).
extern const error err_deadline_exceeded;
// Go: os.ErrClosed — "file already closed".
extern const error err_closed;
// Go: os.ErrNotExist / os.ErrExist / os.ErrPermission (errors::is matches the errnos).
extern const error err_not_exist;
extern const error err_exist;
extern const error err_permission;

// Go: os.O_* flags.
inline constexpr int o_rdonly = 00;
inline constexpr int o_wronly = 01;
inline constexpr int o_rdwr = 02;
inline constexpr int o_create = 0100;
inline constexpr int o_excl = 0200;
inline constexpr int o_trunc = 01000;
inline constexpr int o_append = 02000;

// Go: *os.File for regular files. A cheap copyable handle; the descriptor is closed by
// close() or when the last handle goes. Every call runs in the blocking-call bracket.
class file {
 public:
  file() = default;  // a nil file: every call fails with err_invalid
  // Go: f.Read — reads up to buf.size() bytes; (0, io::eof) at end of file.
  std::pair<size_t, error> read(std::span<char> buf) const;
  // Go: f.ReadAt.
  std::pair<size_t, error> read_at(std::span<char> buf, int64_t off) const;
  // Go: f.Write — writes all of data or returns the error that stopped it.
  std::pair<size_t, error> write(std::string_view data) const;
  // Go: f.Seek(offset, whence) — whence 0 start, 1 current, 2 end.
  std::pair<int64_t, error> seek(int64_t offset, int whence) const;
  // Go: f.Sync.
  error sync() const;
  // Go: f.Close — a second close returns "close <name>: file already closed".
  error close() const;
  const std::string& name() const;
  int fd() const;  // the descriptor, -1 once closed
  explicit operator bool() const { return impl_ != nullptr; }

  struct impl;

 private:
  explicit file(std::shared_ptr<impl> i) : impl_(std::move(i)) {}
  friend std::pair<file, error> open_file(const std::string&, int, unsigned);
  std::shared_ptr<impl> impl_;
};

// Go: os.OpenFile(name, flag, perm).
std::pair<file, error> open_file(const std::string& name, int flag, unsigned perm);
// Go: os.Open — read only.
inline std::pair<file, error> open(const std::string& name) { return open_file(name, o_rdonly, 0); }
// Go: os.Create — read/write, created or truncated, mode 0666 before umask.
inline std::pair<file, error> create(const std::string& name) {
  return open_file(name, o_rdwr | o_create | o_trunc, 0666);
}
// Go: os.Remove (files and empty directories).
error remove(const std::string& name);
// Go: os.ReadFile / os.WriteFile.
std::pair<std::string, error> read_file(const std::string& name);
error write_file(const std::string& name, std::string_view data, unsigned perm);

}  // namespace gort::os
