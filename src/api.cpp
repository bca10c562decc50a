// api: the public, non-template entry points of gort/runtime.hpp and gort/debug.hpp, each a
// thin shell over the scheduler (sched/).
#include <sched.h>

#include "gort/debug.hpp"
#include "gort/runtime.hpp"
#include "sched/sched.hpp"
#include "sched/stw.hpp"
#include "sched/traceback.hpp"

namespace gort {

void yield() {
  if (!rt::gosched()) sched_yield();  // not a goroutine: yield the thread
}

void goexit() {
  if (rt::current_g() == nullptr) throw runtime_error("gort::goexit called outside a goroutine");
  throw goexit_unwind{};
}

int num_goroutine() { return int(rt::goroutine_count()); }

int gomaxprocs(int n) { return rt::set_gomaxprocs(n); }

void lock_os_thread() {
  rt::m* mp = rt::current_m();
  rt::g* gp = rt::current_g();
  if (gp == nullptr) return;
  mp->locked_ext++;
  mp->lockedg = gp;
  gp->lockedm = mp;
}

void unlock_os_thread() {
  rt::m* mp = rt::current_m();
  rt::g* gp = rt::current_g();
  if (gp == nullptr || mp->locked_ext == 0) return;
  if (--mp->locked_ext == 0) {
    mp->lockedg = nullptr;
    gp->lockedm = nullptr;
  }
}

namespace rt {
void set_exit_code(int code) { sched.exit_code = code; }
}  // namespace rt

namespace debug {

std::string goroutine_dump() { return rt::format_all_goroutines(true); }

void dump_goroutines() { rt::print_all_goroutines(true); }

size_t set_max_stack(size_t bytes) {
  size_t prev = rt::get_stack_size();
  rt::set_stack_size(bytes);
  return prev;
}

}  // namespace debug
}  // namespace gort
