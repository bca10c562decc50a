// gort/select.hpp — Go's select statement.
//
//   int n = gort::select(
//       gort::case_recv(jobs, [&](job j) { run(std::move(j)); }),      // case j := <-jobs:
//       gort::case_recv(results, [&](int v, bool ok) { ... }),         // case v, ok := <-results:
//       gort::case_send(out, next, [&] { sent++; }),                   // case out <- next:
//       gort::case_recv(gort::time::after(1s), [&] { timed_out = true; }),
//       gort::case_default([&] { idle(); }));                          // default:
//   // n: the position (0-based, among the arguments) of the case that ran.
//
// select blocks until one of its cases can proceed, performs that one operation, runs its
// callback, and returns the case's position. If several are ready, one is chosen uniformly
// at random (Go's fairness). With a case_default, select never blocks: the default runs
// when no case is ready. A case on a nil channel never fires. gort::select() with no cases
// blocks forever (Go's `select {}`, wait reason "select (no cases)"). A send case on a
// closed channel panics with "send on closed channel" when it is chosen.
//
// Cases:
//   case_recv(c, f)     c is a chan<T> or recv_chan<T>; f is called as f(), f(v) or
//                       f(v, ok) — whichever it accepts, tried in the order f(v, ok), f(v),
//                       f(). Once c is closed and drained, v is T{} and ok false (so the
//                       value forms need a default-constructible T). f may be left out.
//   case_send(c, v, f)  c is a chan<T> or send_chan<T>; f() runs after v was sent. An
//                       lvalue v is copied into the case when select starts (Go evaluates
//                       the value first); an rvalue (std::move(x), a temporary) is moved
//                       from only if this case is the one that sends.
//   case_default(f)     runs f() when no other case is ready.
// Build the cases inside the select call: a case refers to its channel and its rvalue
// argument, which live until the end of the full expression.
//
// The runtime is Go's selectgo: cases are polled in a random order, the channels are locked
// in address order (each once, even when several cases use it), and a blocked select parks
// with one waiter (sudog) queued on every channel; the first operation to complete wins and
// the other waiters are dequeued. As in Go's compiler, a select with a single case (plus
// maybe a default) is a plain channel operation. From a plain thread, a blocking select
// blocks the thread.
#pragma once
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "gort/chan.hpp"

namespace gort {

namespace rt {
// One case of a select (Go: runtime.scase). elem: the value to send (moved from only when
// sent), or uninitialised storage for the value received (null: discard it).
struct scase {
  hchan* c;
  void* elem;
  bool send;
};
// Go's selectgo: returns the index of the case that completed, or -1 when block is false
// and none could. *recv_ok: for a receive, whether a value was received (false: closed).
int selectgo(scase* cases, int ncases, bool block, bool* recv_ok);
// select {}: blocks forever (wait reason "select (no cases)").
[[noreturn]] void block_forever();
}  // namespace rt

namespace detail {

template <class C>
concept receivable_chan = std::same_as<C, chan<typename C::value_type>> ||
                          std::same_as<C, recv_chan<typename C::value_type>>;
template <class C>
concept sendable_chan = std::same_as<C, chan<typename C::value_type>> ||
                        std::same_as<C, send_chan<typename C::value_type>>;

struct no_callback {
  void operator()() const noexcept {}
};

// 2: f(v, ok), 1: f(v), 0: f(), -1: none.
template <class T, class F>
constexpr int recv_form() {
  if constexpr (std::is_invocable_v<F&, T&&, bool>)
    return 2;
  else if constexpr (std::is_invocable_v<F&, T&&>)
    return 1;
  else if constexpr (std::is_invocable_v<F&>)
    return 0;
  else
    return -1;
}

template <class T, class F>
struct recv_case {
  static constexpr bool is_default = false;
  static constexpr int form = recv_form<T, F>();
  static_assert(form >= 0, "gort::case_recv: the callback must be callable as f(v, ok), f(v) or f()");
  static_assert(form == 0 || std::default_initializable<T>,
                "gort::case_recv: f(v) and f(v, ok) need a default-constructible T (the zero "
                "value received after close); take f() or use a chan<std::optional<T>>");

  rt::hchan* c;
  F f;
  struct empty {};
  [[no_unique_address]] std::conditional_t<form == 0, empty, recv_slot<T>> slot;

  rt::scase scase() {
    if constexpr (form == 0)
      return {c, nullptr, false};
    else
      return {c, slot.ptr(), false};
  }
  void fire(bool ok) {
    if constexpr (form == 0) {
      (void)ok;
      f();
    } else {
      T v = ok ? slot.take() : T{};
      if constexpr (form == 2)
        f(std::move(v), ok);
      else
        f(std::move(v));
    }
  }
};

template <class T, class F, bool Owns>
struct send_case {
  static constexpr bool is_default = false;
  static_assert(std::is_invocable_v<F&>, "gort::case_send: the callback must be callable as f()");
  rt::hchan* c;
  F f;
  std::conditional_t<Owns, T, T*> v;  // a copy, or the caller's rvalue

  rt::scase scase() {
    if constexpr (Owns)
      return {c, std::addressof(v), true};
    else
      return {c, v, true};
  }
  void fire(bool) { f(); }
};

template <class F>
struct default_case {
  static constexpr bool is_default = true;
  static_assert(std::is_invocable_v<F&>, "gort::case_default: the callback must be callable as f()");
  F f;
  void fire() { f(); }
};

}  // namespace detail

// case v := <-c: / case v, ok := <-c: / case <-c:
template <class C, class F = detail::no_callback>
  requires detail::receivable_chan<C>
auto case_recv(const C& c, F f = {}) {
  return detail::recv_case<typename C::value_type, F>{c.raw(), std::move(f), {}};
}

// case c <- v:
template <class C, class V, class F = detail::no_callback>
  requires detail::sendable_chan<C> && std::constructible_from<typename C::value_type, V&&>
auto case_send(const C& c, V&& v, F f = {}) {
  using T = typename C::value_type;
  if constexpr (std::is_same_v<V, T>)  // an rvalue T: refer to it
    return detail::send_case<T, F, false>{c.raw(), std::move(f), std::addressof(v)};
  else
    return detail::send_case<T, F, true>{c.raw(), std::move(f), T(std::forward<V>(v))};
}

// default:
template <class F = detail::no_callback>
auto case_default(F f = {}) {
  return detail::default_case<F>{std::move(f)};
}

// The select statement; returns the position of the case that ran (see the header comment).
template <class... Cases>
int select(Cases&&... cases) {
  constexpr int ndefault = (0 + ... + int(std::remove_cvref_t<Cases>::is_default));
  static_assert(ndefault <= 1, "gort::select: at most one case_default");
  constexpr int n = int(sizeof...(Cases)) - ndefault;
  static_assert(n <= 65536, "gort::select: at most 65536 cases");
  if constexpr (sizeof...(Cases) == 0) {
    rt::block_forever();
  } else {
    constexpr bool block = ndefault == 0;
    rt::scase sc[n > 0 ? n : 1];
    int k = 0;
    auto fill = [&](auto& cs) {
      if constexpr (!std::remove_cvref_t<decltype(cs)>::is_default) sc[k++] = cs.scase();
    };
    (fill(cases), ...);
    bool ok = false;
    int chosen;
    if constexpr (n == 0) {
      chosen = -1;
    } else if constexpr (n == 1) {
      // Lowered to a plain operation, as Go's compiler does.
      if (sc[0].send)
        chosen = rt::chansend(sc[0].c, sc[0].elem, block) ? 0 : -1;
      else
        chosen = rt::chanrecv(sc[0].c, sc[0].elem, block, &ok) ? 0 : -1;
    } else {
      chosen = rt::selectgo(sc, n, block, &ok);
    }
    int result = -1, pos = 0;
    k = 0;
    auto fire = [&](auto& cs) {
      if constexpr (std::remove_cvref_t<decltype(cs)>::is_default) {
        if (chosen < 0) {
          result = pos;
          cs.fire();
        }
      } else {
        if (k++ == chosen) {
          result = pos;
          cs.fire(ok);
        }
      }
      pos++;
    };
    (fire(cases), ...);
    return result;
  }
}

}  // namespace gort
