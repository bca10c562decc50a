// fatal: how the runtime dies (Go: throw, fatal, fatalpanic, printpanics). Every path prints
// Go's text to stderr and exits with status 2.
#pragma once
#include <exception>

#include "sched/runtime2.hpp"

namespace gort::rt {

// `fatal error: msg`, then the goroutine dump that GOTRACEBACK asks for, exit 2.
[[noreturn]] void fatal(const char* msg);
// The same with a preamble line (e.g. the "runtime: goroutine stack exceeds" line).
[[noreturn]] void fatal_with(const char* preamble, const char* msg);
// An exception escaped gp's function: `panic: <value>`, the trace, exit 2.
[[noreturn]] void fatal_panic(g* gp, std::exception_ptr e);
// An overflow of gp's stack was detected at sp.
[[noreturn]] void fatal_stack_overflow(g* gp, uintptr_t sp);

// GOTRACEBACK: 0 none, 1 single (default), 2 all, 3 system/crash.
int traceback_level();

}  // namespace gort::rt
