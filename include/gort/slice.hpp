// gort/slice.hpp — Go's slices (Go: runtime/slice.go: makeslice, growslice, slicecopy).
//
//   auto s = gort::make_slice<int>(0, 4);       // make([]int, 0, 4)
//   s = gort::append(s, 1, 2, 3);               // s = append(s, 1, 2, 3)
//   auto t = s(1, 3);                           // t := s[1:3]  (shares s's array)
//   auto u = s(0, 1, 2);                        // u := s[0:1:2] (full slice expression)
//   s = gort::append_all(s, t);                 // s = append(s, t...)
//   int n = gort::copy(t, s);                   // n := copy(t, s)   (overlap-safe)
//   for (int& v : s) v *= 2;                    // for i := range s { s[i] *= 2 }
//   gort::slice<int> lit{1, 2, 3};              // []int{1, 2, 3}
//
// A slice is a pointer, a length and a capacity over a shared backing array (Go's slice
// header, plus a reference to the array, which C++ frees when the last slice lets go). A
// default-constructed slice is the nil slice (len 0, cap 0). Slicing shares the array;
// gort::append writes into the array while capacity allows and otherwise moves to a new
// array grown by Go 1.18+'s rule (double below 256 elements, then by (cap + 768)/4 until
// enough) and rounded up to the allocator's size class (gort's size classes, Go 1.19's
// table), so cap() after each append is Go 1.19's for the same element size.
//
// Elements: every element of the array, up to cap, is a live T (value-initialised, Go's
// zero value), so s(0, s.cap()) is always safe to read. T may be any copyable C++ type;
// when a slice that owns its array alone is appended to as an rvalue
// (`s = gort::append(std::move(s), v)`), growth moves the elements instead of copying.
//
// Bounds: indexing and slicing check as Go does and throw gort::runtime_error with Go's
// text: "runtime error: index out of range [5] with length 3", "runtime error: slice bounds
// out of range [:5] with capacity 3", "... [2:1]", "... [::7] with capacity 4", and the rest.
//
// Not thread-safe beyond Go's rules (concurrent reads fine; a write concurrent with anything
// on the same element is a data race). A slice must not outlive nothing: it owns its array.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "gort/errors.hpp"

namespace gort {

// ---- The runtime's interface (src/containers); not for direct use. ----
namespace rt {
// Go: runtime.boundsErrorCode.
enum class bounds_code : uint8_t { index, slice_alen, slice_acap, slice_b, slice3_alen, slice3_acap, slice3_b, slice3_c };
// Throws gort::runtime_error with Go's text for a failed bounds check of x (against y).
[[noreturn]] void panic_bounds(bounds_code code, int64_t x, int64_t y);
[[noreturn]] void panic_makeslice_len();
[[noreturn]] void panic_makeslice_cap();
[[noreturn]] void panic_growslice_cap();
// Go: growslice's capacity rule — the new capacity (in elements) for a slice of `oldcap`
// elements of `elemsize` bytes that needs `needed`, rounded up to the size class.
int64_t growslice_cap(int64_t oldcap, int64_t needed, size_t elemsize);

void* containers_alloc(size_t bytes, size_t align);
void containers_free(void* p, size_t bytes, size_t align) noexcept;

// A backing array: a reference count, then the elements.
struct slice_array {
  std::atomic<int64_t> refs;
  int64_t cap;
  size_t bytes;
  size_t align;
};

template <class T>
struct slice_ops {
  static constexpr size_t align = alignof(T) > alignof(slice_array) ? alignof(T) : alignof(slice_array);
  static constexpr size_t hdr = (sizeof(slice_array) + align - 1) / align * align;
  static T* elems(slice_array* a) noexcept {
    return std::launder(reinterpret_cast<T*>(reinterpret_cast<char*>(a) + hdr));
  }
  // A new array of cap value-initialised elements (zeroed memory is already that for
  // trivial types, as Go's mallocgc(needzero) is).
  static slice_array* make(int64_t cap) {
    size_t bytes = hdr + size_t(cap) * sizeof(T);
    auto* a = static_cast<slice_array*>(containers_alloc(bytes, align));
    a->refs.store(1, std::memory_order_relaxed);
    a->cap = cap;
    a->bytes = bytes;
    a->align = align;
    if constexpr (!std::is_trivially_default_constructible_v<T> || !std::is_trivially_destructible_v<T>) {
      T* p = elems(a);
      int64_t i = 0;
      try {
        for (; i < cap; i++) ::new (static_cast<void*>(p + i)) T();
      } catch (...) {
        std::destroy(p, p + i);
        containers_free(a, bytes, align);
        throw;
      }
    }
    return a;
  }
  static void retain(slice_array* a) noexcept {
    if (a != nullptr) a->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void release(slice_array* a) noexcept {
    if (a == nullptr || a->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if constexpr (!std::is_trivially_destructible_v<T>) std::destroy(elems(a), elems(a) + a->cap);
    containers_free(a, a->bytes, a->align);
  }
};

// Copies n elements from s to d; the ranges may overlap (Go: memmove / typedmemmove).
template <class T>
void move_elems(T* d, const T* s, int64_t n) {
  if (n <= 0 || d == s) return;
  if constexpr (std::is_trivially_copyable_v<T>) {
    std::memmove(static_cast<void*>(d), static_cast<const void*>(s), size_t(n) * sizeof(T));
  } else if (d < s || d >= s + n) {
    std::copy(s, s + n, d);
  } else {
    std::copy_backward(s, s + n, d + n);
  }
}

// The one object every empty (zero-size) allocation points at (Go: zerobase).
inline constexpr uintptr_t zerobase_storage[4] = {};
}  // namespace rt

template <class T>
class slice;

template <class T>
slice<T> make_slice(int64_t len, int64_t cap);
template <class T>
slice<T> make_slice(int64_t len);

template <class T>
class slice {
  using ops = rt::slice_ops<T>;

 public:
  using value_type = T;
  using element_type = T;
  using size_type = size_t;
  using iterator = T*;
  using const_iterator = const T*;

  // The nil slice.
  slice() noexcept = default;
  slice(std::nullptr_t) noexcept {}
  // []T{a, b, c}: len = cap = the number of values.
  slice(std::initializer_list<T> il) {
    if (il.size() == 0) {
      ptr_ = zero_ptr();
      return;
    }
    arr_ = ops::make(int64_t(il.size()));
    ptr_ = ops::elems(arr_);
    len_ = cap_ = int64_t(il.size());
    std::copy(il.begin(), il.end(), ptr_);
  }
  slice(const slice& o) noexcept : ptr_(o.ptr_), len_(o.len_), cap_(o.cap_), arr_(o.arr_) { ops::retain(arr_); }
  slice(slice&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)),
        len_(std::exchange(o.len_, 0)),
        cap_(std::exchange(o.cap_, 0)),
        arr_(std::exchange(o.arr_, nullptr)) {}
  slice& operator=(const slice& o) noexcept {
    slice tmp(o);
    swap(tmp);
    return *this;
  }
  slice& operator=(slice&& o) noexcept {
    slice tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~slice() { ops::release(arr_); }

  void swap(slice& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(len_, o.len_);
    std::swap(cap_, o.cap_);
    std::swap(arr_, o.arr_);
  }

  // len(s), cap(s)
  int64_t len() const noexcept { return len_; }
  int64_t cap() const noexcept { return cap_; }
  size_t size() const noexcept { return size_t(len_); }
  bool empty() const noexcept { return len_ == 0; }
  // s == nil
  bool is_nil() const noexcept { return ptr_ == nullptr; }
  friend bool operator==(const slice& s, std::nullptr_t) noexcept { return s.ptr_ == nullptr; }

  // s[i], bounds-checked.
  T& operator[](int64_t i) const {
    if (uint64_t(i) >= uint64_t(len_)) rt::panic_bounds(rt::bounds_code::index, i, len_);
    return ptr_[i];
  }
  T* data() const noexcept { return ptr_; }
  T* begin() const noexcept { return ptr_; }
  T* end() const noexcept { return ptr_ + len_; }
  std::span<T> span() const noexcept { return {ptr_, size_t(len_)}; }

  // s[i:j]: 0 <= i <= j <= cap(s).
  slice operator()(int64_t i, int64_t j) const {
    if (uint64_t(j) > uint64_t(cap_)) rt::panic_bounds(rt::bounds_code::slice_acap, j, cap_);
    if (uint64_t(i) > uint64_t(j)) rt::panic_bounds(rt::bounds_code::slice_b, i, j);
    return sub(i, j, cap_);
  }
  // s[i:j:k]: 0 <= i <= j <= k <= cap(s); the result's capacity is k - i.
  slice operator()(int64_t i, int64_t j, int64_t k) const {
    if (uint64_t(k) > uint64_t(cap_)) rt::panic_bounds(rt::bounds_code::slice3_acap, k, cap_);
    if (uint64_t(j) > uint64_t(k)) rt::panic_bounds(rt::bounds_code::slice3_b, j, k);
    if (uint64_t(i) > uint64_t(j)) rt::panic_bounds(rt::bounds_code::slice3_c, i, j);
    return sub(i, j, k);
  }
  // s[i:]
  slice from(int64_t i) const { return (*this)(i, len_); }
  // s[:j]
  slice to(int64_t j) const { return (*this)(0, j); }

 private:
  template <class U>
  friend class slice;
  template <class U>
  friend slice<U> make_slice(int64_t, int64_t);
  template <class U, class... A>
  friend slice<U> append(slice<U> s, A&&... v);
  template <class U>
  friend slice<U> append_all(slice<U> s, std::span<const U> t);

  static T* zero_ptr() noexcept { return const_cast<T*>(reinterpret_cast<const T*>(rt::zerobase_storage)); }

  slice sub(int64_t i, int64_t j, int64_t k) const {
    slice r;
    r.ptr_ = ptr_ == nullptr ? nullptr : ptr_ + i;
    r.len_ = j - i;
    r.cap_ = k - i;
    r.arr_ = arr_;
    ops::retain(arr_);
    if (r.ptr_ == nullptr && (r.len_ != 0 || r.cap_ != 0)) r.ptr_ = zero_ptr();
    return r;
  }

  // Go: growslice. Makes room for `needed` elements in all; the first len_ move over (moved
  // when this slice owns its array alone and `steal`, else copied). Returns the old array,
  // for the caller to release once the appended values (which may live in it) are written.
  [[nodiscard]] rt::slice_array* grow(int64_t needed, bool steal) {
    int64_t newcap = rt::growslice_cap(cap_, needed, sizeof(T));
    rt::slice_array* na = ops::make(newcap);
    T* np = ops::elems(na);
    if constexpr (std::is_trivially_copyable_v<T>) {
      if (len_ > 0) std::memcpy(static_cast<void*>(np), static_cast<const void*>(ptr_), size_t(len_) * sizeof(T));
    } else {
      bool alone = arr_ != nullptr && arr_->refs.load(std::memory_order_acquire) == 1;
      try {
        if (steal && alone && std::is_nothrow_move_assignable_v<T>) {
          std::move(ptr_, ptr_ + len_, np);
        } else {
          std::copy(ptr_, ptr_ + len_, np);
        }
      } catch (...) {
        ops::release(na);
        throw;
      }
    }
    rt::slice_array* old = arr_;
    arr_ = na;
    ptr_ = np;
    cap_ = newcap;
    return old;
  }

  T* ptr_ = nullptr;
  int64_t len_ = 0;
  int64_t cap_ = 0;
  rt::slice_array* arr_ = nullptr;
};

// make([]T, len, cap); panics "makeslice: len out of range" / "makeslice: cap out of range".
template <class T>
slice<T> make_slice(int64_t len, int64_t cap) {
  if (len < 0) rt::panic_makeslice_len();
  if (cap < len) {
    if (cap < 0) rt::panic_makeslice_cap();
    rt::panic_makeslice_cap();
  }
  slice<T> s;
  if (cap == 0 || sizeof(T) == 0) {
    s.ptr_ = slice<T>::zero_ptr();
  } else {
    s.arr_ = rt::slice_ops<T>::make(cap);
    s.ptr_ = rt::slice_ops<T>::elems(s.arr_);
  }
  s.len_ = len;
  s.cap_ = cap;
  return s;
}
// make([]T, len)
template <class T>
slice<T> make_slice(int64_t len) {
  return make_slice<T>(len, len);
}

// append(s, v...): the values written after s's elements; a new array when they do not fit.
template <class T, class... A>
slice<T> append(slice<T> s, A&&... v) {
  constexpr int64_t n = int64_t(sizeof...(A));
  if constexpr (n == 0) {
    return s;
  } else {
    int64_t need = s.len_ + n;
    rt::slice_array* old = nullptr;
    if (need > s.cap_) old = s.grow(need, true);
    T* p = s.ptr_ + s.len_;
    ((*p++ = std::forward<A>(v)), ...);
    rt::slice_ops<T>::release(old);
    s.len_ = need;
    return s;
  }
}

// append(s, t...): t's elements (any contiguous range of T: a slice, a span, a vector).
template <class T>
slice<T> append_all(slice<T> s, std::span<const T> t) {
  int64_t n = int64_t(t.size());
  if (n == 0) return s;
  int64_t need = s.len_ + n;
  if (need > s.cap_) {
    // t may live in s's own array: that stays alive until t is copied.
    rt::slice_array* old = s.grow(need, false);
    std::copy(t.begin(), t.end(), s.ptr_ + s.len_);
    rt::slice_ops<T>::release(old);
  } else {
    rt::move_elems(s.ptr_ + s.len_, t.data(), n);  // t may overlap the destination
  }
  s.len_ = need;
  return s;
}
template <class T>
slice<T> append_all(slice<T> s, const slice<T>& t) {
  return append_all(std::move(s), std::span<const T>(t.data(), t.size()));
}
template <class T>
slice<T> append_all(slice<T> s, std::initializer_list<T> t) {
  return append_all(std::move(s), std::span<const T>(t.begin(), t.size()));
}

// copy(dst, src): min(len(dst), len(src)) elements, correct when they overlap.
template <class T>
int64_t copy(const slice<T>& dst, std::span<const T> src) {
  int64_t n = std::min<int64_t>(dst.len(), int64_t(src.size()));
  rt::move_elems(dst.data(), src.data(), n);
  return n;
}
template <class T>
int64_t copy(const slice<T>& dst, const slice<T>& src) {
  return copy(dst, std::span<const T>(src.data(), src.size()));
}

// len(s), cap(s) in Go's spelling.
template <class T>
int64_t len(const slice<T>& s) noexcept {
  return s.len();
}
template <class T>
int64_t cap(const slice<T>& s) noexcept {
  return s.cap();
}

}  // namespace gort
