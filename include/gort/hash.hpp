// gort/hash.hpp — seeded hashing for map keys (Go: the runtime's per-type hash functions,
// runtime/alg.go), on xxHash's XXH3.
//
//   struct point { int x, y; bool operator==(const point&) const = default; };
//   template <> struct gort::hash<point> {
//     uint64_t operator()(const point& p, uint64_t seed) const noexcept {
//       return gort::hash_bytes(&p, sizeof p, seed);
//     }
//   };
//   gort::map<point, int> m = gort::make_map<point, int>();
//
// gort::hash<T> is the customisation point: `uint64_t operator()(const T&, uint64_t seed)`.
// Every map draws its own random seed, so hashes differ from map to map (as in Go). Provided:
// integers, enums, pointers, floating point (+0 and -0 hash alike; every NaN hashes to a
// random value, as Go's f64hash does, so NaN keys never collide into a findable entry),
// std::string, std::string_view, and any type with a std::hash (its result is mixed with the
// seed). A specialisation may set `static constexpr bool reflexive = false` when some keys
// are not equal to themselves (NaN-like); floating point is non-reflexive by default.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

namespace gort {

namespace rt {
uint32_t containers_rand() noexcept;  // Go: fastrand (src/containers/runtime.cpp)
}

// XXH3 of n bytes at p with a seed.
inline uint64_t hash_bytes(const void* p, size_t n, uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(p, n, seed);
}

// A 64-bit word, seeded (XXH3's 8-byte path, fully inlined).
inline uint64_t hash_u64(uint64_t v, uint64_t seed) noexcept { return XXH3_64bits_withSeed(&v, 8, seed); }

template <class T, class = void>
struct hash;

template <class T>
struct hash<T, std::enable_if_t<std::is_integral_v<T> || std::is_enum_v<T>>> {
  uint64_t operator()(T v, uint64_t seed) const noexcept {
    if constexpr (sizeof(T) <= 8) {
      return hash_u64(uint64_t(v), seed);
    } else {
      return hash_bytes(&v, sizeof v, seed);
    }
  }
};

template <class T>
struct hash<T*> {
  uint64_t operator()(T* p, uint64_t seed) const noexcept {
    return hash_u64(uint64_t(reinterpret_cast<uintptr_t>(p)), seed);
  }
};

template <>
struct hash<std::nullptr_t> {
  uint64_t operator()(std::nullptr_t, uint64_t seed) const noexcept { return hash_u64(0, seed); }
};

template <class T>
struct hash<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static constexpr bool reflexive = false;
  uint64_t operator()(T v, uint64_t seed) const noexcept {
    if (v == 0) return hash_u64(0, seed);  // +0 and -0
    if (v != v) return hash_u64(uint64_t(rt::containers_rand()) << 32 | rt::containers_rand(), seed ^ 0x9e3779b97f4a7c15ULL);  // NaN
    if constexpr (sizeof(T) == 8) {
      return hash_u64(std::bit_cast<uint64_t>(v), seed);
    } else if constexpr (sizeof(T) == 4) {
      return hash_u64(std::bit_cast<uint32_t>(v), seed);
    } else {
      long double x = v;  // 80-bit: hash the significant bytes only
      return hash_bytes(&x, 10, seed);
    }
  }
};

template <>
struct hash<std::string_view> {
  uint64_t operator()(std::string_view s, uint64_t seed) const noexcept { return hash_bytes(s.data(), s.size(), seed); }
};

template <>
struct hash<std::string> {
  uint64_t operator()(const std::string& s, uint64_t seed) const noexcept {
    return hash_bytes(s.data(), s.size(), seed);
  }
};

namespace detail {
template <class T>
concept std_hashable = requires(const T& v) {
  { std::hash<T>{}(v) } -> std::convertible_to<size_t>;
};
template <class T>
concept has_gort_hash_member = requires(const T& v, uint64_t seed) {
  { v.gort_hash(seed) } -> std::convertible_to<uint64_t>;
};
}  // namespace detail

// Types with a member `uint64_t gort_hash(uint64_t seed) const`, then types with a std::hash.
template <class T>
struct hash<T, std::enable_if_t<!std::is_arithmetic_v<T> && !std::is_enum_v<T> && !std::is_pointer_v<T> &&
                                (detail::has_gort_hash_member<T> || detail::std_hashable<T>)>> {
  uint64_t operator()(const T& v, uint64_t seed) const {
    if constexpr (detail::has_gort_hash_member<T>) {
      return v.gort_hash(seed);
    } else {
      return hash_u64(uint64_t(std::hash<T>{}(v)), seed);
    }
  }
};

namespace detail {
template <class H>
constexpr bool hash_reflexive() {
  if constexpr (requires { H::reflexive; }) {
    return H::reflexive;
  } else {
    return true;
  }
}
}  // namespace detail

}  // namespace gort
