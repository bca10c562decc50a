// gort/strings.hpp — Go's strings.Builder (strings/builder.go).
//
//   gort::strings::builder b;
//   for (int i = 0; i < 3; i++) b.write_string("ab");
//   b.write_byte('!');
//   gort::string s = b.str();                  // "ababab!" — no copy of the bytes
//
// A builder grows one byte buffer by append's rule (growslice, size classes); str() hands
// out the bytes written so far without copying them (later writes go past them, or to a new
// buffer, so the string never changes). As in Go, a builder that has been written to must
// not be copied and then written through the copy: that panics with "strings: illegal use of
// non-zero Builder copied by value". Moving a builder is fine.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "gort/errors.hpp"
#include "gort/string.hpp"

namespace gort::strings {

class builder {
 public:
  builder() noexcept = default;
  // A copy by value, as Go's assignment: writing through it panics.
  builder(const builder& o) noexcept : addr_(o.addr_), rep_(o.rep_), len_(o.len_) { rt::string_rep_retain(rep_); }
  builder(builder&& o) noexcept
      : addr_(o.addr_ == &o ? nullptr : o.addr_), rep_(std::exchange(o.rep_, nullptr)), len_(std::exchange(o.len_, 0)) {
    o.addr_ = nullptr;
  }
  builder& operator=(const builder& o) noexcept {
    builder tmp(o);
    std::swap(addr_, tmp.addr_);
    std::swap(rep_, tmp.rep_);
    std::swap(len_, tmp.len_);
    return *this;
  }
  builder& operator=(builder&& o) noexcept {
    builder tmp(std::move(o));
    addr_ = nullptr;
    std::swap(rep_, tmp.rep_);
    std::swap(len_, tmp.len_);
    return *this;
  }
  ~builder() { rt::string_rep_release(rep_); }

  // Go: Len, Cap.
  int64_t len() const noexcept { return int64_t(len_); }
  int64_t cap() const noexcept { return rep_ == nullptr ? 0 : int64_t(rep_->cap); }
  // Go: String — the bytes so far, without a copy.
  string str() const {
    if (rep_ == nullptr) return string();
    rt::string_rep_retain(rep_);
    return string::adopt(rep_, len_);
  }
  // Go: Reset — forgets the buffer (strings already made keep theirs).
  void reset() noexcept {
    addr_ = nullptr;
    rt::string_rep_release(std::exchange(rep_, nullptr));
    len_ = 0;
  }
  // Go: Grow — room for n more bytes without another allocation (cap 2*cap + n).
  void grow(int64_t n) {
    copy_check();
    if (n < 0) panic("strings.Builder.Grow: negative count");
    if (size_t(cap()) - len_ < size_t(n)) realloc(size_t(2 * cap() + n));
  }
  // Go: WriteString, Write, WriteByte, WriteRune.
  void write_string(std::string_view s) {
    copy_check();
    append(s.data(), s.size());
  }
  void write(std::span<const uint8_t> p) {
    copy_check();
    append(reinterpret_cast<const char*>(p.data()), p.size());
  }
  void write_byte(uint8_t c) {
    copy_check();
    if (rep_ == nullptr || len_ == rep_->cap) realloc(size_t(rt::growslice_cap(cap(), int64_t(len_) + 1, 1)));
    rep_->data()[len_++] = char(c);
  }
  void write_rune(char32_t r) {
    copy_check();
    char buf[4];
    int n = utf8::encode_rune(buf, r);
    append(buf, size_t(n));
  }

 private:
  // Go: copyCheck.
  void copy_check() {
    if (addr_ == nullptr) {
      addr_ = this;
    } else if (addr_ != this) {
      panic("strings: illegal use of non-zero Builder copied by value");
    }
  }
  void append(const char* p, size_t n) {
    if (n == 0) return;
    if (rep_ == nullptr || rep_->cap - len_ < n) realloc(size_t(rt::growslice_cap(cap(), int64_t(len_ + n), 1)));
    std::memcpy(rep_->data() + len_, p, n);
    len_ += n;
  }
  void realloc(size_t cap) {
    rt::string_rep* r = rt::string_rep_new(cap);
    if (len_ != 0) std::memcpy(r->data(), rep_->data(), len_);
    rt::string_rep_release(std::exchange(rep_, r));
  }

  const builder* addr_ = nullptr;  // Go: addr — the builder's own address once used
  rt::string_rep* rep_ = nullptr;
  size_t len_ = 0;
};

}  // namespace gort::strings
