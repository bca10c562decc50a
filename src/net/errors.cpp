// errors: the error values of the io, os and net layers (Go: io.EOF, syscall.Errno,
// os.ErrDeadlineExceeded, net.ErrClosed, net.OpError).
#include <errno.h>
#include <string.h>

#include <cctype>

#include "gort/io.hpp"
#include "gort/net.hpp"
#include "gort/os.hpp"

namespace gort {
namespace io {
const error eof = errors::make("EOF");
const error err_unexpected_eof = errors::make("unexpected EOF");
const error err_short_write = errors::make("short write");
}  // namespace io

namespace os {
namespace {

struct deadline_error final : error_value {
  std::string message() const override { return "i/o timeout"; }
  bool timeout() const override { return true; }
  bool temporary() const override { return true; }
};

// os.ErrNotExist & co.: errors::is matches the errnos Go maps to them.
struct class_error final : error_value {
  std::string text;
  int a, b;
  class_error(std::string t, int x, int y) : text(std::move(t)), a(x), b(y) {}
  std::string message() const override { return text; }
};

}  // namespace

const error err_deadline_exceeded(std::make_shared<const deadline_error>());
const error err_closed = errors::make("file already closed");
const error err_not_exist(std::make_shared<const class_error>("file does not exist", ENOENT, ENOENT));
const error err_exist(std::make_shared<const class_error>("file already exists", EEXIST, ENOTEMPTY));
const error err_permission(std::make_shared<const class_error>("permission denied", EACCES, EPERM));

std::string errno_error::message() const {
  char buf[128];
  const char* s = strerrordesc_np(code_);
  if (s == nullptr) {
    snprintf(buf, sizeof buf, "errno %d", code_);
    return buf;
  }
  std::string m(s);
  // Go's table is glibc's text with a lower-case first letter.
  if (!m.empty() && std::isupper(static_cast<unsigned char>(m[0])) &&
      !(m.size() > 1 && std::isupper(static_cast<unsigned char>(m[1]))))
    m[0] = char(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

bool errno_error::timeout() const {
  return code_ == EAGAIN || code_ == ETIMEDOUT;
}

bool errno_error::temporary() const {
  switch (code_) {
    case EINTR: case EMFILE: case ENFILE: case ECONNRESET: case ECONNABORTED:
    case EAGAIN: case ETIMEDOUT:
      return true;
    default:
      return false;
  }
}

bool errno_error::is(const error& target) const {
  if (auto* e = dynamic_cast<const errno_error*>(target.get())) return e->code_ == code_;
  if (auto* c = dynamic_cast<const class_error*>(target.get())) return code_ == c->a || code_ == c->b;
  return false;
}

error errno_err(int code) {
  if (code == 0) return nullptr;
  return error(std::make_shared<const errno_error>(code));
}

error new_syscall_error(std::string syscall, int code) {
  if (code == 0) return nullptr;
  return error(std::make_shared<const syscall_error>(std::move(syscall), errno_err(code)));
}

}  // namespace os

namespace net {

const error err_closed = errors::make("use of closed network connection");

std::string op_error::message() const {
  std::string s;
  s.reserve(96);
  s.append(op_);
  if (!net_.empty()) {
    s.push_back(' ');
    s.append(net_);
  }
  if (source_) {
    s.push_back(' ');
    s.append(source_.string());
  }
  if (addr_) {
    if (source_) {
      s.push_back('-');
      s.push_back('>');
    } else {
      s.push_back(' ');
    }
    s.append(addr_.string());
  }
  s.push_back(':');
  s.push_back(' ');
  s.append(err_.message());
  return s;
}

}  // namespace net
}  // namespace gort
