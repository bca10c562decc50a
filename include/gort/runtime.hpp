// gort/runtime.hpp — goroutines and the scheduler (Go: the `go` statement and package
// runtime).
//
//   #include <gort/gort.hpp>
//   int main() {
//     return gort::run([] {                      // the main goroutine; returns the exit code
//       gort::sync::wait_group wg;
//       for (int i = 0; i < 10; i++) {
//         wg.add(1);
//         gort::go([&wg, i] { std::printf("%d\n", i); wg.done(); });
//       }
//       wg.wait();
//       return 0;
//     });
//   }
//
// Semantics follow Go: goroutines are scheduled M:N on GOMAXPROCS processors with work
// stealing; when the main goroutine returns the program ends whatever the other goroutines
// are doing (gort::run returns its code once every thread has come to rest, or exits the
// process at once if one does not within 200 ms); an exception escaping any goroutine ends
// the program with `panic: ...` and exit status 2.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

#include "gort/errors.hpp"

namespace gort {
namespace rt {
struct g;
g* newproc_alloc(size_t size, size_t align, void** storage);
void newproc_start(g* gp, void (*entry)(void*), uintptr_t gopc);
void newproc_abort(g* gp);
int run_main(void (*entry)(void*), void* closure);
void set_exit_code(int code);
bool entersyscall(bool block);
void exitsyscall();
}  // namespace rt

namespace detail {
inline constexpr size_t kMaxInlineClosure = 1024;

template <class Tuple>
void invoke_closure(void* storage) {
  Tuple* t = static_cast<Tuple*>(storage);
  struct destroy {
    Tuple* t;
    ~destroy() { t->~Tuple(); }
  } d{t};
  std::apply([](auto& f, auto&... args) { std::invoke(std::move(f), std::move(args)...); }, *t);
}

template <class Tuple>
void invoke_boxed(void* storage) {
  std::unique_ptr<Tuple> t(*static_cast<Tuple**>(storage));
  std::apply([](auto& f, auto&... args) { std::invoke(std::move(f), std::move(args)...); }, *t);
}

struct syscall_scope {
  explicit syscall_scope(bool block) : entered(rt::entersyscall(block)) {}
  ~syscall_scope() {
    if (entered) rt::exitsyscall();
  }
  syscall_scope(const syscall_scope&) = delete;
  syscall_scope& operator=(const syscall_scope&) = delete;
  bool entered;
};
}  // namespace detail

// Runs f as the main goroutine of a new scheduler on the calling thread and returns its
// exit code (f may return int or void). One gort::run at a time per process; runs may
// follow one another.
//
// fork (Go has only fork+exec): a child forked between runs may call gort::run as the
// parent does. A child forked by a goroutine during a run keeps none of the parent's
// goroutines: it may exec, exit, make blocking calls, or return from the main goroutine
// (gort::run then returns in the child if main forked on the thread that called it, else
// the child exits with main's code); parking, yielding or starting goroutines there ends
// it with `fatal error: fork without exec: a forked child cannot schedule goroutines`.
//   if (pid_t pid = fork(); pid == 0) { execv(path, argv); _exit(127); }
template <class F>
int run(F&& f) {
  auto body = [&f] {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      std::invoke(f);
      rt::set_exit_code(0);
    } else {
      rt::set_exit_code(static_cast<int>(std::invoke(f)));
    }
  };
  using B = decltype(body);
  return rt::run_main([](void* p) { (*static_cast<B*>(p))(); }, &body);
}

namespace detail {
// Starts the goroutine; gopc is the return address that names its creator in tracebacks.
template <class F, class... Args>
void go_from(uintptr_t gopc, F&& f, Args&&... args) {
  using T = std::tuple<std::decay_t<F>, std::decay_t<Args>...>;
  void* storage;
  if constexpr (sizeof(T) <= kMaxInlineClosure && alignof(T) <= 64) {
    rt::g* gp = rt::newproc_alloc(sizeof(T), alignof(T), &storage);
    try {
      new (storage) T(std::forward<F>(f), std::forward<Args>(args)...);
    } catch (...) {
      rt::newproc_abort(gp);
      throw;
    }
    rt::newproc_start(gp, &invoke_closure<T>, gopc);
  } else {
    auto boxed = std::make_unique<T>(std::forward<F>(f), std::forward<Args>(args)...);
    rt::g* gp = rt::newproc_alloc(sizeof(T*), alignof(T*), &storage);
    *static_cast<T**>(storage) = boxed.release();
    rt::newproc_start(gp, &invoke_boxed<T>, gopc);
  }
}
}  // namespace detail

// Go's `go f(args...)`: starts a goroutine running f(args...). Arguments are copied (or
// moved) now, as Go evaluates them at the go statement. f and the arguments may be
// move-only. Throws gort::runtime_error when no gort::run is active.
// (Not inlined, so that its return address names the creator in tracebacks.)
template <class F, class... Args>
[[gnu::noinline]] void go(F&& f, Args&&... args) {
  detail::go_from(reinterpret_cast<uintptr_t>(__builtin_return_address(0)), std::forward<F>(f),
                  std::forward<Args>(args)...);
}

// runtime.Gosched: yields the processor; the goroutine goes to the global run queue.
// On a thread that is not a goroutine it yields the thread.
void yield();

// runtime.Goexit: runs the goroutine's pending destructors and defers, then ends it.
// Other goroutines are unaffected; Goexit on the main goroutine lets the program go on
// until the others finish (then `fatal error: no goroutines (main called
// runtime.Goexit) - deadlock!`). Throws gort::runtime_error outside a goroutine.
[[noreturn]] void goexit();

// runtime.NumGoroutine: the number of goroutines that exist (0 outside a gort::run).
int num_goroutine();

// runtime.GOMAXPROCS: sets the number of processors if n >= 1 and returns the previous
// setting. GOMAXPROCS in the environment sets the initial value; the default is the number
// of CPUs the process may run on. While a goroutine computes for more than 10 ms without
// a safe point (any runtime call), a stand-in processor runs what waits for it, so up to
// twice this many threads may run goroutines then (docs/preemption.md).
int gomaxprocs(int n);

// runtime.LockOSThread / UnlockOSThread: wires the calling goroutine to its OS thread (no
// other goroutine runs there) until as many unlocks as locks. A goroutine that exits while
// locked ends its thread, as in Go. No effect on threads that are not goroutines.
void lock_os_thread();
void unlock_os_thread();

// Calls f(), a call that may block in the OS or in C code, without stalling the
// goroutine's processor: other goroutines keep running, and sysmon hands the processor to
// another thread if f takes long (Go: entersyscall/exitsyscall). A call made without it
// keeps the processor: the goroutines waiting for it run only once a stand-in processor
// comes, 11-21 ms into the call (docs/preemption.md).
//   ssize_t n = gort::syscall([&] { return ::read(fd, buf, len); });
template <class F>
decltype(auto) syscall(F&& f) {
  detail::syscall_scope scope(false);
  return std::forward<F>(f)();
}

// Like syscall, for calls known to block for long: the processor is handed off at once
// (Go: entersyscallblock).
template <class F>
decltype(auto) blocking(F&& f) {
  detail::syscall_scope scope(true);
  return std::forward<F>(f)();
}

}  // namespace gort
