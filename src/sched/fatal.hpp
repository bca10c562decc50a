// fatal: how the runtime dies (Go: throw, fatal, fatalpanic, printpanics). Every path prints
// Go's text to stderr and exits with status 2.
#pragma once
#include <signal.h>

#include <exception>

#include "sched/runtime2.hpp"

namespace gort::rt {

// `fatal error: msg`, then the goroutine dump that GOTRACEBACK asks for, exit 2.
[[noreturn]] void fatal(const char* msg);
// The same with a preamble line (e.g. the "runtime: goroutine stack exceeds" line) and a
// postscript line after the message (e.g. the "[signal ...]" line); either may be null.
[[noreturn]] void fatal_with(const char* preamble, const char* msg, const char* postscript = nullptr);
// An exception escaped gp's function: `panic: <value>`, the trace, exit 2.
[[noreturn]] void fatal_panic(g* gp, std::exception_ptr e);
// An overflow of gp's stack was detected at sp.
[[noreturn]] void fatal_stack_overflow(g* gp, uintptr_t sp);
// A fault the kernel raised (SIGSEGV, SIGBUS, SIGFPE) at pc, in goroutine gp's code (null:
// in the runtime's own, on g0). Go's sigpanic text: `panic: runtime error: invalid memory
// address or nil pointer dereference` (a fault below address 0x1000), `... integer divide
// by zero` and the like, else `unexpected fault address` and `fatal error: fault`; then
// `[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x...]` and the trace. The
// panic cannot be recovered (no C++ exception can leave a signal handler), so no
// destructor runs: the process exits with status 2 at once.
[[noreturn]] void fatal_signal(g* gp, int sig, const siginfo_t* info, uintptr_t pc);

// Claims the printing of the process's death (Go: startpanic_m): the first caller goes on
// and ends the process; any later one, on another thread, waits for that exit.
void start_dying();
// Whether a death is being printed (start_dying was called) or a SIGQUIT dump is pending.
// The main goroutine does not return then (Go's runtime.main parks while `panicking`), so
// that the process ends with the death's status and output, not with main's exit code.
bool process_dying();

// GOTRACEBACK: 0 none, 1 single (default), 2 all, 3 system/crash.
int traceback_level();

}  // namespace gort::rt
