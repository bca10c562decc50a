// string_test: gort::string (immutability, shared substrings, conversions, rune range with
// U+FFFD), strings::builder (zero-copy str, Go's growth, the copy panic) and bytes::buffer.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gort/bytes.hpp"
#include "gort/map.hpp"
#include "gort/string.hpp"
#include "gort/strings.hpp"

namespace {

using namespace gort::literals;

std::string panic_text(auto&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no panic";
}

TEST(String, BasicsAndComparison) {
  gort::string e;
  EXPECT_EQ(e.len(), 0);
  gort::string a = "hello";
  gort::string b = std::string("hello");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, "hello");
  EXPECT_LT(gort::string("abc"), gort::string("abd"));
  EXPECT_LT(gort::string("ab"), gort::string("abc"));
  gort::string long1(std::string(100, 'x'));
  gort::string long2(std::string(100, 'x'));
  EXPECT_EQ(long1, long2);
  EXPECT_NE(long1, gort::string(std::string(99, 'x')));
  std::string_view v = long1;
  EXPECT_EQ(v.size(), 100u);
  EXPECT_EQ(a[1], 'e');
  EXPECT_EQ(panic_text([&] { (void)a[5]; }), "runtime error: index out of range [5] with length 5");
}

TEST(String, SubstringsShareLongBytes) {
  std::string big(1000, 'a');
  big[500] = 'b';
  gort::string s = big;
  gort::string t = s(400, 600);
  EXPECT_EQ(t.len(), 200);
  EXPECT_EQ(t.data(), s.data() + 400);  // no copy
  EXPECT_EQ(t[100], 'b');
  gort::string u = s(500, 501);  // short: inline
  EXPECT_EQ(u, "b");
  EXPECT_EQ(s.from(999).len(), 1);
  EXPECT_EQ(s.to(3), "aaa");
  EXPECT_EQ(panic_text([&] { (void)s(0, 1001); }), "runtime error: slice bounds out of range [:1001] with length 1000");
  EXPECT_EQ(panic_text([&] { (void)s(5, 4); }), "runtime error: slice bounds out of range [5:4]");
  // The substring keeps the bytes alive after the original goes.
  gort::string keep;
  {
    gort::string tmp = gort::string(std::string(64, 'z'));
    keep = tmp(1, 60);
  }
  EXPECT_EQ(keep, std::string(59, 'z'));
}

TEST(String, LiteralsAndConcatenation) {
  auto lit = "a literal that is longer than twenty-three bytes"_gs;
  EXPECT_EQ(lit.len(), 48);
  gort::string empty;
  gort::string c = lit + empty;
  EXPECT_EQ(c.data(), lit.data());  // Go returns the non-empty operand as is
  gort::string d = gort::string("ab") + "cd";
  EXPECT_EQ(d, "abcd");
  d += lit;
  EXPECT_EQ(d.len(), 52);
}

TEST(String, ConversionsCopy) {
  gort::string s = "bytes";
  auto b = gort::to_bytes(s);
  EXPECT_EQ(b.len(), 5);
  b[0] = 'B';
  EXPECT_EQ(s, "bytes");
  gort::string t(b);
  b[1] = 'Y';
  EXPECT_EQ(t, "Bytes");
}

TEST(String, RuneRange) {
  gort::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xFFz\xED\xA0\x80";  // a é € 😀 <bad> z <surrogate>
  std::vector<std::pair<int64_t, char32_t>> got;
  for (auto [i, r] : s.runes()) got.push_back({i, r});
  std::vector<std::pair<int64_t, char32_t>> want = {{0, U'a'}, {1, U'é'}, {3, U'€'}, {6, U'😀'}, {10, 0xFFFD},
                                                    {11, U'z'}, {12, 0xFFFD}, {13, 0xFFFD}, {14, 0xFFFD}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(gort::utf8::rune_count(s), 9);
  EXPECT_FALSE(gort::utf8::valid_string(s));
  EXPECT_TRUE(gort::utf8::valid_string("h\xC3\xA9llo"));
}

TEST(String, AsMapKey) {
  auto m = gort::make_map<gort::string, int>();
  for (int i = 0; i < 2000; i++) m.set(gort::string("key-" + std::to_string(i) + std::string(i % 40, '.')), i);
  for (int i = 0; i < 2000; i++) ASSERT_EQ(m.get(gort::string("key-" + std::to_string(i) + std::string(i % 40, '.'))), i);
  // A shared (heap) substring equals an inline string with the same bytes.
  gort::string big = std::string(30, 'q') + "key-7";
  m.set("key-7", 70);
  EXPECT_EQ(m.get(big.from(30)), 70);
}

TEST(String, HashIgnoresTheRepresentation) {
  // Equal bytes hash alike whether a string is inline or a shared substring of a long one.
  std::string pool(80, ' ');
  for (size_t i = 0; i < pool.size(); i++) pool[i] = char('a' + i % 26);
  gort::string big = pool;
  for (int64_t n = 0; n <= 40; n++) {
    gort::string inl = pool.substr(3, size_t(n));
    gort::string sub = big(3, 3 + n);
    ASSERT_EQ(inl, sub);
    EXPECT_EQ(gort::hash<gort::string>{}(inl, 99), gort::hash<gort::string>{}(sub, 99)) << n;
    if (n > 0) {
      EXPECT_NE(gort::hash<gort::string>{}(inl, 99), gort::hash<gort::string>{}(big(3, 2 + n), 99)) << n;
    }
  }
  // Trailing zero bytes change the hash (the length is part of it).
  EXPECT_NE(gort::hash<gort::string>{}(gort::string("a"), 1), gort::hash<gort::string>{}(gort::string("a\0", 2), 1));
}

// True when s keeps its bytes inside the value (the inline form).
bool stored_inline(const gort::string& s) {
  auto* p = reinterpret_cast<const char*>(&s);
  return s.data() >= p && s.data() < p + sizeof s;
}

// The same bytes made every way a string can be made: a copy, a literal (over `bytes`, which
// must outlive the result), a substring of a longer string (shared or inline), a
// concatenation, a builder's str(), string(b).
std::vector<gort::string> every_form(const std::string& bytes, const std::string& pool) {
  std::vector<gort::string> out;
  out.emplace_back(bytes);
  out.push_back(gort::string::lit(bytes));
  gort::string big = pool + bytes + pool;
  out.push_back(big(int64_t(pool.size()), int64_t(pool.size() + bytes.size())));
  size_t h = bytes.size() / 2;
  out.push_back(gort::string(bytes.substr(0, h)) + gort::string(bytes.substr(h)));
  gort::strings::builder b;
  b.write_string(bytes);
  out.push_back(b.str());
  out.emplace_back(gort::to_bytes(std::string_view(bytes)));
  return out;
}

TEST(String, EqualityAndHashAcrossLengthsAndForms) {
  const std::string pool(40, '#');
  for (size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 22, 23, 24, 25, 31, 32, 100}) {
    std::string bytes;
    for (size_t i = 0; i < n; i++) bytes += char('a' + (i * 7) % 26);
    if (n > 3) bytes[n / 2] = '\0';  // embedded NUL bytes are bytes like any other
    auto forms = every_form(bytes, pool);
    for (size_t i = 0; i < forms.size(); i++) {
      const gort::string& a = forms[i];
      ASSERT_EQ(a.size(), n);
      ASSERT_EQ(a.view(), std::string_view(bytes));
      // The representation invariant the map's equality and hash rely on.
      ASSERT_EQ(stored_inline(a), n <= gort::string::max_inline) << "form " << i << " length " << n;
      for (size_t j = 0; j < forms.size(); j++) {
        const gort::string& b = forms[j];
        ASSERT_TRUE(a == b) << i << " vs " << j << " length " << n;
        ASSERT_EQ(gort::hash<gort::string>{}(a, 5), gort::hash<gort::string>{}(b, 5)) << i << " vs " << j;
        ASSERT_EQ(gort::hash<gort::string>{}(a, 0), gort::hash<gort::string>{}(b, 0)) << i << " vs " << j;
      }
      // One byte different, first or last: unequal, and (for these inputs) a different hash.
      if (n > 0) {
        for (size_t pos : {size_t(0), n - 1}) {
          std::string other = bytes;
          other[pos] = char(other[pos] ^ 1);
          for (const gort::string& b : every_form(other, pool)) {
            ASSERT_FALSE(a == b) << "length " << n << " pos " << pos;
            ASSERT_NE(gort::hash<gort::string>{}(a, 5), gort::hash<gort::string>{}(b, 5)) << n << " " << pos;
          }
        }
      }
      // One byte longer or shorter with a NUL: unequal (the zero padding is not content).
      const std::string longer = bytes + '\0';  // outlives the literal forms over it
      for (const gort::string& b : every_form(longer, pool)) {
        ASSERT_FALSE(a == b) << n;
        ASSERT_NE(gort::hash<gort::string>{}(a, 5), gort::hash<gort::string>{}(b, 5)) << n;
      }
      if (n > 0 && bytes[n - 1] == '\0') {
        ASSERT_FALSE(a == gort::string(bytes.substr(0, n - 1)));
      }
    }
  }
}

TEST(String, SharedFormsCompareLengthThenBytes) {
  gort::string big = std::string(60, 'x');
  gort::string a = big(0, 30), b = big(0, 31), c = big(1, 31);
  EXPECT_FALSE(a == b);  // the same pointer, different lengths
  EXPECT_TRUE(a == c);   // different pointers, the same bytes
  EXPECT_TRUE(a == gort::string(std::string(30, 'x')));
  EXPECT_FALSE(a == gort::string(std::string(29, 'x') + "y"));
  gort::string d = a;  // an identical value
  EXPECT_TRUE(a == d);
  EXPECT_TRUE(gort::string() == gort::string(""));
  EXPECT_FALSE(gort::string() == gort::string("\0", 1));
}

TEST(Builder, ZeroCopyStrAndGoGrowth) {
  gort::strings::builder b;
  EXPECT_EQ(b.cap(), 0);
  b.write_string("a");
  EXPECT_EQ(b.cap(), 8);  // append's rule: 8 bytes, the smallest size class
  std::vector<int64_t> caps;
  for (int i = 0; i < 600; i++) {
    b.write_byte('x');
    if (caps.empty() || caps.back() != b.cap()) caps.push_back(b.cap());
  }
  EXPECT_EQ(caps, (std::vector<int64_t>{8, 16, 32, 64, 128, 256, 512, 896}));
  gort::string s = b.str();
  EXPECT_EQ(s.len(), 601);
  EXPECT_EQ(s.data(), b.str().data());  // the buffer itself
  b.write_string("more");
  EXPECT_EQ(s.len(), 601);  // the string does not change
  EXPECT_EQ(b.len(), 605);
  b.grow(1000);
  EXPECT_EQ(b.cap(), 2 * 896 + 1000);
  b.write_rune(U'€');
  EXPECT_EQ(b.str().from(605), "\xE2\x82\xAC");
  b.reset();
  EXPECT_EQ(b.len(), 0);
  EXPECT_EQ(s.len(), 601);
}

TEST(Builder, CopyThenWritePanics) {
  gort::strings::builder b;
  b.write_string("x");
  gort::strings::builder c = b;
  EXPECT_EQ(c.str(), "x");
  EXPECT_EQ(panic_text([&] { c.write_string("y"); }), "strings: illegal use of non-zero Builder copied by value");
  gort::strings::builder fresh;
  gort::strings::builder copy_of_fresh = fresh;  // a zero builder may be copied
  copy_of_fresh.write_string("ok");
  gort::strings::builder moved = std::move(b);
  moved.write_string("z");
  EXPECT_EQ(moved.str(), "xz");
}

TEST(Buffer, ReadWrite) {
  gort::bytes::buffer b;
  b.write_string("hello, ");
  EXPECT_EQ(b.cap(), 64);
  b.write_byte('w');
  b.write_rune(U'ö');
  EXPECT_EQ(b.str(), "hello, w\xC3\xB6");
  uint8_t p[5];
  auto r = b.read(p);
  EXPECT_EQ(r.n, 5);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(p), 5), "hello");
  EXPECT_EQ(b.len(), 5);
  EXPECT_EQ(*b.read_byte(), ',');
  auto nx = b.next(2);
  EXPECT_EQ(nx.len(), 2);
  EXPECT_EQ(nx[1], 'w');
  EXPECT_EQ(b.len(), 2);
  b.read(p);
  EXPECT_TRUE(b.read(p).eof);
  EXPECT_FALSE(b.read_byte().has_value());
  // Growth past the small buffer: 2*cap + n.
  gort::bytes::buffer big;
  big.write_string(std::string(10, 'a'));
  big.write_string(std::string(100, 'b'));
  EXPECT_EQ(big.cap(), 2 * 64 + 100);
  EXPECT_EQ(big.len(), 110);
  big.truncate(5);
  EXPECT_EQ(big.str(), "aaaaa");
}

}  // namespace
