// slice_test: gort::slice's Go rules — cap() growth against Go 1.19's own sequences
// (growslice_go119.inc, produced by growslice_table.go), sharing of the backing array by
// slicing and append, full slice expressions, overlap-safe copy, and Go's panic texts.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gort/slice.hpp"

namespace {
#include "growslice_go119.inc"

template <size_t N>
struct elem {
  std::array<uint8_t, N> b{};
};
static_assert(sizeof(elem<24>) == 24 && sizeof(elem<40>) == 40);

template <class T>
std::vector<int64_t> one_at_a_time(int64_t upto) {
  gort::slice<T> s;
  std::vector<int64_t> caps;
  for (int64_t i = 0; i < upto; i++) {
    s = gort::append(std::move(s), T{});
    if (caps.empty() || caps.back() != s.cap()) caps.push_back(s.cap());
  }
  return caps;
}

TEST(Slice, AppendCapacitiesMatchGo119) {
  for (auto& [size, want] : go119_append_caps) {
    std::vector<int64_t> got;
    switch (size) {
      case 1: got = one_at_a_time<uint8_t>(200000); break;
      case 8: got = one_at_a_time<int64_t>(200000); break;
      case 24: got = one_at_a_time<elem<24>>(200000); break;
      case 40: got = one_at_a_time<elem<40>>(200000); break;
      default: FAIL() << size;
    }
    EXPECT_EQ(got, want) << "element size " << size;
  }
}

template <class T>
int64_t bulk(int64_t start, int64_t n) {
  auto s = gort::make_slice<T>(start);
  auto t = gort::make_slice<T>(n);
  return gort::append_all(s, t).cap();
}

TEST(Slice, BulkAppendCapacitiesMatchGo119) {
  int checked = 0;
  for (auto& c : go119_bulk_appends) {
    int64_t got = 0;
    switch (c.size) {
      case 1: got = bulk<uint8_t>(c.start, c.n); break;
      case 8: got = bulk<int64_t>(c.start, c.n); break;
      case 24: got = bulk<elem<24>>(c.start, c.n); break;
      case 40: got = bulk<elem<40>>(c.start, c.n); break;
    }
    EXPECT_EQ(got, c.cap) << "size " << c.size << " start " << c.start << " n " << c.n;
    checked++;
  }
  EXPECT_EQ(checked, 4 * 5 * 6);
}

TEST(Slice, NilAndEmpty) {
  gort::slice<int> nil;
  EXPECT_TRUE(nil.is_nil());
  EXPECT_EQ(nil.len(), 0);
  EXPECT_EQ(nil.cap(), 0);
  EXPECT_TRUE(nil(0, 0).is_nil());
  auto empty = gort::make_slice<int>(0);
  EXPECT_FALSE(empty.is_nil());
  auto s = gort::append(nil, 7);
  EXPECT_EQ(s.len(), 1);
  EXPECT_EQ(s[0], 7);
  int n = 0;
  for (int v : nil) n += v;
  EXPECT_EQ(n, 0);
}

TEST(Slice, SlicingSharesTheArray) {
  gort::slice<int> s{0, 1, 2, 3, 4, 5};
  auto t = s(2, 4);
  EXPECT_EQ(t.len(), 2);
  EXPECT_EQ(t.cap(), 4);
  t[0] = 20;
  EXPECT_EQ(s[2], 20);
  // append within capacity writes into the shared array.
  auto u = gort::append(t, 40);
  EXPECT_EQ(s[4], 40);
  EXPECT_EQ(u.data(), t.data());
  // A full slice expression limits capacity, so append moves to a new array.
  auto v = s(1, 3, 3);
  EXPECT_EQ(v.cap(), 2);
  auto w = gort::append(v, 99);
  EXPECT_EQ(s[3], 3);
  EXPECT_EQ(w[2], 99);
  EXPECT_NE(w.data(), v.data());
  // Reslicing up to cap reaches the elements past len.
  auto x = t(0, t.cap());
  EXPECT_EQ(x.len(), 4);
  EXPECT_EQ(x[3], 5);
  EXPECT_EQ(s.from(4).len(), 2);
  EXPECT_EQ(s.to(2).len(), 2);
  int sum = 0;
  for (int e : s) sum += e;
  EXPECT_EQ(sum, 0 + 1 + 20 + 3 + 40 + 5);
}

TEST(Slice, AppendSeveralAndAll) {
  gort::slice<std::string> s;
  s = gort::append(s, std::string("a"), std::string("b"), std::string("c"));
  EXPECT_EQ(s.len(), 3);
  s = gort::append_all(s, s);  // append(s, s...)
  ASSERT_EQ(s.len(), 6);
  EXPECT_EQ(s[5], "c");
  s = gort::append_all(s, {std::string("x")});
  EXPECT_EQ(s[6], "x");
  // append(s[:1], s[2:]...) overlaps within one array.
  gort::slice<int> a{1, 2, 3, 4, 5};
  auto b = gort::append_all(a(0, 1), a.from(2));
  EXPECT_EQ(b.len(), 4);
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(b[1], 3);
  EXPECT_EQ(b[3], 5);
  EXPECT_EQ(a[1], 3);  // shares a's array
}

TEST(Slice, CopyIsOverlapSafe) {
  gort::slice<int> s{1, 2, 3, 4, 5, 6};
  EXPECT_EQ(gort::copy(s.from(1), s), 5);  // shift right
  EXPECT_EQ((std::vector<int>(s.begin(), s.end())), (std::vector<int>{1, 1, 2, 3, 4, 5}));
  EXPECT_EQ(gort::copy(s, s.from(2)), 4);  // shift left
  EXPECT_EQ((std::vector<int>(s.begin(), s.end())), (std::vector<int>{2, 3, 4, 5, 4, 5}));
  gort::slice<std::string> t{"a", "b", "c", "d"};
  gort::copy(t.from(1), t);
  EXPECT_EQ(t[3], "c");
  EXPECT_EQ(t[1], "a");
  gort::copy(t, t.from(1));
  EXPECT_EQ(t[0], "a");
  EXPECT_EQ(t[2], "c");
  gort::slice<int> small = gort::make_slice<int>(2);
  EXPECT_EQ(gort::copy(small, s), 2);
}

std::string panic_text(auto&& f) {
  try {
    f();
  } catch (const gort::runtime_error& e) {
    return e.what();
  }
  return "no panic";
}

TEST(Slice, BoundsPanicsHaveGoText) {
  gort::slice<int> s{1, 2, 3};
  auto t = s(0, 2);  // len 2, cap 3
  EXPECT_EQ(panic_text([&] { (void)s[5]; }), "runtime error: index out of range [5] with length 3");
  EXPECT_EQ(panic_text([&] { (void)s[-1]; }), "runtime error: index out of range [-1]");
  EXPECT_EQ(panic_text([&] { (void)t[2]; }), "runtime error: index out of range [2] with length 2");
  EXPECT_EQ(panic_text([&] { (void)s(0, 5); }), "runtime error: slice bounds out of range [:5] with capacity 3");
  EXPECT_EQ(panic_text([&] { (void)s(2, 1); }), "runtime error: slice bounds out of range [2:1]");
  EXPECT_EQ(panic_text([&] { (void)s(-1, 1); }), "runtime error: slice bounds out of range [-1:]");
  EXPECT_EQ(panic_text([&] { (void)s(0, 1, 4); }), "runtime error: slice bounds out of range [::4] with capacity 3");
  EXPECT_EQ(panic_text([&] { (void)s(0, 3, 2); }), "runtime error: slice bounds out of range [:3:2]");
  EXPECT_EQ(panic_text([&] { (void)s(2, 1, 3); }), "runtime error: slice bounds out of range [2:1:]");
  EXPECT_EQ(panic_text([&] { (void)s.from(4); }), "runtime error: slice bounds out of range [4:3]");
  EXPECT_EQ(panic_text([] { gort::make_slice<int>(-1); }), "runtime error: makeslice: len out of range");
  EXPECT_EQ(panic_text([] { gort::make_slice<int>(3, 2); }), "runtime error: makeslice: cap out of range");
  // The length-checked forms (strings and arrays use them).
  EXPECT_EQ(panic_text([] { gort::rt::panic_bounds(gort::rt::bounds_code::slice_alen, 7, 3); }),
            "runtime error: slice bounds out of range [:7] with length 3");
  EXPECT_EQ(panic_text([] { gort::rt::panic_bounds(gort::rt::bounds_code::slice3_alen, 7, 3); }),
            "runtime error: slice bounds out of range [::7] with length 3");
}

struct counted {
  static inline int live = 0;
  std::string s = "x";
  counted() { live++; }
  counted(const counted& o) : s(o.s) { live++; }
  counted& operator=(const counted&) = default;
  ~counted() { live--; }
};

TEST(Slice, ElementsLiveUntilTheLastSliceGoes) {
  counted::live = 0;
  {
    gort::slice<counted> s;
    for (int i = 0; i < 1000; i++) s = gort::append(std::move(s), counted{});
    auto t = s(10, 20);
    s = gort::slice<counted>();
    EXPECT_EQ(t.len(), 10);
    EXPECT_GT(counted::live, 0);
  }
  EXPECT_EQ(counted::live, 0);
}

}  // namespace
