// gort/debug.hpp — runtime introspection and tuning (Go: runtime/debug, runtime.Stack).
//
//   std::string dump = gort::debug::goroutine_dump();  // every goroutine, Go's format
//   gort::debug::set_max_stack(1 << 20);               // 1 MiB stacks for new goroutines
//
// SIGQUIT prints the same dump to stderr and exits with status 2, as Go does.
#pragma once
#include <cstddef>
#include <string>

namespace gort::debug {

// Every goroutine's id, state, wait reason and frames (the caller's first); a snapshot
// taken while others run, as Go's runtime.Stack(all=true).
std::string goroutine_dump();
// Writes goroutine_dump() to stderr.
void dump_goroutines();

// Stack size for goroutines created from now on (gort stacks have a fixed size, reserved
// and committed lazily; default 128 KiB, or GORT_STACK_SIZE from the environment, e.g.
// "512k"). Returns the previous value. The main goroutine always gets 8 MiB.
size_t set_max_stack(size_t bytes);

}  // namespace gort::debug
