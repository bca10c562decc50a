// shutdown: the end of a gort::run (run.cpp). When the main goroutine returns, the program
// ends whatever other goroutines are doing, as in Go: every M stops at its next scheduling
// point, m0 (the thread that called gort::run) waits until all others are idle, drops the
// goroutines left behind, resets the scheduler for a later gort::run and returns. If some
// M does not come to rest within kExitGrace (a goroutine computing without runtime calls,
// or stuck in a blocking call), the process exits with the code at once, as Go would.
#pragma once
#include "sched/runtime2.hpp"

namespace gort::rt {

inline constexpr int64_t kExitGraceNs = 200'000'000;

// Called on the main goroutine when it returns: starts the shutdown.
void request_exit();
// Called by an M that sees the shutdown at a scheduling point. Returns true when the M is
// m0 and the run is over (leave the scheduler loop).
bool exit_m(m* mp);

}  // namespace gort::rt
