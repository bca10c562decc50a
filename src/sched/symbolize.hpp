// symbolize: turns a code address into "function" and "file:line +0xoffset" for tracebacks.
// Uses elfutils' libdw (symbol tables and DWARF line info) when gort was built with it, and
// dladdr (exported symbols only, "module +0xoffset") otherwise. Not async-signal-safe; used
// on fatal paths and for goroutine dumps only. Thread-safe; a forked child makes its own
// libdw handle (the parent's may have been in use by a thread that did not come along).
#pragma once
#include <cstdint>
#include <string>

namespace gort::rt {

struct symbol {
  std::string function;  // demangled name, or "?"
  std::string location;  // "file:line +0xoff" or "module +0xoff"
};

// pc is a return address (the lookup uses pc-1, inside the call instruction).
symbol symbolize(uintptr_t pc);

}  // namespace gort::rt
