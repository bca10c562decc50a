// gort/bytes.hpp — Go's bytes.Buffer (bytes/buffer.go): a byte buffer written at the end and
// read from the front.
//
//   gort::bytes::buffer b;
//   b.write_string("hello, ");
//   b.write_byte('w');
//   gort::string s = b.str();                  // "hello, w" — a copy (Go: String)
//   uint8_t p[5];
//   int64_t n = b.read(p);                      // 5 bytes: "hello"
//
// Growth follows Go 1.19: a first small write gets a 64-byte buffer; later growth slides the
// unread bytes to the front when that frees enough room, else allocates 2*cap + n.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "gort/errors.hpp"
#include "gort/slice.hpp"
#include "gort/string.hpp"

namespace gort::bytes {

class buffer {
 public:
  static constexpr int64_t small_buffer_size = 64;  // Go: smallBufferSize

  buffer() = default;
  // Go: NewBuffer, NewBufferString — reads start at the beginning of the contents.
  explicit buffer(slice<uint8_t> contents) : buf_(std::move(contents)) {}
  explicit buffer(std::string_view s) : buf_(to_bytes(s)) {}

  // Go: Len (unread bytes), Cap.
  int64_t len() const noexcept { return buf_.len() - off_; }
  int64_t cap() const noexcept { return buf_.cap(); }
  // Go: Bytes — the unread bytes, sharing the buffer (valid until the next write).
  slice<uint8_t> bytes() const { return buf_.from(off_); }
  // Go: String — a copy of the unread bytes.
  string str() const { return string(reinterpret_cast<const char*>(buf_.data()) + off_, size_t(len())); }
  std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(buf_.data()) + off_, size_t(len())};
  }

  // Go: Write, WriteString, WriteByte, WriteRune.
  void write(std::span<const uint8_t> p) { put(reinterpret_cast<const char*>(p.data()), p.size()); }
  void write_string(std::string_view s) { put(s.data(), s.size()); }
  void write_byte(uint8_t c) {
    int64_t m = grow_internal(1);
    buf_.data()[m] = c;
  }
  void write_rune(char32_t r) {
    char tmp[4];
    int n = utf8::encode_rune(tmp, r);
    put(tmp, size_t(n));
  }

  // Go: Read — up to p.size() unread bytes into p; 0 with eof = true once drained.
  struct read_result {
    int64_t n;
    bool eof;
  };
  read_result read(std::span<uint8_t> p) {
    if (len() == 0) {
      reset();
      return {0, !p.empty()};
    }
    int64_t n = std::min<int64_t>(int64_t(p.size()), len());
    std::memcpy(p.data(), buf_.data() + off_, size_t(n));
    off_ += n;
    return {n, false};
  }
  // Go: ReadByte (nullopt: io.EOF).
  std::optional<uint8_t> read_byte() {
    if (len() == 0) {
      reset();
      return std::nullopt;
    }
    return buf_.data()[off_++];
  }
  // Go: Next — the next n unread bytes (fewer if there are fewer), consumed.
  slice<uint8_t> next(int64_t n) {
    int64_t m = len();
    if (n > m) n = m;
    auto out = buf_(off_, off_ + n);
    off_ += n;
    return out;
  }
  // Go: Reset, Truncate, Grow.
  void reset() {
    buf_ = buf_.to(0);
    off_ = 0;
  }
  void truncate(int64_t n) {
    if (n == 0) {
      reset();
      return;
    }
    if (n < 0 || n > len()) panic("bytes.Buffer: truncation out of range");
    buf_ = buf_.to(off_ + n);
  }
  void grow(int64_t n) {
    if (n < 0) panic("bytes.Buffer.Grow: negative count");
    int64_t m = grow_internal(n);
    buf_ = buf_.to(m);
  }

 private:
  void put(const char* p, size_t n) {
    int64_t m = grow_internal(int64_t(n));
    if (n != 0) std::memcpy(buf_.data() + m, p, n);
  }
  // Go: grow — makes room for n more bytes; returns where they go (buf_ is resliced to include them).
  int64_t grow_internal(int64_t n) {
    int64_t m = len();
    if (m == 0 && off_ != 0) reset();
    int64_t l = buf_.len();
    if (n <= buf_.cap() - l) {  // tryGrowByReslice
      buf_ = buf_.to(l + n);
      return l;
    }
    if (buf_.is_nil() && n <= small_buffer_size) {
      buf_ = make_slice<uint8_t>(n, small_buffer_size);
      return 0;
    }
    int64_t c = buf_.cap();
    if (n <= c / 2 - m) {
      // Slide the unread bytes down instead of allocating.
      gort::copy(buf_, buf_.from(off_));
    } else {
      auto nb = make_slice<uint8_t>(2 * c + n);
      gort::copy(nb, buf_.from(off_));
      buf_ = nb;
    }
    off_ = 0;
    buf_ = buf_.to(m + n);
    return m;
  }

  slice<uint8_t> buf_;
  int64_t off_ = 0;  // read at buf_[off_], write at buf_[len]
};

}  // namespace gort::bytes
