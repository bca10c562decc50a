// gort/errors.hpp — panics as C++ exceptions.
//
// Go's panic is a C++ exception in gort; recover is `catch`. An exception that escapes a
// goroutine's function ends the program as an unrecovered Go panic does: `panic: <what()>`,
// the goroutine's trace, exit status 2.
//
//   try {
//     gort::panic(42);
//   } catch (const gort::panic_error& e) {        // recover()
//     int v = std::any_cast<int>(e.value());      // 42; e.what() == "42"
//   }
//
// The runtime's own misuse errors (`send on closed channel`, `close of nil channel`, ...)
// are gort::runtime_error, whose what() is Go's exact text.
#pragma once
#include <any>
#include <concepts>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace gort {

// A run-time panic raised by the runtime itself (Go: runtime.Error and plainError).
class runtime_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The value given to gort::panic, with its text as Go would print it.
class panic_error : public std::exception {
 public:
  panic_error(std::any value, std::string text) : value_(std::move(value)), text_(std::move(text)) {}
  const char* what() const noexcept override { return text_.c_str(); }
  const std::any& value() const noexcept { return value_; }

 private:
  std::any value_;
  std::string text_;
};

// Thrown by gort::goexit to unwind the goroutine (running its destructors and defers).
// It derives from nothing, so `catch (const std::exception&)` lets it through; a
// `catch (...)` that swallows it stops the goexit — rethrow it, as with forced unwinding.
struct goexit_unwind {};

namespace detail {
template <class T>
concept streamable = requires(std::ostream& os, const T& v) { os << v; };

template <class T>
std::string panic_text(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return std::string(std::string_view(v));
  } else if constexpr (std::is_base_of_v<std::exception, T>) {
    return v.what();
  } else if constexpr (streamable<T>) {
    std::ostringstream os;
    os << v;
    return os.str();
  } else {
    return std::string("(") + typeid(T).name() + ")";
  }
}
}  // namespace detail

// Go's panic(v): throws gort::panic_error holding v.
template <class T>
[[noreturn]] void panic(T&& v) {
  using V = std::decay_t<T>;
  if constexpr (std::is_array_v<std::remove_reference_t<T>> || std::is_same_v<V, const char*> ||
                std::is_same_v<V, char*>) {
    std::string s(v);
    throw panic_error(s, s);
  } else {
    std::string text = detail::panic_text<V>(v);
    throw panic_error(std::any(V(std::forward<T>(v))), std::move(text));
  }
}

}  // namespace gort
