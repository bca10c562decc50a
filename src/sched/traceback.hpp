// traceback: goroutine dumps in Go's format (Go: traceback.go).
//
//   goroutine 7 [chan receive, 2 minutes, locked to thread]:
//   some::function(...)
//   	/path/to/binary +0x1d2
//   created by other::function
//   	/path/to/binary +0x88
//
// A parked goroutine's frames come from walking frame pointers from its saved context
// (gort builds with -fno-omit-frame-pointer and exports that flag to its users). The
// running goroutine's come from the unwinder. Goroutines running on other threads print
// "goroutine running on other thread; stack unavailable", as Go's do. Runtime frames
// (gort::rt::*) are hidden unless GOTRACEBACK=system.
#pragma once
#include <string>

#include "sched/runtime2.hpp"

namespace gort::rt {

// Appends gp's header and frames; for the calling goroutine pass its frames in cur_pcs
// (captured on its own thread), else null.
void format_goroutine(std::string& out, g* gp, void* const* cur_pcs, int cur_n);
// "created by <function>" and its location, for a goroutine started at gopc (none for 0).
void format_created_by(std::string& out, uintptr_t gopc);
// Captures the calling thread's return addresses.
int capture_frames(void** pcs, int max);
// Runs f on a stack big enough for symbolisation (libdw needs ~150 KiB): inline on g0, on
// the signal stack or a plain thread; on a helper thread when called on a goroutine.
void with_big_stack(void (*fn)(void*), void* arg);
template <class F>
void with_big_stack(F&& f) {
  with_big_stack([](void* p) { (*static_cast<F*>(p))(); }, &f);
}
// Frames from a list of return addresses (e.g. a backtrace captured at a throw).
void format_frames(std::string& out, void* const* pcs, int n, bool skip_runtime);
// Every goroutine; the caller's first. `other_running_only`: skip the caller's.
std::string format_all_goroutines(bool include_current);
// Writes format_all_goroutines(true) to stderr with write(2).
void print_all_goroutines(bool include_current);
// Walks frame pointers starting at fp within [lo, hi); returns the count of return addresses.
int walk_frames(uintptr_t fp, uintptr_t lo, uintptr_t hi, void** pcs, int max);

}  // namespace gort::rt
