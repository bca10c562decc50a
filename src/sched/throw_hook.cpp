// throw_hook: records the throw site of exceptions thrown on a goroutine (see panic.cpp),
// by interposing __cxa_throw and forwarding to the C++ runtime's own. The compiler declares
// __cxa_throw implicitly with void* arguments, hence the signature.
#include <dlfcn.h>
#include <stdlib.h>

#include <typeinfo>

#include "gort/errors.hpp"
#include "sched/runtime2.hpp"
#include "sched/sched.hpp"
#include "sched/traceback.hpp"

// gort's link options name this symbol (-u) so that this archive member is always linked:
// otherwise a sanitizer runtime that also defines __cxa_throw satisfies the reference first
// and the hook is silently left out.
extern "C" const char gort_throw_hook_linked = 1;

// Records the throw site of exceptions thrown on a goroutine, then throws as usual.
// Frame-pointer walk only: cheap enough for code that throws often.
extern "C" [[noreturn]] void __cxa_throw(void* obj, void* tinfo, void (*dest)(void*)) {
  using throw_fn = void (*)(void*, void*, void (*)(void*));
  static throw_fn real = reinterpret_cast<throw_fn>(dlsym(RTLD_NEXT, "__cxa_throw"));
  using namespace gort::rt;
  if (m* mp = current_m()) {
    g* gp = mp->curg.load(std::memory_order_relaxed);
    if (gp != nullptr && *static_cast<std::type_info*>(tinfo) != typeid(gort::goexit_unwind)) {
      auto fp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
      if (gp->throw_trace == nullptr) gp->throw_trace = new void*[g::kThrowTraceMax];
      gp->throw_trace[0] = __builtin_return_address(0);
      gp->throw_depth =
          1 + walk_frames(*reinterpret_cast<uintptr_t*>(fp), fp, gp->stk.hi, gp->throw_trace + 1,
                          g::kThrowTraceMax - 1);
    }
  }
  if (real == nullptr) abort();
  real(obj, tinfo, dest);
  __builtin_unreachable();
}
