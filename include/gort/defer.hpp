// gort/defer.hpp — Go's defer as an RAII guard.
//
//   void copy_file() {
//     FILE* f = fopen("x", "r");
//     gort::defer close_f = [&] { fclose(f); };   // runs at scope exit
//     GORT_DEFER(puts("done"));                    // the same, as a statement
//   }
//
// Deferred calls run in LIFO order at scope exit: on return, while a panic (exception)
// unwinds, and during gort::goexit. Unlike Go, they are scoped to the enclosing block, not
// the function. A deferred call that throws while the scope is already unwinding for
// another panic ends the program the way an unrecovered panic does (C++ cannot carry two
// exceptions); otherwise its exception propagates like a panic from a deferred call in Go.
#pragma once
#include <exception>
#include <type_traits>
#include <utility>

namespace gort {

template <class F>
class [[nodiscard]] defer {
 public:
  defer(F f) noexcept(std::is_nothrow_move_constructible_v<F>)
      : f_(std::move(f)), uncaught_(std::uncaught_exceptions()) {}
  defer(const defer&) = delete;
  defer& operator=(const defer&) = delete;
  ~defer() noexcept(false) {
    if (std::uncaught_exceptions() > uncaught_) {
      try {
        f_();
      } catch (...) {
        std::terminate();  // a panic during a panic: the terminate handler reports it
      }
    } else {
      f_();
    }
  }

 private:
  F f_;
  int uncaught_;
};

template <class F>
defer(F) -> defer<F>;

}  // namespace gort

#define GORT_DEFER_CONCAT_(a, b) a##b
#define GORT_DEFER_CONCAT(a, b) GORT_DEFER_CONCAT_(a, b)
#define GORT_DEFER(...) \
  ::gort::defer GORT_DEFER_CONCAT(gort_defer_, __LINE__) = [&]() { __VA_ARGS__; }
