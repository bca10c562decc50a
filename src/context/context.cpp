// context: Go's context tree (context/context.go, 1.21 API) — see gort/context.hpp.
//
// Nodes are immutable after construction except a cancel_node's cancellation state, which
// its mu guards: err, cause, the done channel (created on first done(), or the shared
// closed channel if cancellation comes first; `done_ready` publishes it so later done()
// calls read it without the lock), and its registered children. Every node caches the
// nearest cancellable node at or above it (`canceller`) and its deadline, so
// done/err/deadline cost no walk.
//
// The tree: a cancellable child registers in its nearest cancellable ancestor (Go:
// propagateCancel), on an intrusive list through the child's sibling links, so registering
// allocates nothing. The list does not own the child: a child that all handles dropped
// unlinks itself in its destructor, and a parent cancelling at that moment skips it (its
// weak_from_this() no longer locks). after_func records are held strongly in a vector,
// since nothing else holds them. Locks go parent before child only: a parent cancels its children under its own mu;
// a child removes itself from its parent only after releasing its own mu.
//
// Locks here are the runtime's short spin-then-futex locks, never held across a park or a
// safe point (a call that may yield to sysmon's preemption request): cancellation runs from
// timer goroutines and cancel funcs alike, and closing a channel under them only readies
// goroutines. So after_func goroutines start only once every lock is released: a cancel
// collects them (pending_starts) down the whole subtree and starts them last, since
// gort::go is a safe point and a goroutine preempted there with a node's mu held would
// block every thread that takes it, with GOMAXPROCS 1 the only one.
#include "gort/context.hpp"

#include <atomic>
#include <cstdio>
#include <vector>

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

struct after_func_rec;
void remove_child(cancel_node* parent, cancel_node* child);
// after_func records a cancellation settled, to start once no lock is held.
using pending_starts = std::vector<std::shared_ptr<after_func_rec>>;

struct cancel_node : node, canceler, std::enable_shared_from_this<cancel_node> {
  mutable os::rt_mutex mu;
  mutable std::atomic<bool> done_ready{false};
  mutable chan<std::monostate> done_ch;  // immutable once done_ready
  mutable error err;                     // mu
  mutable error cause;                   // mu; nil when the cause is err itself
  // Registered children: an intrusive list through their sibling links (mu), and the
  // after_func records, held strongly (mu).
  cancel_node* kids = nullptr;
  std::vector<std::shared_ptr<after_func_rec>> after_funcs;
  // Our place in registered_with's list; written under registered_with->mu only.
  cancel_node* registered_with = nullptr;  // set once, at registration
  cancel_node* sib_prev = nullptr;
  cancel_node* sib_next = nullptr;
  std::atomic<bool> linked{false};  // written under registered_with->mu

  explicit cancel_node(kind k) : node(k) {}
  ~cancel_node() override {
    if (registered_with != nullptr) remove_child(registered_with, this);
  }

  recv_chan<std::monostate> done() const;
  error get_err() const {
    os::rt_lock_guard lk(mu);
    return err;
  }
  // Go: cancelCtx.cancel: cancel_collect, then starts the after_func goroutines.
  void cancel(bool remove_from_parent, const error& e, const error& c) final;
  // The cancellation itself, adding the after_funcs of this subtree to `starts`.
  virtual void cancel_collect(bool remove_from_parent, const error& e, const error& c,
                              pending_starts& starts);
  // Sets err/cause and closes done; false if already cancelled. Children are cancelled
  // too. Does not touch the parent.
  bool cancel_self(const error& e, const error& c, pending_starts& starts);
};

// Go: afterFuncCtx.
struct after_func_rec final : canceler {
  std::atomic<bool> settled{false};  // started or stopped (Go: its once)
  std::function<void()> f;
  cancel_node* registered_with = nullptr;
  void cancel(bool remove_from_parent, const error&, const error&) override;
  // Runs f in a goroutine of its own unless stop() settled it first. No lock held: gort::go
  // is a safe point.
  void start();
};

struct timer_node final : cancel_node {
  mutable std::optional<gort::time::timer> t;  // mu
  timer_node() : cancel_node(kind::timer) {}
  ~timer_node() override {
    // Dropped without being cancelled: stop the timer now rather than at the deadline.
    if (t) t->stop();
  }
  void cancel_collect(bool remove_from_parent, const error& e, const error& c,
                      pending_starts& starts) override;
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
    // Cancelled before anyone asked: the shared closed channel (Go: closedchan).
    done_ch = err ? closed_chan() : make_chan<std::monostate>();
    done_ready.store(true, std::memory_order_release);
  }
  return done_ch;
}

bool cancel_node::cancel_self(const error& e, const error& c, pending_starts& starts) {
  // References taken while cancelling children are dropped only after mu is released: the
  // last one would run a child's destructor, which takes mu to unlink itself.
  std::vector<std::shared_ptr<cancel_node>> alive;
  {
    os::rt_lock_guard lk(mu);
    if (err) return false;  // already cancelled
    err = e;
    if (c && c != e) cause = c;
    // A done channel nobody asked for yet is made (already closed) by done() later.
    if (done_ready.load(std::memory_order_relaxed)) done_ch.close();
    // Cancel the children while holding mu, as Go does, so a child registering now sees
    // us cancelled instead. A child whose last handle is going (lock() fails) is skipped:
    // its destructor is waiting for mu to unlink it.
    // Once `linked` is false a dying child no longer waits for mu and may be freed at
    // once: read what we need from it first.
    for (cancel_node* k = kids; k != nullptr;) {
      cancel_node* next = k->sib_next;
      std::shared_ptr<cancel_node> a = k->weak_from_this().lock();
      k->linked.store(false, std::memory_order_release);
      if (a) {
        a->cancel_collect(false, e, c, starts);
        alive.push_back(std::move(a));
      }
      k = next;
    }
    kids = nullptr;
    for (auto& f : after_funcs) starts.push_back(std::move(f));
    after_funcs.clear();
  }
  return true;
}

void cancel_node::cancel(bool remove_from_parent, const error& e, const error& c) {
  pending_starts starts;
  cancel_collect(remove_from_parent, e, c, starts);
  for (auto& f : starts) f->start();
}

void cancel_node::cancel_collect(bool remove_from_parent, const error& e, const error& c,
                                 pending_starts& starts) {
  if (!cancel_self(e, c, starts)) return;
  // registered_with stays set: removing twice (here and in the destructor) is harmless.
  if (remove_from_parent && registered_with != nullptr) remove_child(registered_with, this);
}

void timer_node::cancel_collect(bool remove_from_parent, const error& e, const error& c,
                                pending_starts& starts) {
  cancel_node::cancel_collect(remove_from_parent, e, c, starts);
  std::optional<gort::time::timer> stopped;
  {
    os::rt_lock_guard lk(mu);
    stopped.swap(t);
  }
  if (stopped) stopped->stop();
}

void remove_child(cancel_node* parent, cancel_node* child) {
  // Unlinked already (by our own cancel, or by the parent's): no lock needed. Only the
  // parent's side clears `linked` while we look, and then the answer is the same.
  if (!child->linked.load(std::memory_order_acquire)) return;
  os::rt_lock_guard lk(parent->mu);
  if (!child->linked.load(std::memory_order_relaxed)) return;
  if (child->sib_prev != nullptr)
    child->sib_prev->sib_next = child->sib_next;
  else
    parent->kids = child->sib_next;
  if (child->sib_next != nullptr) child->sib_next->sib_prev = child->sib_prev;
  child->sib_prev = child->sib_next = nullptr;
  child->linked.store(false, std::memory_order_release);
}

void remove_after_func(cancel_node* parent, after_func_rec* rec) {
  std::shared_ptr<after_func_rec> dropped;  // released after the lock
  os::rt_lock_guard lk(parent->mu);
  for (auto& f : parent->after_funcs) {
    if (f.get() != rec) continue;
    dropped = std::move(f);
    f = std::move(parent->after_funcs.back());
    parent->after_funcs.pop_back();
    return;
  }
}

void after_func_rec::cancel(bool remove_from_parent, const error&, const error&) {
  if (remove_from_parent && registered_with != nullptr) remove_after_func(registered_with, this);
  start();
}

void after_func_rec::start() {
  if (!settled.exchange(true, std::memory_order_acq_rel)) gort::go(std::move(f));
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

// Go: propagateCancel — puts a child under the nearest cancellable ancestor of parent
// (add runs under that ancestor's mu), or cancels it at once if that ancestor already is.
template <class Add>
void propagate_cancel(const node& parent, canceler* child, Add add) {
  cancel_node* p = parent.canceller;
  if (p == nullptr) return;  // never cancelled (Go: parent.Done() == nil)
  error perr, pcause;
  {
    os::rt_lock_guard lk(p->mu);
    if (!p->err) {
      add(p);
      return;
    }
    perr = p->err;
    pcause = p->cause;
  }
  child->cancel(false, perr, pcause);
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

void register_node(cancel_node* n) {
  propagate_cancel(*n->parent, n, [n](cancel_node* p) {
    n->registered_with = p;
    n->sib_next = p->kids;
    if (p->kids != nullptr) p->kids->sib_prev = n;
    p->kids = n;
    n->linked.store(true, std::memory_order_relaxed);
  });
}

struct plain_cancel_node final : cancel_node {
  plain_cancel_node() : cancel_node(kind::cancel) {}
};

struct root_node final : node {
  explicit root_node(kind k) : node(k) {}
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

void cancel_func::operator()() const {
  if (n_) n_->cancel(remove_, canceled, nullptr);
}

void cancel_cause_func::operator()(error cause) const {
  if (n_) n_->cancel(true, canceled, cause);
}

std::pair<context, cancel_func> with_cancel(const context& parent) {
  auto n = detail::new_cancel_node<detail::plain_cancel_node>(parent);
  detail::register_node(n.get());
  return {context(n), cancel_func(n, true)};
}

std::pair<context, cancel_cause_func> with_cancel_cause(const context& parent) {
  auto n = detail::new_cancel_node<detail::plain_cancel_node>(parent);
  detail::register_node(n.get());
  return {context(n), cancel_cause_func(n)};
}

std::pair<context, cancel_func> with_deadline(const context& parent, time_point d) {
  detail::check_parent(parent.node());
  if (auto cur = parent.deadline(); cur && *cur < d) return with_cancel(parent);
  auto n = detail::new_cancel_node<detail::timer_node>(parent);
  n->deadline = d;
  detail::register_node(n.get());
  auto left = d - gort::time::now();
  if (left <= decltype(left)::zero()) {
    n->cancel(true, deadline_exceeded, nullptr);
    return {context(n), cancel_func(n, false)};
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
  return {context(n), cancel_func(n, true)};
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
  detail::propagate_cancel(*ctx.node(), rec.get(), [&rec](detail::cancel_node* p) {
    rec->registered_with = p;
    p->after_funcs.push_back(rec);
  });
  return [rec]() -> bool {
    if (rec->settled.exchange(true, std::memory_order_acq_rel)) return false;
    if (rec->registered_with != nullptr) detail::remove_after_func(rec->registered_with, rec.get());
    return true;
  };
}

size_t detail::registered_children(const context& ctx) {
  const detail::node* n = ctx.node().get();
  if (n == nullptr || n->canceller == nullptr) return 0;
  os::rt_lock_guard lk(n->canceller->mu);
  size_t count = n->canceller->after_funcs.size();
  for (const cancel_node* k = n->canceller->kids; k != nullptr; k = k->sib_next) count++;
  return count;
}

error cause(const context& ctx) {
  const detail::node* n = ctx.node().get();
  if (n == nullptr || n->canceller == nullptr) return nullptr;
  os::rt_lock_guard lk(n->canceller->mu);
  return n->canceller->cause ? n->canceller->cause : n->canceller->err;
}

}  // namespace gort::context
