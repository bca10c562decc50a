// gort/error.hpp — Go's error values (the `error` interface, package errors).
//
//   gort::error err = do_something();
//   if (err) std::printf("failed: %s\n", err.message().c_str());   // if err != nil
//   if (err == gort::context::canceled) ...                           // a sentinel error
//   if (gort::errors::is(err, gort::context::deadline_exceeded)) ...  // errors.Is (walks wraps)
//   if (err.timeout()) ...                                            // net.Error's Timeout()
//   static const gort::error not_found = gort::errors::make("not found");   // errors.New
//   return gort::errors::wrap(err, "loading config");  // fmt.Errorf("loading config: %w", err)
//
// A gort::error is a cheap, copyable reference to an immutable error value (a class derived
// from error_value); a default-constructed error is nil. As with Go's errors.New, every
// errors::make returns a distinct error, so `==` compares identity: two errors are equal when
// they are the same value (or both nil). Sentinel errors (context::canceled, net's closed
// error) are single values a caller compares with `==` or errors::is. Error types with their
// own identity rules (an errno, say) override error_value::is.
#pragma once
#include <memory>
#include <ostream>
#include <string>
#include <utility>

namespace gort {

class error;

// The dynamic value behind a non-nil error. Implement message(); the rest is optional.
class error_value {
 public:
  virtual ~error_value() = default;
  // Go: Error() string.
  virtual std::string message() const = 0;
  // Go: interface{ Timeout() bool } (net.Error, context.DeadlineExceeded, os.ErrDeadlineExceeded).
  virtual bool timeout() const { return false; }
  // Go: interface{ Temporary() bool }.
  virtual bool temporary() const { return false; }
  // Go: Unwrap() error — the error this one wraps, or nil.
  virtual error unwrap() const;
  // Go: Is(target error) bool — whether this error counts as target (beyond identity).
  virtual bool is(const error& target) const;
};

class error {
 public:
  error() noexcept = default;
  error(std::nullptr_t) noexcept {}
  explicit error(std::shared_ptr<const error_value> v) noexcept : v_(std::move(v)) {}

  // err != nil
  explicit operator bool() const noexcept { return v_ != nullptr; }
  // Go: err.Error(); "<nil>" for a nil error (what fmt prints).
  std::string message() const { return v_ ? v_->message() : std::string("<nil>"); }
  // True when this error, or one it wraps, reports a timeout.
  bool timeout() const;
  bool temporary() const { return v_ && v_->temporary(); }
  // Go: errors.Unwrap(err).
  error unwrap() const;
  // The dynamic value, or null for nil.
  const error_value* get() const noexcept { return v_.get(); }
  // Go: errors.As — the first error in the wrap chain whose value is an E, or null.
  template <class E>
  const E* as() const;

  // Identity: the same error value, or both nil (Go's == on two errors made by errors.New).
  friend bool operator==(const error& a, const error& b) noexcept { return a.v_ == b.v_; }
  friend bool operator==(const error& a, std::nullptr_t) noexcept { return !a.v_; }

 private:
  std::shared_ptr<const error_value> v_;
};

inline std::ostream& operator<<(std::ostream& os, const error& e) { return os << e.message(); }

inline error error_value::unwrap() const { return nullptr; }
inline bool error_value::is(const error&) const { return false; }
inline error error::unwrap() const { return v_ ? v_->unwrap() : error(); }

template <class E>
const E* error::as() const {
  for (error e = *this; e; e = e.unwrap())
    if (auto* p = dynamic_cast<const E*>(e.get())) return p;
  return nullptr;
}

inline bool error::timeout() const {
  for (error e = *this; e; e = e.unwrap())
    if (e.v_->timeout()) return true;
  return false;
}

namespace errors {

// Go: errors.New(text) — a new, distinct error with that message.
inline error make(std::string text) {
  struct text_error final : error_value {
    std::string text;
    explicit text_error(std::string t) : text(std::move(t)) {}
    std::string message() const override { return text; }
  };
  return error(std::make_shared<const text_error>(std::move(text)));
}

// Go: fmt.Errorf("<context>: %w", err) — message "<context>: <err>", unwrapping to err.
// Wrapping nil gives nil.
inline error wrap(error err, std::string context) {
  struct wrap_error final : error_value {
    error inner;
    std::string context;
    wrap_error(error e, std::string c) : inner(std::move(e)), context(std::move(c)) {}
    std::string message() const override { return context + ": " + inner.message(); }
    error unwrap() const override { return inner; }
  };
  if (!err) return nullptr;
  return error(std::make_shared<const wrap_error>(std::move(err), std::move(context)));
}

// Go: errors.Is — whether err, or any error it wraps, is target (by identity, or by the
// value's own is()).
inline bool is(const error& err, const error& target) {
  if (!target) return !err;
  for (error e = err; e; e = e.unwrap())
    if (e == target || e.get()->is(target)) return true;
  return false;
}

// Go: errors.As — the first error in err's chain whose value is an E, or null.
template <class E>
const E* as(const error& err) {
  return err.template as<E>();
}

}  // namespace errors
}  // namespace gort
