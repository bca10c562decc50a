// gort/string.hpp — Go's string: immutable bytes (Go: runtime/string.go; unicode/utf8 for
// the rune range).
//
//   gort::string s = "héllo, world";            // copies the bytes once
//   gort::string t = s(0, 6);                   // t := s[0:6]   (shares s's bytes)
//   std::string_view v = s;                     // no copy
//   for (auto [i, r] : s.runes()) { ... }       // for i, r := range s  (U+FFFD for bad bytes)
//   auto b = gort::to_bytes(s);                 // []byte(s)  (a copy)
//   gort::string u = gort::string(b);           // string(b)  (a copy)
//   gort::string w = s + "!";                   // s + "!"
//
// Representation (24 bytes): strings of up to 23 bytes are stored inline in the value (their
// copies are plain copies, and comparing two of them is three word compares); longer ones
// point into a shared, reference-counted byte array (or at static bytes for literals made
// with gort::string::lit). Substrings of a long string share its bytes without copying, as
// in Go; a substring short enough to be inline is copied into the value instead (no program
// can tell, the bytes being immutable). Every byte sequence is allowed (not only UTF-8).
// Invariant (equality and the hash rely on it): a string is inline exactly when its length
// is at most 23; an inline value's unused bytes are zero.
//
// s[i] is bounds-checked with Go's panic text ("runtime error: index out of range [5] with
// length 3"), as is s(i, j) ("slice bounds out of range [:9] with length 4").
#pragma once
#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iosfwd>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "gort/hash.hpp"
#include "gort/slice.hpp"

namespace gort {

namespace rt {
// A shared byte array behind long strings and builders.
struct string_rep {
  std::atomic<int64_t> refs;
  size_t cap;    // bytes of data
  size_t bytes;  // the whole allocation (for containers_free)
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
};
string_rep* string_rep_new(size_t cap);  // refs = 1, data zeroed
inline void string_rep_retain(string_rep* r) noexcept {
  if (r != nullptr) r->refs.fetch_add(1, std::memory_order_relaxed);
}
void string_rep_free(string_rep* r) noexcept;
inline void string_rep_release(string_rep* r) noexcept {
  if (r != nullptr && r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) string_rep_free(r);
}
}  // namespace rt

namespace strings {
class builder;
}

class string {
 public:
  static constexpr size_t max_inline = 23;

  // "": the empty string.
  string() noexcept { clear_inline(0); }
  // Copies the bytes.
  string(const char* s) : string(std::string_view(s)) {}
  string(const char* p, size_t n) : string(std::string_view(p, n)) {}
  string(std::string_view s) { assign(s.data(), s.size()); }
  string(const std::string& s) : string(std::string_view(s)) {}
  // string(b): a copy of the slice's bytes.
  explicit string(const slice<uint8_t>& b) { assign(reinterpret_cast<const char*>(b.data()), b.size()); }
  explicit string(const slice<char>& b) { assign(b.data(), b.size()); }

  // A string over static bytes (a literal): no copy, no ownership.
  static string lit(std::string_view s) noexcept {
    string r;
    if (s.size() <= max_inline) {
      r.assign_inline(s.data(), s.size());
    } else {
      r.h_.ptr = s.data();
      r.h_.len = s.size();
      r.h_.owner = nullptr;
    }
    return r;
  }

  string(const string& o) noexcept {
    std::memcpy(static_cast<void*>(this), static_cast<const void*>(&o), sizeof *this);
    if (!o.is_inline()) rt::string_rep_retain(h_.owner);
  }
  string(string&& o) noexcept {
    std::memcpy(static_cast<void*>(this), static_cast<const void*>(&o), sizeof *this);
    o.clear_inline(0);
  }
  string& operator=(const string& o) noexcept {
    string tmp(o);
    swap(tmp);
    return *this;
  }
  string& operator=(string&& o) noexcept {
    string tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~string() {
    if (!is_inline()) rt::string_rep_release(h_.owner);
  }
  void swap(string& o) noexcept {
    unsigned char tmp[sizeof(string)];
    std::memcpy(tmp, static_cast<void*>(this), sizeof tmp);
    std::memcpy(static_cast<void*>(this), static_cast<const void*>(&o), sizeof tmp);
    std::memcpy(static_cast<void*>(&o), tmp, sizeof tmp);
  }

  // len(s)
  size_t size() const noexcept { return is_inline() ? size_t(raw_[max_inline] & 0x7f) : h_.len; }
  int64_t len() const noexcept { return int64_t(size()); }
  bool empty() const noexcept { return size() == 0; }
  const char* data() const noexcept { return is_inline() ? raw_ : h_.ptr; }
  std::string_view view() const noexcept { return {data(), size()}; }
  operator std::string_view() const noexcept { return view(); }
  std::string std_string() const { return std::string(view()); }
  const char* begin() const noexcept { return data(); }
  const char* end() const noexcept { return data() + size(); }

  // s[i]: the byte at i.
  uint8_t operator[](int64_t i) const {
    size_t n = size();
    if (uint64_t(i) >= n) rt::panic_bounds(rt::bounds_code::index, i, int64_t(n));
    return uint8_t(data()[i]);
  }
  // s[i:j]
  string operator()(int64_t i, int64_t j) const {
    int64_t n = len();
    if (uint64_t(j) > uint64_t(n)) rt::panic_bounds(rt::bounds_code::slice_alen, j, n);
    if (uint64_t(i) > uint64_t(j)) rt::panic_bounds(rt::bounds_code::slice_b, i, j);
    return substr_unchecked(size_t(i), size_t(j - i));
  }
  // s[i:]
  string from(int64_t i) const { return (*this)(i, len()); }
  // s[:j]
  string to(int64_t j) const { return (*this)(0, j); }

  // Equality and order are bytewise, as in Go.
  friend bool operator==(const string& a, const string& b) noexcept {
    // Identical values are equal strings (inline: the same bytes, zero padded, and the same
    // length byte; shared: the same bytes at the same place). A string is inline exactly when
    // its length is at most 23, so an inline string equals no other value; two shared ones
    // compare lengths, then bytes (Go: the length first, then the pointer, then memequal).
    uint64_t x = a.word(0) ^ b.word(0);
    x |= a.word(1) ^ b.word(1);
    x |= a.word(2) ^ b.word(2);
    if (x == 0) return true;
    if (a.is_inline() || b.is_inline()) return false;
    return a.h_.len == b.h_.len && (a.h_.ptr == b.h_.ptr || std::memcmp(a.h_.ptr, b.h_.ptr, a.h_.len) == 0);
  }
  friend std::strong_ordering operator<=>(const string& a, const string& b) noexcept {
    return a.view() <=> b.view();
  }
  friend bool operator==(const string& a, std::string_view b) noexcept { return a.view() == b; }
  friend bool operator==(const string& a, const char* b) noexcept { return a.view() == std::string_view(b); }
  friend bool operator==(const string& a, const std::string& b) noexcept { return a.view() == std::string_view(b); }

  // s + t: one new array (or an operand itself when the other is empty, as Go does).
  friend string operator+(const string& a, const string& b) { return concat(a.view(), b.view(), &a, &b); }
  friend string operator+(const string& a, std::string_view b) { return concat(a.view(), b, &a, nullptr); }
  friend string operator+(std::string_view a, const string& b) { return concat(a, b.view(), nullptr, &b); }
  friend string operator+(const string& a, const char* b) { return concat(a.view(), b, &a, nullptr); }
  string& operator+=(const string& b) { return *this = *this + b; }
  string& operator+=(std::string_view b) { return *this = *this + b; }

  // for i, r := range s — the byte index and each rune (U+FFFD for an invalid byte).
  class rune_range;
  rune_range runes() const;

  // The map hash of the bytes, through XXH3. An inline string (up to 23 bytes) hashes its
  // zero-padded value in place, with no copy and no branch on the exact length: up to 16
  // bytes as one 16-byte XXH3 block (the length mixed into the seed, so that trailing NUL
  // bytes count), 17 to 23 as the whole 24-byte value (its last byte holds the length).
  // Longer strings hash their bytes. Equal strings always take the same path (the form is a
  // function of the length).
  uint64_t gort_hash(uint64_t seed) const noexcept { return hash_words(word(0), word(1), word(2), seed); }

  // gort::map's probe for a string key (gort/map.hpp): the key's three words are loaded once
  // and kept in registers for the hash and for every candidate slot's compare.
  class map_probe {
   public:
    explicit map_probe(const string& s) noexcept : s_(s), w0_(s.word(0)), w1_(s.word(1)), w2_(s.word(2)) {}
    uint64_t hash(uint64_t seed) const noexcept { return hash_words(w0_, w1_, w2_, seed); }
    // stored == the key.
    bool matches(const string& stored) const noexcept {
      uint64_t x = stored.word(0) ^ w0_;
      x |= stored.word(1) ^ w1_;
      x |= stored.word(2) ^ w2_;
      if (x == 0) return true;
      if (int64_t(w2_) < 0) return false;  // an inline key equals only an identical value
      return stored == s_;
    }

   private:
    const string& s_;
    uint64_t w0_, w1_, w2_;
  };

 private:
  friend class strings::builder;
  struct heap {
    const char* ptr;
    size_t len;
    rt::string_rep* owner;  // its top byte is 0 on x86-64: that marks the heap form
  };
  union {
    heap h_;
    char raw_[24];
  };

  bool is_inline() const noexcept { return (uint8_t(raw_[max_inline]) & 0x80) != 0; }
  // The hash from the value's words (see gort_hash). Heap form: ptr, len, owner (the owner's
  // top bit is 0); inline: the bytes, then the length byte with its top bit set.
  static uint64_t hash_words(uint64_t w0, uint64_t w1, uint64_t w2, uint64_t seed) noexcept {
    if (int64_t(w2) >= 0) return hash_bytes(reinterpret_cast<const char*>(w0), size_t(w1), seed);
    uint64_t b[3] = {w0, w1, w2};
    size_t n = size_t(w2 >> 56) & 0x7f;
    if (n <= 16) return hash_bytes(b, 16, seed + n);
    return hash_bytes(b, sizeof b, seed);
  }
  // The value's i-th 8-byte word (either form).
  uint64_t word(size_t i) const noexcept {
    uint64_t w;
    std::memcpy(&w, raw_ + 8 * i, 8);
    return w;
  }
  void clear_inline(size_t n) noexcept {
    std::memset(raw_, 0, sizeof raw_);
    raw_[max_inline] = char(0x80 | n);
  }
  void assign_inline(const char* p, size_t n) noexcept {
    clear_inline(n);
    if (n != 0) std::memcpy(raw_, p, n);
  }
  void assign(const char* p, size_t n) {
    if (n <= max_inline) {
      assign_inline(p, n);
      return;
    }
    rt::string_rep* r = rt::string_rep_new(n);
    std::memcpy(r->data(), p, n);
    h_.ptr = r->data();
    h_.len = n;
    h_.owner = r;
  }
  // Shares the bytes of a long string; short results are copied inline.
  string substr_unchecked(size_t i, size_t n) const {
    string r;
    if (n <= max_inline) {
      r.assign_inline(data() + i, n);
    } else {
      r.h_.ptr = h_.ptr + i;
      r.h_.len = n;
      r.h_.owner = h_.owner;
      rt::string_rep_retain(h_.owner);
    }
    return r;
  }
  // Adopts n bytes of a rep (one reference handed over).
  static string adopt(rt::string_rep* r, size_t n) {
    string s;
    if (n <= max_inline) {
      s.assign_inline(r->data(), n);
      rt::string_rep_release(r);
    } else {
      s.h_.ptr = r->data();
      s.h_.len = n;
      s.h_.owner = r;
    }
    return s;
  }
  static string concat(std::string_view a, std::string_view b, const string* as, const string* bs) {
    if (b.empty() && as != nullptr) return *as;
    if (a.empty() && bs != nullptr) return *bs;
    size_t n = a.size() + b.size();
    if (n <= max_inline) {
      string s;
      s.clear_inline(n);
      std::memcpy(s.raw_, a.data(), a.size());
      std::memcpy(s.raw_ + a.size(), b.data(), b.size());
      return s;
    }
    rt::string_rep* r = rt::string_rep_new(n);
    std::memcpy(r->data(), a.data(), a.size());
    std::memcpy(r->data() + a.size(), b.data(), b.size());
    return adopt(r, n);
  }
};
static_assert(sizeof(string) == 24);

std::ostream& operator<<(std::ostream& os, const string& s);

template <>
struct hash<string> {
  uint64_t operator()(const string& s, uint64_t seed) const noexcept { return s.gort_hash(seed); }
};

// []byte(s): a copy.
slice<uint8_t> to_bytes(std::string_view s);
inline slice<uint8_t> to_bytes(const string& s) { return to_bytes(s.view()); }

namespace utf8 {
inline constexpr char32_t rune_error = 0xFFFD;  // Go: utf8.RuneError
inline constexpr int utf_max = 4;
// Go: utf8.DecodeRune — the first rune of p and its width; (RuneError, 1) for an invalid
// encoding, (RuneError, 0) for empty input.
std::pair<char32_t, int> decode_rune(std::string_view p) noexcept;
// Go: utf8.EncodeRune — writes r's UTF-8 (RuneError's for invalid runes) to p; the width.
int encode_rune(char* p, char32_t r) noexcept;
// Go: utf8.RuneCountInString.
int64_t rune_count(std::string_view s) noexcept;
bool valid_string(std::string_view s) noexcept;
}  // namespace utf8

struct rune_at {
  int64_t index;
  char32_t rune;
};

// The range of s.runes(): (byte index, rune) pairs, as Go's `for i, r := range s`.
class string::rune_range {
 public:
  class iterator {
   public:
    iterator(const char* p, size_t n, size_t i) : p_(p), n_(n), i_(i) { decode(); }
    rune_at operator*() const { return {int64_t(i_), r_}; }
    iterator& operator++() {
      i_ += w_;
      decode();
      return *this;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    void decode() {
      if (i_ >= n_) {
        w_ = 0;
        return;
      }
      auto [r, w] = utf8::decode_rune(std::string_view(p_ + i_, n_ - i_));
      r_ = r;
      w_ = size_t(w);
    }
    const char* p_;
    size_t n_;
    size_t i_;
    char32_t r_ = 0;
    size_t w_ = 0;
  };
  explicit rune_range(const string& s) : s_(s) {}
  iterator begin() const { return iterator(s_.data(), s_.size(), 0); }
  iterator end() const { return iterator(s_.data(), s_.size(), s_.size()); }

 private:
  string s_;  // keeps the bytes alive
};
inline string::rune_range string::runes() const { return rune_range(*this); }

inline namespace literals {
// "abc"_gs: a gort::string over the literal's static bytes.
inline string operator""_gs(const char* s, size_t n) noexcept { return string::lit(std::string_view(s, n)); }
}  // namespace literals

}  // namespace gort

template <>
struct std::hash<gort::string> {
  size_t operator()(const gort::string& s) const noexcept { return std::hash<std::string_view>{}(s.view()); }
};
