// signals: the runtime's signal handlers (Go: signal_unix.go). SIGSEGV/SIGBUS on a
// goroutine's guard page become `fatal error: stack overflow`. Any other fault (SIGSEGV,
// SIGBUS, SIGFPE) on a runtime thread goes to the handler that was installed before gort's
// if there was one (a sanitizer's, the program's own), else gets Go's report (fatal.hpp:
// fatal_signal) and exit status 2; on other threads it goes to the previous handler or the
// default action. SIGQUIT prints the goroutine dump and exits 2, as Go does. Each M runs
// handlers on its own alternate stack.
#pragma once
#include "sched/runtime2.hpp"

namespace gort::rt {

void install_signal_handlers();
void install_altstack(m* mp);
void remove_altstack(m* mp);

}  // namespace gort::rt
