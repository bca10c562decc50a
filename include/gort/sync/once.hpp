// gort/sync/once.hpp — run something exactly once (Go: sync.Once, OnceFunc, OnceValue).
//
//   static gort::sync::once init_once;
//   init_once.call([] { load_config(); });     // once.Do(loadConfig); `do` is a C++ keyword
//
//   auto get_config = gort::sync::once_value([] { return load_config(); });
//   const Config& c = get_config();            // loads on the first call only
//
// once::call runs f in the first caller; every other caller (in any goroutine or thread)
// waits until f has returned, then returns without running it. As in Go, f counts as done
// even if it panics (throws): later calls do not run it again. Calling call from inside f
// on the same once deadlocks, as in Go.
//
// once_func(f) and once_value(f) (Go 1.21) return callables that run f on their first call
// only. If f panics, every call re-throws the same exception; once_value's callable returns
// a reference to the value f returned. The returned callables are copyable and share state.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "gort/sync/mutex.hpp"

namespace gort::sync {

class once {
 public:
  constexpr once() noexcept = default;
  once(const once&) = delete;
  once& operator=(const once&) = delete;

  // Go: Do.
  template <class F>
  void call(F&& f) {
    if (done_.load(std::memory_order_acquire) != 0) return;  // the fast path, inlined
    call_slow(std::forward<F>(f));
  }
  // Whether f has run (or is known to have finished running).
  bool done() const noexcept { return done_.load(std::memory_order_acquire) != 0; }

 private:
  template <class F>
  void call_slow(F&& f) {
    std::lock_guard lk(m_);
    if (done_.load(std::memory_order_relaxed) != 0) return;
    struct mark_done {  // after f returns or throws, as Go's `defer o.done.Store(1)`
      std::atomic<uint32_t>& d;
      ~mark_done() { d.store(1, std::memory_order_release); }
    } guard{done_};
    std::forward<F>(f)();
  }

  std::atomic<uint32_t> done_{0};
  mutex m_;
};

// Go 1.21: sync.OnceFunc.
template <class F>
auto once_func(F f) {
  struct state {
    once o;
    F fn;
    std::exception_ptr panic;
    explicit state(F&& g) : fn(std::move(g)) {}
  };
  auto s = std::make_shared<state>(std::move(f));
  return [s] {
    s->o.call([&] {
      try {
        s->fn();
      } catch (...) {
        s->panic = std::current_exception();
      }
    });
    if (s->panic) std::rethrow_exception(s->panic);
  };
}

// Go 1.21: sync.OnceValue. The callable returns const T&, valid while any copy of it lives.
template <class F>
auto once_value(F f) {
  using T = std::decay_t<std::invoke_result_t<F&>>;
  struct state {
    once o;
    F fn;
    std::optional<T> value;
    std::exception_ptr panic;
    explicit state(F&& g) : fn(std::move(g)) {}
  };
  auto s = std::make_shared<state>(std::move(f));
  return [s]() -> const T& {
    s->o.call([&] {
      try {
        s->value.emplace(s->fn());
      } catch (...) {
        s->panic = std::current_exception();
      }
    });
    if (s->panic) std::rethrow_exception(s->panic);
    return *s->value;
  };
}

}  // namespace gort::sync
