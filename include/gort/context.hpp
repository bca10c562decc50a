// gort/context.hpp — cancellation, deadlines and request-scoped values (Go: package context).
//
//   auto [ctx, cancel] = gort::context::with_timeout(gort::context::background(), 100ms);
//   gort::go([ctx] {
//     gort::select(gort::case_recv(ctx.done(), [&] { std::puts(ctx.err().message().c_str()); }),
//                  gort::case_recv(results, [](int r) { use(r); }));
//   });
//   ...
//   cancel();                               // as Go's `defer cancel()`: always call it
//
//   static const gort::context::key<std::string> request_id;   // a typed key
//   auto rctx = gort::context::with_value(ctx, request_id, std::string("r-42"));
//   if (const std::string* id = rctx.value(request_id)) log(*id);
//
// A context is a cheap, copyable handle to an immutable node of a tree; a default-constructed
// one is nil (Go's nil Context: deriving from it panics with "cannot create context from nil
// parent"). The rules are Go's:
// - cancelling a context cancels all its descendants, and a child of a cancelled parent is
//   born cancelled; a cancelled child detaches from its parent, so a parent does not
//   accumulate its finished children;
// - done() is a channel created on first use and closed exactly once, on cancellation (nil
//   for background() and todo(), which are never cancelled); err() is nil until then, then
//   context::canceled or context::deadline_exceeded (whose timeout() is true); cause() is
//   the error given to a cancel_cause_func, or err();
// - with_deadline/with_timeout arm a runtime timer that is stopped when the context is
//   cancelled earlier, so nothing lingers; a deadline already past cancels at once;
// - value(key) walks up the chain, one pointer hop per ancestor; keys are typed objects
//   compared by identity, so each key carries the type of its value.
// Always call the cancel function (or let the deadline pass): as in Go, a context that is
// never cancelled stays registered with its cancellable parent until that parent ends.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "gort/chan.hpp"
#include "gort/error.hpp"
#include "gort/time.hpp"

namespace gort::context {

using time_point = std::chrono::steady_clock::time_point;

// Go: context.Canceled ("context canceled").
extern const error canceled;
// Go: context.DeadlineExceeded ("context deadline exceeded"; timeout() is true).
extern const error deadline_exceeded;

// A key for with_value/value whose values are T. Compared by identity (its address), so
// give each key static storage duration; name is what string() shows.
template <class T>
class key {
 public:
  explicit constexpr key(const char* name = "key") noexcept : name_(name) {}
  key(const key&) = delete;
  key& operator=(const key&) = delete;
  const char* name() const noexcept { return name_; }

 private:
  const char* name_;
};

namespace detail {
struct cancel_node;
struct node;
void check_parent(const std::shared_ptr<const node>& parent);
// The shared part of every node: immutable after construction.
struct node {
  enum class kind : uint8_t { background, todo, cancel, timer, value, without_cancel };
  kind k;
  std::shared_ptr<const node> parent;
  cancel_node* canceller = nullptr;  // nearest cancellable node at or above, or null
  std::optional<time_point> deadline;
  const void* key = nullptr;         // value nodes
  const char* key_name = nullptr;
  explicit node(kind kk) : k(kk) {}
  virtual ~node() = default;
};
template <class T>
struct value_node final : node {
  T val;
  template <class U>
  explicit value_node(U&& v) : node(kind::value), val(std::forward<U>(v)) {}
};
void init_value_node(node* n, std::shared_ptr<const node> parent, const void* key,
                     const char* key_name);
}  // namespace detail

class context;
namespace detail {
// For tests: how many cancellable children (and after_func registrations) the nearest
// cancellable node at or above ctx holds.
size_t registered_children(const context& ctx);
}  // namespace detail

// Go: context.Context.
class context {
 public:
  context() noexcept = default;  // nil

  // Go: Done — closed when the context is cancelled; nil if it never can be.
  recv_chan<std::monostate> done() const;
  // Go: Err — nil while not cancelled, then canceled or deadline_exceeded.
  error err() const;
  // Go: Deadline — when the context will be cancelled by itself, if ever.
  std::optional<time_point> deadline() const;
  // Go: Value(key) — the value the nearest with_value for this key set, or null.
  template <class T>
  const T* value(const key<T>& k) const {
    for (const detail::node* n = n_.get(); n != nullptr; n = n->parent.get())
      if (n->key == &k) return &static_cast<const detail::value_node<T>*>(n)->val;
    return nullptr;
  }
  // Go: the String method, e.g. "context.Background.WithCancel".
  std::string string() const;

  explicit operator bool() const noexcept { return n_ != nullptr; }  // ctx != nil
  friend bool operator==(const context& a, const context& b) noexcept { return a.n_ == b.n_; }

  // Internal: the node this handle refers to.
  explicit context(std::shared_ptr<const detail::node> n) noexcept : n_(std::move(n)) {}
  const std::shared_ptr<const detail::node>& node() const noexcept { return n_; }

 private:
  std::shared_ptr<const detail::node> n_;
};

// Go: context.CancelFunc — cancel() cancels the context (idempotent); copies share it.
class cancel_func {
 public:
  cancel_func() noexcept = default;
  void operator()() const;

  // Internal: made by with_cancel and with_deadline.
  cancel_func(std::shared_ptr<detail::cancel_node> n, bool remove) noexcept
      : n_(std::move(n)), remove_(remove) {}

 private:
  std::shared_ptr<detail::cancel_node> n_;
  bool remove_ = true;
};

// Go: context.CancelCauseFunc — cancel(cause) cancels with canceled as err() and cause as
// cause() (err() when cause is nil).
class cancel_cause_func {
 public:
  cancel_cause_func() noexcept = default;
  void operator()(error cause) const;

  explicit cancel_cause_func(std::shared_ptr<detail::cancel_node> n) noexcept
      : n_(std::move(n)) {}

 private:
  std::shared_ptr<detail::cancel_node> n_;
};

// Go: Background, TODO — never cancelled, no values, no deadline.
context background();
context todo();

// Go: WithCancel.
std::pair<context, cancel_func> with_cancel(const context& parent);
// Go: WithCancelCause (1.20).
std::pair<context, cancel_cause_func> with_cancel_cause(const context& parent);
// Go: WithDeadline — cancelled at d at the latest (deadline_exceeded).
std::pair<context, cancel_func> with_deadline(const context& parent, time_point d);
// Go: WithTimeout — with_deadline(parent, now + timeout).
template <class Rep, class Period>
std::pair<context, cancel_func> with_timeout(const context& parent,
                                             std::chrono::duration<Rep, Period> timeout) {
  auto now = gort::time::now();
  auto d = std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  return with_deadline(parent, d > time_point::max() - now ? time_point::max() : now + d);
}
// Go: WithValue — a child that carries v for k.
template <class T, class U>
context with_value(const context& parent, const key<T>& k, U&& v) {
  detail::check_parent(parent.node());
  auto n = std::make_shared<detail::value_node<T>>(std::forward<U>(v));
  detail::init_value_node(n.get(), parent.node(), &k, k.name());
  return context(std::shared_ptr<const detail::node>(std::move(n)));
}
// Go: WithoutCancel (1.21) — parent's values, but never cancelled and no deadline.
context without_cancel(const context& parent);
// Go: AfterFunc (1.21) — once ctx is cancelled, runs f in its own goroutine (at once if it
// already is). The returned stop() unregisters f; it returns true if it kept f from being
// started, false if f was already started or stopped.
std::function<bool()> after_func(const context& ctx, std::function<void()> f);
// Go: Cause (1.20) — why ctx was cancelled: the cause given to its (or an ancestor's)
// cancel_cause_func, else err(); nil while not cancelled.
error cause(const context& ctx);

}  // namespace gort::context
