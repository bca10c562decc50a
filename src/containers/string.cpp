// containers/string: the shared byte arrays behind long gort::strings and builders, UTF-8
// decoding and encoding (Go: unicode/utf8's rules: surrogates, overlong forms and runes past
// U+10FFFF are invalid and decode as (U+FFFD, 1)), and []byte(s).
#include <ostream>

#include "gort/string.hpp"

namespace gort {

namespace rt {

string_rep* string_rep_new(size_t cap) {
  size_t bytes = sizeof(string_rep) + cap;
  auto* r = static_cast<string_rep*>(containers_alloc(bytes, alignof(string_rep)));
  r->refs.store(1, std::memory_order_relaxed);
  r->cap = cap;
  r->bytes = bytes;
  return r;
}

void string_rep_free(string_rep* r) noexcept { containers_free(r, r->bytes, alignof(string_rep)); }

}  // namespace rt

std::ostream& operator<<(std::ostream& os, const string& s) { return os << s.view(); }

slice<uint8_t> to_bytes(std::string_view s) {
  auto b = make_slice<uint8_t>(int64_t(s.size()));
  if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
  return b;
}

namespace utf8 {

std::pair<char32_t, int> decode_rune(std::string_view p) noexcept {
  size_t n = p.size();
  if (n == 0) return {rune_error, 0};
  auto b = [&](size_t i) { return uint8_t(p[i]); };
  uint8_t c0 = b(0);
  if (c0 < 0x80) return {char32_t(c0), 1};
  auto cont = [&](size_t i, uint8_t lo, uint8_t hi) { return i < n && b(i) >= lo && b(i) <= hi; };
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    if (!cont(1, 0x80, 0xBF)) return {rune_error, 1};
    return {char32_t((c0 & 0x1F) << 6 | (b(1) & 0x3F)), 2};
  }
  if (c0 >= 0xE0 && c0 <= 0xEF) {
    // E0 needs A0..BF (no overlong), ED needs 80..9F (no surrogates).
    uint8_t lo = c0 == 0xE0 ? 0xA0 : 0x80;
    uint8_t hi = c0 == 0xED ? 0x9F : 0xBF;
    if (!cont(1, lo, hi) || !cont(2, 0x80, 0xBF)) return {rune_error, 1};
    return {char32_t((c0 & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F)), 3};
  }
  if (c0 >= 0xF0 && c0 <= 0xF4) {
    // F0 needs 90..BF (no overlong), F4 needs 80..8F (<= U+10FFFF).
    uint8_t lo = c0 == 0xF0 ? 0x90 : 0x80;
    uint8_t hi = c0 == 0xF4 ? 0x8F : 0xBF;
    if (!cont(1, lo, hi) || !cont(2, 0x80, 0xBF) || !cont(3, 0x80, 0xBF)) return {rune_error, 1};
    return {char32_t((c0 & 0x07) << 18 | (b(1) & 0x3F) << 12 | (b(2) & 0x3F) << 6 | (b(3) & 0x3F)), 4};
  }
  return {rune_error, 1};
}

int encode_rune(char* p, char32_t r) noexcept {
  if (r < 0x80) {
    p[0] = char(r);
    return 1;
  }
  if (r < 0x800) {
    p[0] = char(0xC0 | (r >> 6));
    p[1] = char(0x80 | (r & 0x3F));
    return 2;
  }
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = rune_error;
  if (r < 0x10000) {
    p[0] = char(0xE0 | (r >> 12));
    p[1] = char(0x80 | ((r >> 6) & 0x3F));
    p[2] = char(0x80 | (r & 0x3F));
    return 3;
  }
  p[0] = char(0xF0 | (r >> 18));
  p[1] = char(0x80 | ((r >> 12) & 0x3F));
  p[2] = char(0x80 | ((r >> 6) & 0x3F));
  p[3] = char(0x80 | (r & 0x3F));
  return 4;
}

int64_t rune_count(std::string_view s) noexcept {
  int64_t n = 0;
  for (size_t i = 0; i < s.size(); n++) {
    if (uint8_t(s[i]) < 0x80) {
      i++;
      continue;
    }
    i += size_t(decode_rune(s.substr(i)).second);
  }
  return n;
}

bool valid_string(std::string_view s) noexcept {
  for (size_t i = 0; i < s.size();) {
    auto [r, w] = decode_rune(s.substr(i));
    if (r == rune_error && w == 1) return false;
    i += size_t(w);
  }
  return true;
}

}  // namespace utf8
}  // namespace gort
