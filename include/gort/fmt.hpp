// gort/fmt.hpp — Go's fmt.Sprintf (fmt/print.go, fmt/format.go): the verbs mean what they
// mean in Go.
//
//   gort::string s = gort::fmt::sprintf("%-5s|%05.1f|%x|%q|%v", "ab", 3.14159, 255, "hi\n", true);
//   // "ab   |003.1|ff|\"hi\\n\"|true"
//
// Verbs: %v (the default format), %d %b %o %O %x %X %c %q %U for integers, %e %E %f %F %g %G
// and %x %X (hex mantissa and binary exponent: sprintf("%x", 1.0) is "0x1p+00") for floating
// point, %s %q %x %X for strings, %t for bool, %p for pointers, %% for a percent sign; flags
// '+' '-' '#' ' ' '0', width and precision (also from arguments with '*'); explicit argument
// indexes: sprintf("%[2]d %[1]d", 1, 2) is "2 1", "%[2]*[1]d" takes the width from the
// second argument. Misuse prints what Go prints: "%!d(string=hi)" for a verb the argument's
// type does not take, "%!d(MISSING)", "%!(EXTRA int=1)" (not checked once an index reorders
// the arguments), "%!d(BADINDEX)", "%!(NOVERB)", "%!(BADWIDTH)", "%!(BADPREC)".
//
// Argument types: bool; the integer types (char and uint8_t are Go's byte, printed as numbers
// by %v; char32_t is a rune); float and double (float32 and float64); strings
// (gort::string, std::string, std::string_view, const char*); pointers (nullptr prints as
// <nil> under %v); gort::slice<T> ("[1 2 3]", each element with the same verb); and any type
// with a Go Stringer-like member `String()` or a gort::fmt::formatter<T> specialisation
// (`std::string operator()(const T&) const`), printed as a string. Not supported: %#v's
// Go-syntax for composite values, %b on floats, %T.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "gort/slice.hpp"
#include "gort/string.hpp"

namespace gort::fmt {

// Specialise to give a type its own text (printed as a string by %v, %s, %q, %x).
template <class T>
struct formatter;

namespace detail {

enum class kind : uint8_t { boolean, sint, uint, f64, f32, str, ptr, custom };

class state;

// One type-erased argument.
struct arg {
  kind k;
  const char* type_name;
  union {
    bool b;
    int64_t i;
    uint64_t u;
    double f;
    std::string_view s;
    const void* p;
  };
  // kind::custom: formats obj for the verb into the state.
  void (*custom)(const void* obj, state& st, char32_t verb) = nullptr;
  const void* obj = nullptr;
};

// The formatter's interface for custom arguments.
class state {
 public:
  virtual void format_arg(const arg& a, char32_t verb) = 0;
  virtual void write(std::string_view s) = 0;

 protected:
  ~state() = default;
};

template <class T>
concept has_String = requires(const T& v) {
  { v.String() } -> std::convertible_to<std::string_view>;
};
template <class T>
concept has_formatter = requires(const T& v) {
  { formatter<T>{}(v) } -> std::convertible_to<std::string>;
};

template <class T>
constexpr const char* int_name() {
  if constexpr (std::is_same_v<T, char32_t>) return "int32";
  else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, unsigned char>) return "uint8";
  else if constexpr (std::is_same_v<T, int>) return "int";
  else if constexpr (std::is_same_v<T, unsigned>) return "uint";
  else if constexpr (std::is_signed_v<T>) {
    if constexpr (sizeof(T) == 1) return "int8";
    else if constexpr (sizeof(T) == 2) return "int16";
    else if constexpr (sizeof(T) == 4) return "int32";
    else return "int64";
  } else {
    if constexpr (sizeof(T) == 1) return "uint8";
    else if constexpr (sizeof(T) == 2) return "uint16";
    else if constexpr (sizeof(T) == 4) return "uint32";
    else return "uint64";
  }
}

template <class T>
arg make_arg(const T& v);

template <class T>
void format_slice(const void* obj, state& st, char32_t verb) {
  const auto& s = *static_cast<const slice<T>*>(obj);
  st.write("[");
  bool first = true;
  for (const T& e : s) {
    if (!first) st.write(" ");
    first = false;
    st.format_arg(make_arg(e), verb);
  }
  st.write("]");
}

template <class T>
void format_custom_string(const void* obj, state& st, char32_t verb) {
  const T& v = *static_cast<const T*>(obj);
  arg a{};
  a.k = kind::str;
  a.type_name = "string";
  if constexpr (has_formatter<T>) {
    std::string text = formatter<T>{}(v);
    a.s = text;
    st.format_arg(a, verb);
  } else {
    auto text = v.String();
    a.s = std::string_view(text);
    st.format_arg(a, verb);
  }
}

template <class T>
arg make_arg(const T& v) {
  arg a{};
  if constexpr (std::is_same_v<T, bool>) {
    a.k = kind::boolean;
    a.type_name = "bool";
    a.b = v;
  } else if constexpr (has_formatter<T> || has_String<T>) {
    a.k = kind::custom;
    a.type_name = "custom";
    a.custom = &format_custom_string<T>;
    a.obj = &v;
  } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
    using U = typename std::conditional_t<std::is_enum_v<T>, std::underlying_type<T>, std::type_identity<T>>::type;
    if constexpr (std::is_signed_v<U> && !std::is_same_v<U, char>) {
      a.k = kind::sint;
      a.i = int64_t(v);
    } else if constexpr (std::is_same_v<U, char>) {
      a.k = kind::uint;
      a.u = uint64_t(uint8_t(v));
    } else {
      a.k = kind::uint;
      a.u = uint64_t(v);
    }
    a.type_name = int_name<U>();
  } else if constexpr (std::is_same_v<T, float>) {
    a.k = kind::f32;
    a.type_name = "float32";
    a.f = double(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    a.k = kind::f64;
    a.type_name = "float64";
    a.f = double(v);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    a.k = kind::str;
    a.type_name = "string";
    a.s = std::string_view(v);
  } else if constexpr (std::is_pointer_v<T> || std::is_null_pointer_v<T>) {
    if constexpr (std::is_convertible_v<T, const char*>) {
      a.k = kind::str;
      a.type_name = "string";
      a.s = v == nullptr ? std::string_view() : std::string_view(v);
    } else {
      a.k = kind::ptr;
      a.type_name = "pointer";
      a.p = static_cast<const void*>(v);
    }
  } else if constexpr (requires { typename T::value_type; requires std::is_same_v<T, slice<typename T::value_type>>; }) {
    a.k = kind::custom;
    a.type_name = "slice";
    a.custom = &format_slice<typename T::value_type>;
    a.obj = &v;
  } else {
    static_assert(sizeof(T) == 0, "gort::fmt: no formatting for this type (give it String() or a gort::fmt::formatter)");
  }
  return a;
}

// The formatting engine (src/containers/fmt.cpp).
string sprintf_args(std::string_view format, const arg* args, size_t n);
void append_args(std::string& out, std::string_view format, const arg* args, size_t n);

}  // namespace detail

// Go: fmt.Sprintf.
template <class... A>
string sprintf(std::string_view format, const A&... args) {
  if constexpr (sizeof...(A) == 0) {
    return detail::sprintf_args(format, nullptr, 0);
  } else {
    const detail::arg packed[] = {detail::make_arg(args)...};
    return detail::sprintf_args(format, packed, sizeof...(A));
  }
}

// Go: fmt.Sprint for one value: its %v form.
template <class T>
string sprint(const T& v) {
  return sprintf("%v", v);
}

}  // namespace gort::fmt
