// threads: which OS threads of the process are not the runtime's (for checkdead).
#pragma once

namespace gort::rt {

// Remembers the threads that exist before the runtime starts (sanitizer helpers and the
// like); they are never counted as possible wakers.
void record_baseline_threads();
// True if a thread exists that is neither an M, sysmon, nor a baseline thread.
// sched.lock held.
bool foreign_threads_exist();

}  // namespace gort::rt
