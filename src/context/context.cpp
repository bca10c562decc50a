// context: Go's context tree (context/context.go, 1.21 API) — see gort/context.hpp.
//
// Nodes are immutable after construction except a cancel_node's cancellation state, which
// its mu guards: err, cause, the done channel (created on first done(), or the shared
// closed channel if cancellation comes first; `done_ready` publishes it so later done()
// calls read it without the lock), and children. Every node caches the nearest cancellable
// node at or above it (`canceller`) and its deadline, so done/err/deadline cost no walk.
//
// The tree: a cancellable child registers in its nearest cancellable ancestor's children
// (Go: propagateCancel). Registrations hold the child weakly (a child that all handles
// dropped unregisters itself from its destructor; a parent cancelling at that moment skips
// it), except after_func records, which the parent holds strongly since nothing else
// does. Locks go parent before child only: a parent cancels its children under its own mu;
// a child removes itself from its parent only after releasing its own mu.
//
// Locks here are the runtime's short spin-then-futex locks, never held across a park:
// cancellation runs from timer goroutines and cancel funcs alike, and closing a channel
// under them only readies goroutines.
#include "gort/context.hpp"

#include <atomic>
#include <cstdio>
#include <unordered_map>

#include "gort/errors.hpp"
#include "gort/runtime.hpp"
#include "gort/time_chan.hpp"
#include "os/lock.hpp"

namespace gort::context {

namespace {
struct deadline_exceeded_error final : error_value {
  std::string message() const override { return "context deadline exceeded"; }
  bool timeout() const override { return true; }
  bool temporary() const override { return true; }
};
}  // namespace

const error canceled = errors::make("context canceled");
const error deadline_exceeded = error(std::make_shared<const deadline_exceeded_error>());

namespace detail {

// Something a cancellable node cancels with itself (Go: the canceler interface).
struct canceler {
  virtual void cancel(bool remove_from_parent, const error& err, const error& cause) = 0;
  virtual ~canceler() = default;
};

struct child_ref {
  std::weak_ptr<canceler> weak;    // child contexts
  std::shared_ptr<canceler> keep;  // after_func records
};

void remove_child(cancel_node* parent, canceler* child);

struct cancel_node : node, canceler {
  mutable os::rt_mutex mu;
  mutable std::atomic<bool> done_ready{false};
  mutable chan<std::monostate> done_ch;  // immutable once done_ready
  mutable error err, cause;              // mu
  mutable std::unordered_map<canceler*, child_ref> children;  // mu
  cancel_node* registered_with = nullptr;  // the ancestor holding us in its children

  explicit cancel_node(kind k) : node(k) {}
  ~cancel_node() override {
    if (registered_with != nullptr) remove_child(registered_with, this);
  }

  recv_chan<std::monostate> done() const;
  error get_err() const {
    os::rt_lock_guard lk(mu);
    return err;
  }
  // Go: cancelCtx.cancel.
  void cancel(bool remove_from_parent, const error& e, const error& c) override;
  // Sets err/cause and closes done; false if already cancelled. Children are cancelled
  // too. Does not touch the parent.
  bool cancel_self(const error& e, const error& c);
};

struct timer_node final : cancel_node {
  mutable std::optional<gort::time::timer> t;  // mu
  timer_node() : cancel_node(kind::timer) {}
  ~timer_node() override {
    // Dropped without being cancelled: stop the timer now rather than at the deadline.
    if (t) t->stop();
  }
  void cancel(bool remove_from_parent, const error& e, const error& c) override;
};

const chan<std::monostate>& closed_chan() {
  static const chan<std::monostate> c = [] {
    auto ch = make_chan<std::monostate>();
    ch.close();
    return ch;
  }();
  return c;
}

recv_chan<std::monostate> cancel_node::done() const {
  if (done_ready.load(std::memory_order_acquire)) return done_ch;
  os::rt_lock_guard lk(mu);
  if (!done_ready.load(std::memory_order_relaxed)) {
    done_ch = make_chan<std::monostate>();
    done_ready.store(true, std::memory_order_release);
  }
  return done_ch;
}

bool cancel_node::cancel_self(const error& e, const error& c) {
  std::unordered_map<canceler*, child_ref> kids;
  {
    os::rt_lock_guard lk(mu);
    if (err) return false;  // already cancelled
    err = e;
    cause = c ? c : e;
    if (done_ready.load(std::memory_order_relaxed)) {
      done_ch.close();
    } else {
      done_ch = closed_chan();
      done_ready.store(true, std::memory_order_release);
    }
    // Cancel the children while holding mu, as Go does, so a child registering now sees
    // us cancelled instead.
    for (auto& [child, ref] : children) {
      if (ref.keep) {
        ref.keep->cancel(false, e, cause);
      } else if (auto alive = ref.weak.lock()) {
        alive->cancel(false, e, cause);
      }
    }
    kids.swap(children);
  }
  return true;  // kids (and any after_func records) are released here, outside mu
}

void cancel_node::cancel(bool remove_from_parent, const error& e, const error& c) {
  if (!cancel_self(e, c)) return;
  // registered_with stays set: removing twice (here and in the destructor) is harmless.
  if (remove_from_parent && registered_with != nullptr) remove_child(registered_with, this);
}

void timer_node::cancel(bool remove_from_parent, const error& e, const error& c) {
  cancel_node::cancel(remove_from_parent, e, c);
  std::optional<gort::time::timer> stopped;
  {
    os::rt_lock_guard lk(mu);
    stopped.swap(t);
  }
  if (stopped) stopped->stop();
}

void remove_child(cancel_node* parent, canceler* child) {
  child_ref dropped;
  os::rt_lock_guard lk(parent->mu);
  auto it = parent->children.find(child);
  if (it == parent->children.end()) return;
  dropped = std::move(it->second);
  parent->children.erase(it);
}

void check_parent(const std::shared_ptr<const node>& parent) {
  if (!parent) gort::panic("cannot create context from nil parent");
}

void init_value_node(node* n, std::shared_ptr<const node> parent, const void* key,
                     const char* key_name) {
  n->canceller = parent->canceller;
  n->deadline = parent->deadline;
  n->key = key;
  n->key_name = key_name;
  n->parent = std::move(parent);
}

namespace {

// Go: propagateCancel — hooks child (whose cancel is `as`) under the nearest cancellable
// ancestor of parent; cancels it at once if that ancestor already is.
void propagate_cancel(const node& parent, canceler* as, child_ref ref,
                      cancel_node** registered_with) {
  cancel_node* p = parent.canceller;
  if (p == nullptr) return;  // never cancelled (Go: parent.Done() == nil)
  error perr, pcause;
  {
    os::rt_lock_guard lk(p->mu);
    if (!p->err) {
      p->children.emplace(as, std::move(ref));
      if (registered_with != nullptr) *registered_with = p;
      return;
    }
    perr = p->err;
    pcause = p->cause;
  }
  as->cancel(false, perr, pcause);
}

template <class Node>
std::shared_ptr<Node> new_cancel_node(const context& parent) {
  check_parent(parent.node());
  auto n = std::make_shared<Node>();
  n->parent = parent.node();
  n->canceller = n.get();
  n->deadline = parent.node()->deadline;
  return n;
}

void register_node(const std::shared_ptr<cancel_node>& n) {
  std::shared_ptr<canceler> as = n;
  propagate_cancel(*n->parent, as.get(), child_ref{as, nullptr}, &n->registered_with);
}

struct plain_cancel_node final : cancel_node {
  plain_cancel_node() : cancel_node(kind::cancel) {}
};

struct root_node final : node {
  explicit root_node(kind k) : node(k) {}
};

// Go: afterFuncCtx.
struct after_func_rec final : canceler {
  std::atomic<bool> settled{false};  // started or stopped (Go: its once)
  std::function<void()> f;
  cancel_node* registered_with = nullptr;
  void cancel(bool remove_from_parent, const error&, const error&) override {
    if (remove_from_parent && registered_with != nullptr) remove_child(registered_with, this);
    if (!settled.exchange(true, std::memory_order_acq_rel)) gort::go(std::move(f));
  }
};

std::string name_of(const node* n) {
  switch (n->k) {
    case node::kind::background: return "context.Background";
    case node::kind::todo: return "context.TODO";
    case node::kind::cancel: return name_of(n->parent.get()) + ".WithCancel";
    case node::kind::timer: {
      auto left = *n->deadline - gort::time::now();
      char buf[64];
      std::snprintf(buf, sizeof buf, ".WithDeadline([%.6fs])",
                    std::chrono::duration<double>(left).count());
      return name_of(n->parent.get()) + buf;
    }
    case node::kind::value:
      return name_of(n->parent.get()) + ".WithValue(" + n->key_name + ")";
    case node::kind::without_cancel: return name_of(n->parent.get()) + ".WithoutCancel";
  }
  return "context";
}

}  // namespace
}  // namespace detail

using detail::cancel_node;

recv_chan<std::monostate> context::done() const {
  if (!n_) gort::panic("runtime error: invalid memory address or nil pointer dereference");
  return n_->canceller != nullptr ? n_->canceller->done() : recv_chan<std::monostate>();
}

error context::err() const {
  if (!n_) gort::panic("runtime error: invalid memory address or nil pointer dereference");
  return n_->canceller != nullptr ? n_->canceller->get_err() : error();
}

std::optional<time_point> context::deadline() const {
  return n_ ? n_->deadline : std::nullopt;
}

std::string context::string() const { return n_ ? detail::name_of(n_.get()) : "<nil>"; }

context background() {
  static const auto n = std::make_shared<const detail::root_node>(detail::node::kind::background);
  return context(n);
}

context todo() {
  static const auto n = std::make_shared<const detail::root_node>(detail::node::kind::todo);
  return context(n);
}

std::pair<context, cancel_func> with_cancel(const context& parent) {
  auto n = detail::new_cancel_node<detail::plain_cancel_node>(parent);
  detail::register_node(n);
  return {context(n), [n] { n->cancel(true, canceled, nullptr); }};
}

std::pair<context, cancel_cause_func> with_cancel_cause(const context& parent) {
  auto n = detail::new_cancel_node<detail::plain_cancel_node>(parent);
  detail::register_node(n);
  return {context(n), [n](error cause) { n->cancel(true, canceled, cause); }};
}

std::pair<context, cancel_func> with_deadline(const context& parent, time_point d) {
  detail::check_parent(parent.node());
  if (auto cur = parent.deadline(); cur && *cur < d) return with_cancel(parent);
  auto n = detail::new_cancel_node<detail::timer_node>(parent);
  n->deadline = d;
  detail::register_node(n);
  auto left = d - gort::time::now();
  if (left <= decltype(left)::zero()) {
    n->cancel(true, deadline_exceeded, nullptr);
    return {context(n), [n] { n->cancel(false, canceled, nullptr); }};
  }
  {
    os::rt_lock_guard lk(n->mu);
    if (!n->err) {
      std::weak_ptr<detail::timer_node> w = n;
      n->t.emplace(gort::time::after_func(left, [w] {
        if (auto alive = w.lock()) alive->cancel(true, deadline_exceeded, nullptr);
      }));
    }
  }
  return {context(n), [n] { n->cancel(true, canceled, nullptr); }};
}

context without_cancel(const context& parent) {
  detail::check_parent(parent.node());
  auto n = std::make_shared<detail::root_node>(detail::node::kind::without_cancel);
  n->parent = parent.node();  // values still resolve through the parent
  return context(std::shared_ptr<const detail::node>(std::move(n)));
}

std::function<bool()> after_func(const context& ctx, std::function<void()> f) {
  detail::check_parent(ctx.node());
  auto rec = std::make_shared<detail::after_func_rec>();
  rec->f = std::move(f);
  detail::propagate_cancel(*ctx.node(), rec.get(), detail::child_ref{{}, rec},
                           &rec->registered_with);
  return [rec]() -> bool {
    if (rec->settled.exchange(true, std::memory_order_acq_rel)) return false;
    if (rec->registered_with != nullptr) detail::remove_child(rec->registered_with, rec.get());
    return true;
  };
}

size_t detail::registered_children(const context& ctx) {
  const detail::node* n = ctx.node().get();
  if (n == nullptr || n->canceller == nullptr) return 0;
  os::rt_lock_guard lk(n->canceller->mu);
  return n->canceller->children.size();
}

error cause(const context& ctx) {
  const detail::node* n = ctx.node().get();
  if (n == nullptr || n->canceller == nullptr) return nullptr;
  os::rt_lock_guard lk(n->canceller->mu);
  return n->canceller->cause;
}

}  // namespace gort::context
